package chart

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	yamlv3 "gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const (
	chartReadme = chartDir + "/README.md"
	valuesFile  = chartDir + "/values.yaml"
	// originalReadme is the README of the original chart: its values tables
	// are the compatibility contract of this chart.
	originalReadme = "testdata/original-chart-readme.md"
)

// row is one line of a helm-docs values table.
type row struct {
	key, typ, def, description string
}

var rowRE = regexp.MustCompile(`^\| (\S+) \| (\S+) \| (.*?) \| (.*) \|$`)

// valueRows reads the values tables of a helm-docs README.
func valueRows(t *testing.T, path string) map[string]row {
	t.Helper()
	data := readFile(t, path)
	rows := map[string]row{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		m := rowRE.FindStringSubmatch(sc.Text())
		if m == nil || m[1] == "Key" {
			continue
		}
		if _, dup := rows[m[1]]; dup {
			t.Errorf("%s: %s documented twice", path, m[1])
		}
		rows[m[1]] = row{key: m[1], typ: m[2], def: m[3], description: m[4]}
	}
	return rows
}

// chartValues reads the chart's values.yaml.
func chartValues(t *testing.T) map[string]any {
	t.Helper()
	data := readFile(t, valuesFile)
	var v map[string]any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// leaves lists the dotted paths of values.yaml's leaves: scalars, lists and
// empty maps.
func leaves(prefix string, v map[string]any) []string {
	var out []string
	for k, child := range v {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		if m, ok := child.(map[string]any); ok && len(m) > 0 {
			out = append(out, leaves(path, m)...)
			continue
		}
		out = append(out, path)
	}
	slices.Sort(out)
	return out
}

// lookup returns the value at a dotted path.
func lookup(v map[string]any, path string) (any, bool) {
	var cur any = v
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// Every value has a described row in the README, itself or as part of a
// documented parent (e.g. livenessProbe).
func TestEveryValueIsDocumentedInTheReadme(t *testing.T) {
	rows := valueRows(t, chartReadme)
	for _, leaf := range leaves("", chartValues(t)) {
		documented := false
		for path := leaf; path != ""; {
			if r, ok := rows[path]; ok {
				documented = true
				if strings.TrimSpace(r.description) == "" {
					t.Errorf("%s: empty description", path)
				}
				break
			}
			i := strings.LastIndex(path, ".")
			if i < 0 {
				break
			}
			path = path[:i]
		}
		if !documented {
			t.Errorf("%s is not in the README: add a `# --` comment with a `@section` in values.yaml and run make chart-docs", leaf)
		}
	}
	for key := range rows {
		if _, ok := lookup(chartValues(t), key); !ok {
			t.Errorf("README documents %s, which values.yaml does not have", key)
		}
	}
}

// deviations are the original chart's values this chart deliberately changes,
// with the reason.
var deviations = map[string]string{
	"image.repository": "the original default is the image of the Python program; this chart deploys this project's image",
}

// Every value of the original chart's tables exists with its type and
// default.
func TestOriginalValuesKeepTypeAndDefault(t *testing.T) {
	original := valueRows(t, originalReadme)
	if len(original) != 37 {
		t.Fatalf("read %d rows from %s, want the 37 of its tables", len(original), originalReadme)
	}
	current := valueRows(t, chartReadme)
	values := chartValues(t)
	for key, want := range original {
		got, ok := current[key]
		if !ok {
			t.Errorf("%s: missing from the chart", key)
			continue
		}
		if got.typ != want.typ {
			t.Errorf("%s: type %s, the original chart's is %s", key, got.typ, want.typ)
		}
		if _, deliberate := deviations[key]; deliberate {
			if got.def == want.def {
				t.Errorf("%s: listed as a deviation but has the original default %s", key, want.def)
			}
			continue
		}
		v, ok := lookup(values, key)
		if !ok {
			t.Errorf("%s: not in values.yaml", key)
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if wantDef := strings.Trim(want.def, "`"); string(b) != wantDef {
			t.Errorf("%s: default %s, the original chart's is %s", key, b, wantDef)
		}
	}
}

// codeBlocks returns the README's fenced code blocks of a language.
func codeBlocks(t *testing.T, path, lang string) []string {
	t.Helper()
	data := readFile(t, path)
	var blocks []string
	var cur *strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case cur == nil && line == "```"+lang:
			cur = &strings.Builder{}
		case cur != nil && line == "```":
			blocks = append(blocks, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	return blocks
}

// yamlDocuments decodes every document of a YAML stream; duplicate keys are
// errors, as in kubectl.
func yamlDocuments(s string) ([]map[string]any, error) {
	dec := yamlv3.NewDecoder(strings.NewReader(s))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, doc)
	}
}

// The README's setup examples are valid YAML that fits this chart: Flux's
// Provider reaches the connector's Service across namespaces, Argo CD's body
// is JSON whatever the sync message holds, and GitOpsConfigs use the
// default group.
func TestReadmeSetupExamples(t *testing.T) {
	blocks := codeBlocks(t, chartReadme, "yaml")
	if len(blocks) < 8 {
		t.Fatalf("found %d yaml blocks in the README", len(blocks))
	}
	// The README installs release gitops-connector into namespace gitops-connector.
	const service = "http://gitops-connector.gitops-connector:8080/gitopsphase"
	kinds := map[string]int{}
	for i, block := range blocks {
		docs, err := yamlDocuments(block)
		if err != nil {
			t.Errorf("yaml block %d does not parse: %v\n%s", i, err, block)
			continue
		}
		for _, doc := range docs {
			kind, _ := doc["kind"].(string)
			apiVersion, _ := doc["apiVersion"].(string)
			kinds[kind]++
			switch kind {
			case "GitOpsConfig":
				if apiVersion != "example.com/v1" {
					t.Errorf("GitOpsConfig apiVersion %q, want the chart's default group example.com/v1", apiVersion)
				}
			case "Provider":
				spec, _ := doc["spec"].(map[string]any)
				if spec["address"] != service {
					t.Errorf("Flux Provider address %v, want %s (Flux runs in flux-system)", spec["address"], service)
				}
			case "Alert", "":
			default:
				t.Errorf("unexpected kind %q in the README", kind)
			}
			if strings.HasPrefix(apiVersion, "notification.toolkit.fluxcd.io/") && apiVersion != "notification.toolkit.fluxcd.io/v1beta3" {
				t.Errorf("Flux %s uses %s, want v1beta3", kind, apiVersion)
			}
			data, _ := doc["data"].(map[string]any)
			if tmpl, ok := data["template.sync-operation-status-change"].(string); ok {
				if !strings.Contains(tmpl, `"message": {{toJson .app.status.operationState.message}}`) {
					t.Errorf("Argo CD template does not JSON-encode the message:\n%s", tmpl)
				}
				svc, _ := data["service.webhook.gitops-connector"].(string)
				if !strings.Contains(svc, "url: "+service+"\n") {
					t.Errorf("Argo CD webhook service is not %s:\n%s", service, svc)
				}
			}
		}
	}
	for kind, n := range map[string]int{"GitOpsConfig": 2, "Provider": 2, "Alert": 1} {
		if kinds[kind] != n {
			t.Errorf("README has %d %s examples, want %d", kinds[kind], kind, n)
		}
	}
	install := strings.Join(codeBlocks(t, chartReadme, "console"), "\n")
	if !strings.Contains(install, "helm upgrade gitops-connector ./charts/gitops-connector") ||
		!strings.Contains(install, "--namespace gitops-connector") {
		t.Errorf("install command does not install release gitops-connector into gitops-connector:\n%s", install)
	}
}

// The README's value examples install.
func TestReadmeValueExamplesInstall(t *testing.T) {
	var n int
	for _, block := range codeBlocks(t, chartReadme, "yaml") {
		if !strings.HasPrefix(block, "singleInstance:") && !strings.HasPrefix(block, "plugins:") {
			continue
		}
		n++
		values := strings.ReplaceAll(block, "<GitHub personal access token>", "ghp_token")
		files := []string{}
		if strings.HasPrefix(block, "plugins:") {
			files = append(files, githubValues)
		}
		render(t, install{files: files, values: values})
	}
	if n != 5 {
		t.Errorf("installed %d README value examples, want 5", n)
	}
}

// connectorReadme is the connector's README; its section "Chart values for
// each way to authenticate" shows the credential values of the chart.
const connectorReadme = "../../../README.md"

// The connector's README shows, for each way to authenticate, values that
// install on top of the README's example (the GitHub example; the Azure
// DevOps one for Azure) and give the connector that credential.
func TestConnectorReadmeCredentialValuesInstall(t *testing.T) {
	readme := string(readFile(t, connectorReadme))
	_, section, ok := strings.Cut(readme, "\n### Chart values for each way to authenticate\n")
	if !ok {
		t.Fatal("the README has no section \"Chart values for each way to authenticate\"")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	path := filepath.Join(t.TempDir(), "README.md")
	if err := os.WriteFile(path, []byte(section), 0o600); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, block := range codeBlocks(t, path, "yaml") {
		in := install{files: []string{githubValues}, values: "orchestratorPAT: ''\n" + block}
		if strings.Contains(block, "azure:") {
			in = install{files: []string{azdoValues}, values: "existingSecret: ''\n" + block}
		}
		r := render(t, in)
		env := credentialEnv(r.environment(t))
		switch {
		case env["GIT_REPOSITORY_PAT"] == "secret:gitea-token/PAT" && env["CICD_ORCHESTRATOR_PAT"] == "secret:github-token/PAT":
			got = append(got, "token per integration")
		case env["GITHUB_APP_PRIVATE_KEY_FILE"] != "":
			got = append(got, "GitHub App")
		case env["AZURE_CLIENT_SECRET"] == "secret:azdo-sp/clientSecret":
			got = append(got, "service principal with a secret")
		case env["AZURE_CLIENT_CERTIFICATE_PATH"] != "":
			got = append(got, "service principal with a certificate")
		case r.deployment(t).Spec.Template.Labels["azure.workload.identity/use"] == "true":
			got = append(got, "workload identity")
			// The federated credential below trusts this account.
			if sa := find[*corev1.ServiceAccount](t, r, "gitops-connector"); sa.Annotations["azure.workload.identity/client-id"] == "" {
				t.Errorf("ServiceAccount annotations %v", sa.Annotations)
			}
		case env["AZURE_IDENTITY"] == "managed":
			got = append(got, "managed identity")
		default:
			t.Errorf("this example gives the connector no credential (%v):\n%s", env, block)
		}
	}
	want := []string{"token per integration", "GitHub App", "service principal with a secret", "service principal with a certificate", "workload identity", "managed identity"}
	if !slices.Equal(got, want) {
		t.Errorf("the README's credential examples are %v, want %v", got, want)
	}
	if !strings.Contains(section, "--subject system:serviceaccount:gitops-connector:gitops-connector") {
		t.Error("the federated credential does not trust the ServiceAccount of release gitops-connector in gitops-connector")
	}
}
