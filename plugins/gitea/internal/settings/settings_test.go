package settings

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gitops-connector/gitops-connector/sdk"
)

func fields(errs []sdk.FieldError) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Field)
	}
	return out
}

func TestParseURLFindsTheAPIRoot(t *testing.T) {
	for raw, want := range map[string]string{
		"https://gitea.example.com":              "https://gitea.example.com/api/v1",
		"https://gitea.example.com/":             "https://gitea.example.com/api/v1",
		"https://example.com/git/":               "https://example.com/git/api/v1",
		"http://127.0.0.1:3000/api/v1":           "http://127.0.0.1:3000/api/v1",
		"HTTPS://codeberg.org":                   "https://codeberg.org/api/v1",
		"https://example.com/my%20gitea/api/v1/": "https://example.com/my%20gitea/api/v1",
	} {
		u, err := ParseURL(raw)
		if err != nil || u.String() != want {
			t.Errorf("ParseURL(%q) = %v, %v; want %s", raw, u, err, want)
		}
	}
	for _, raw := range []string{"", "gitea.example.com", "ftp://gitea.example.com", "https://gitea.example.com?x=1",
		"https://gitea.example.com/api/v1/repos/platform", "https://user:hunter2@gitea.example.com"} {
		if _, err := ParseURL(raw); err == nil {
			t.Errorf("ParseURL(%q) accepted", raw)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error repeats a credential: %v", err)
		}
	}
}

func TestEachCapabilityRequiresItsFields(t *testing.T) {
	full := sdk.Config{Settings: map[string]string{
		URL: "https://gitea.example.com", Owner: "platform", ManifestsRepo: "manifests", AppRepo: "app", Workflow: "sync.yml",
	}}
	s, errs := ForOrchestrator(full)
	if len(errs) != 0 || s.Workflow != "sync.yml" || s.WorkflowRef != DefaultWorkflowRef || s.API.String() != "https://gitea.example.com/api/v1" {
		t.Errorf("full config: %+v, %v", s, errs)
	}
	_, errs = ForRepository(sdk.Config{Settings: map[string]string{URL: "https://gitea.example.com"}})
	if got := fields(errs); !slices.Equal(got, []string{Owner, ManifestsRepo}) {
		t.Errorf("repository without names: %v", got)
	}
	_, errs = ForOrchestrator(sdk.Config{Settings: map[string]string{URL: "https://gitea.example.com", Owner: "platform", ManifestsRepo: "manifests"}})
	if got := fields(errs); !slices.Equal(got, []string{AppRepo, Workflow}) {
		t.Errorf("orchestrator without app repo and workflow: %v", got)
	}
	for field, value := range map[string]string{
		Owner: "platform/team", ManifestsRepo: "..", AppRepo: "a b", Workflow: ".gitea/workflows/sync.yml", WorkflowRef: "main branch",
	} {
		cfg := sdk.Config{Settings: map[string]string{}}
		for k, v := range full.Settings {
			cfg.Settings[k] = v
		}
		cfg.Settings[field] = value
		_, errs := ForOrchestrator(cfg)
		if got := fields(errs); !slices.Equal(got, []string{field}) || !strings.Contains(errs[0].Message, fmt.Sprintf("%q", value)) {
			t.Errorf("%s=%q: %v", field, value, errs)
		}
	}
}

func TestOnlyATokenCredentialIsTaken(t *testing.T) {
	cfg := sdk.Config{Settings: map[string]string{URL: "https://gitea.example.com", Owner: "platform", ManifestsRepo: "manifests"}}
	for kind, ok := range map[string]bool{"": true, sdk.CredentialToken: true, sdk.CredentialGitHubApp: false, sdk.CredentialAzureWorkloadIdentity: false} {
		cfg.Credential = sdk.Credential{Kind: kind, Values: map[string]string{"privateKey": "-----BEGIN KEY-----"}}
		_, errs := ForRepository(cfg)
		if got := fields(errs); ok != (len(got) == 0) || (!ok && (!slices.Equal(got, []string{CredentialField}) || strings.Contains(errs[0].Message, "BEGIN"))) {
			t.Errorf("credential %q: %v", kind, errs)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	for _, seed := range []string{"https://gitea.example.com", "https://x/api/v1/", "https://u:p@x", "http://[::1]:3000/a%2Fb", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := ParseURL(raw)
		if err != nil {
			if strings.Contains(raw, "@") && strings.Contains(err.Error(), fmt.Sprintf("%q", raw)) {
				t.Errorf("error repeats a value that may hold a credential: %v", err)
			}
			return
		}
		if u.User != nil || u.RawQuery != "" || !strings.HasSuffix(u.EscapedPath(), "/api/v1") {
			t.Errorf("API root %q from %q", u, raw)
		}
	})
}
