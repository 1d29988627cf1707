package chart

import (
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/gitops-connector/gitops-connector/testkit/events"
	"github.com/gitops-connector/gitops-connector/testkit/fakeazdo"
	"github.com/gitops-connector/gitops-connector/testkit/fakeentra"
	"github.com/gitops-connector/gitops-connector/testkit/fakegithub"
	"github.com/gitops-connector/gitops-connector/testkit/hostproc"
	"github.com/gitops-connector/gitops-connector/testkit/natsserver"
	"github.com/nats-io/nats-server/v2/server"
)

// podEnvironment does for the connector container of a rendered release
// what the kubelet does: it resolves the environment (ConfigMaps and the
// chart's Secret from the release, other Secrets from secrets) and writes
// the files of the Secret volumes under root, each mount path moved below
// root, as are the environment values that name a file there. The pod's
// name (from the downward API) is the Deployment's with "-0". A Secret key
// a non-optional reference names and the Secrets lack fails the test, as
// the kubelet refuses to start such a container.
func podEnvironment(t *testing.T, r rendered, root string, secrets map[string]map[string]string) map[string]string {
	t.Helper()
	secrets = maps.Clone(secrets)
	if secrets == nil {
		secrets = map[string]map[string]string{}
	}
	for _, s := range all[*corev1.Secret](r) {
		data := map[string]string{}
		for k, v := range s.Data {
			data[k] = string(v)
		}
		secrets[s.Name] = data
	}
	c := r.connector(t)
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef != nil {
			for k, v := range find[*corev1.ConfigMap](t, r, from.ConfigMapRef.Name).Data {
				env[k] = v
			}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			v, ok := secrets[ref.Name][ref.Key]
			if !ok && (ref.Optional == nil || !*ref.Optional) {
				t.Fatalf("env %s: Secret %s has no key %s", e.Name, ref.Name, ref.Key)
			}
			if ok {
				env[e.Name] = v
			}
		case e.ValueFrom.FieldRef != nil:
			d := r.deployment(t)
			env[e.Name] = map[string]string{"metadata.name": d.Name + "-0", "metadata.namespace": d.Namespace}[e.ValueFrom.FieldRef.FieldPath]
		default:
			t.Fatalf("env %s: unexpected source %+v", e.Name, e.ValueFrom)
		}
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range r.deployment(t).Spec.Template.Spec.Volumes {
		volumes[v.Name] = v
	}
	for _, m := range c.VolumeMounts {
		v := volumes[m.Name]
		if v.Secret == nil {
			continue
		}
		dir := filepath.Join(root, m.MountPath)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, item := range v.Secret.Items {
			data, ok := secrets[v.Secret.SecretName][item.Key]
			if !ok {
				t.Fatalf("volume %s: Secret %s has no key %s", v.Name, v.Secret.SecretName, item.Key)
			}
			if err := os.WriteFile(filepath.Join(dir, item.Path), []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		for k, val := range env {
			if strings.HasPrefix(val, m.MountPath+"/") {
				env[k] = filepath.Join(root, val)
			}
		}
	}
	return env
}

// bundle builds the host and its bundled plugins once for the tests that
// run the connector as the chart deploys it.
var bundle = sync.OnceValues(func() (hostproc.Bundle, error) {
	dir, err := os.MkdirTemp("", "gitops-connector-chart-")
	if err != nil {
		return hostproc.Bundle{}, err
	}
	return hostproc.Build(filepath.Join("..", "..", ".."), dir)
})

// TestMain removes the bundle's directory once the tests ran.
func TestMain(m *testing.M) {
	code := m.Run()
	if b, err := bundle(); err == nil {
		os.RemoveAll(b.Dir)
	}
	os.Exit(code)
}

// runPod runs the connector with the environment and files the chart gives
// its container (podEnvironment), plus env (what the cluster adds); the
// test chooses the port and the data directory.
func runPod(t *testing.T, r rendered, secrets map[string]map[string]string, env map[string]string) *hostproc.Process {
	t.Helper()
	b, err := bundle()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	podEnv := podEnvironment(t, r, filepath.Join(dir, "pod"), secrets)
	delete(podEnv, "PREDICTIVE_UNIT_SERVICE_PORT")
	podEnv["GITOPS_CONNECTOR_DATA_DIR"] = filepath.Join(dir, "data")
	maps.Copy(podEnv, env)
	opts := b.Options()
	opts.Env = podEnv
	opts.Patience = 90 * time.Second
	return hostproc.Start(t, opts)
}

// succeeded is Flux's event of a Kustomization that applied commit sha.
func succeeded(sha string) []byte {
	revision := "main@sha1:" + sha
	return events.Flux("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision, revision, "")
}

// The connector runs with the environment and files the chart gives a
// GitHub App in an existing Secret: it reads the mounted private key,
// mints an installation token and posts its statuses with it.
func TestTheConnectorAuthenticatesWithTheChartsGitHubApp(t *testing.T) {
	app, err := fakegithub.TestApp()
	if err != nil {
		t.Fatal(err)
	}
	fake := fakegithub.Start(t, fakegithub.WithApp(app))
	fake.AddRepo("kaizentm", "gitops-manifests")
	fake.AddRepo("kaizentm", "gitops-connector")
	const sha = "3e3d3f0c8a1b0c7a6f1f0e2d4c5b6a7980a1b2c3"
	fake.SetCommit("kaizentm", "gitops-manifests", sha, "Merge pull request #12 from kaizentm/deploy/4242424242/9f8e7d6c5b4a39281706f5e4d3c2b1a098765432")

	r := render(t, install{files: []string{githubValues}, values: "orchestratorPAT: ''\n" +
		"singleInstance: {subscribers: null, gitHubOrgUrl: '" + fake.OrgURL("kaizentm") + "'}\n" +
		"githubApp: {appId: 4242, existingSecret: github-app}\n"})
	if _, inEnv := credentialEnv(r.environment(t))["GITHUB_APP_PRIVATE_KEY"]; inEnv {
		t.Fatal("the chart put the private key into the environment")
	}
	h := runPod(t, r, map[string]map[string]string{"github-app": {"githubAppPrivateKey": app.PrivateKeyPEM()}}, nil)
	if a := h.Post(t, "", succeeded(sha)); a.Code != http.StatusAccepted {
		t.Fatalf("event: %+v", a)
	}
	h.Settle(t, 1)
	var got []string
	for _, s := range fake.Statuses("kaizentm", "gitops-manifests", sha) {
		got = append(got, s.Context+"="+s.State)
	}
	if !slices.Contains(got, "Status=success") {
		t.Errorf("statuses %v, want Status=success", got)
	}
	if len(fake.TokensIssued()) == 0 {
		t.Error("no installation token was minted: the app's key was not used")
	}
	for _, c := range fake.Calls(fakegithub.OpCreateStatus) {
		if c.Answer != http.StatusCreated {
			t.Errorf("status call answered %d", c.Answer)
		}
	}
	fake.AssertValid(t)
	if strings.Contains(h.Log.String(), strings.Split(app.PrivateKeyPEM(), "\n")[1]) {
		t.Error("the host's log holds the private key")
	}
}

// The connector runs with the environment and files the chart gives an
// Azure identity: a service principal's certificate from an existing
// Secret, mounted as a file, with the chart's authority host; or a
// user-assigned managed identity, whose endpoint the platform provides. It
// gets an access token from Entra ID and posts its statuses to Azure DevOps
// with it, as that identity alone.
func TestTheConnectorAuthenticatesWithTheChartsAzureIdentities(t *testing.T) {
	const sha = "3e3d3f0c8a1b0c7a6f1f0e2d4c5b6a7980a1b2c3"
	tests := []struct {
		name, clientID string
		// identity is who Entra ID says the access tokens are of.
		identity string
		// webhook: the Azure Workload Identity webhook mutates the pod,
		// setting the variables from the ServiceAccount the chart
		// annotated.
		webhook bool
		// setup registers the identity with Entra ID and returns the
		// chart's azure values, the Secrets and the environment the
		// platform gives the pod.
		setup func(t *testing.T, entra *fakeentra.Server, clientID string) (string, map[string]map[string]string, map[string]string)
	}{
		{
			name: "service principal with a certificate", clientID: "5d7f9b1c-3e4a-4c6d-8f0b-2d4f6a8c0e21", identity: "5d7f9b1c-3e4a-4c6d-8f0b-2d4f6a8c0e21",
			setup: func(t *testing.T, entra *fakeentra.Server, clientID string) (string, map[string]map[string]string, map[string]string) {
				pemCert, cert := fakeentra.NewCertificate(t, clientID)
				entra.AddCertificate(clientID, cert)
				return "azure: {tenantId: " + entra.Tenant() + ", clientId: " + clientID + ", clientCertificateSecret: azdo-sp-cert, authorityHost: '" + entra.AuthorityHost() + "'}\n",
					map[string]map[string]string{"azdo-sp-cert": {"clientCertificate": pemCert}}, nil
			},
		},
		{
			name: "user-assigned managed identity", clientID: "3b5d7f9a-1c2e-4a4b-8d6f-8b0d2f4a6c13", identity: "mi:3b5d7f9a-1c2e-4a4b-8d6f-8b0d2f4a6c13",
			setup: func(t *testing.T, entra *fakeentra.Server, clientID string) (string, map[string]map[string]string, map[string]string) {
				entra.AddManagedIdentity(clientID)
				return "azure: {clientId: " + clientID + ", managedIdentity: {enabled: true}}\n", nil, entra.ManagedIdentityEnv()
			},
		},
		{
			name: "workload identity", clientID: "6e8a0c2d-4f5b-4d7e-9a1c-3e5a7b9d1f22", identity: "6e8a0c2d-4f5b-4d7e-9a1c-3e5a7b9d1f22", webhook: true,
			setup: func(t *testing.T, entra *fakeentra.Server, clientID string) (string, map[string]map[string]string, map[string]string) {
				file := filepath.Join(t.TempDir(), "azure-identity-token")
				if err := os.WriteFile(file, []byte("eyJhbGciOiJSUzI1NiJ9.chart-service-account-token.c2lnbmF0dXJl"), 0o600); err != nil {
					t.Fatal(err)
				}
				entra.AddFederated(clientID, file)
				return "azure: {clientId: " + clientID + ", workloadIdentity: {enabled: true}}\n", nil, map[string]string{
					"AZURE_TENANT_ID": entra.Tenant(), "AZURE_FEDERATED_TOKEN_FILE": file, "AZURE_AUTHORITY_HOST": entra.AuthorityHost(),
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entra := fakeentra.New(t, fakeentra.Options{})
			values, secrets, platform := tt.setup(t, entra, tt.clientID)
			azdo := fakeazdo.New(t, fakeazdo.Options{Bearer: entra.Identity})
			azdo.AddRepository("my-gitops-repo")
			azdo.AddCommit("my-gitops-repo", fakeazdo.Commit{ID: sha, Comment: "Merged PR 7: Deploy az-vote 1.2.3"})

			// Statuses only: the Azure Pipelines side needs a pipeline run.
			r := render(t, install{files: []string{azdoValues}, values: "existingSecret: ''\n" +
				"singleInstance: {gitOpsOperatorType: FLUX, ciCdOrchestratorType: '', azdoPrRepoName: '', azdoOrgUrl: '" + azdo.ProjectURL() + "'}\n" + values})
			env := map[string]string{"SSL_CERT_FILE": entra.CAFile(t, t.TempDir())}
			maps.Copy(env, platform)
			if tt.webhook {
				// The webhook mutates only labelled pods, and takes the
				// client id from the pod's ServiceAccount.
				pod := r.deployment(t).Spec.Template
				if pod.Labels["azure.workload.identity/use"] != "true" {
					t.Fatalf("pod labels %v: the webhook would not mutate the pod", pod.Labels)
				}
				env["AZURE_CLIENT_ID"] = find[*corev1.ServiceAccount](t, r, pod.Spec.ServiceAccountName).Annotations["azure.workload.identity/client-id"]
			}
			h := runPod(t, r, secrets, env)
			if a := h.Post(t, "", succeeded(sha)); a.Code != http.StatusAccepted {
				t.Fatalf("event: %+v", a)
			}
			h.Settle(t, 1)
			if n := len(azdo.Statuses("my-gitops-repo", sha)); n == 0 {
				t.Error("no status was posted")
			}
			for _, req := range azdo.Requests() {
				if req.Identity != tt.identity {
					t.Errorf("Azure DevOps: %s %s by %q (HTTP %d), want by %s", req.Method, req.Path, req.Identity, req.Status, tt.identity)
				}
			}
			azdo.AssertValid(t)
			entra.AssertValid(t)
			for _, s := range secrets {
				for _, v := range s {
					if strings.Contains(h.Log.String(), strings.Split(v, "\n")[1]) {
						t.Error("the host's log holds the certificate's key")
					}
				}
			}
		})
	}
}

// The connector runs with the environment and files the chart gives NATS
// JetStream with a token from an existing Secret: it reads the mounted
// token, keeps no data directory, and accepts and delivers through the
// queue of a server that refuses clients without the token.
func TestTheConnectorQueuesOnTheChartsNATSWithItsToken(t *testing.T) {
	const token = "nats-t0ken-0123456789"
	nats := natsserver.Single(t, func(o *server.Options) { o.Authorization = token })
	fake := fakegithub.Start(t)
	fake.AddRepo("kaizentm", "gitops-manifests")
	fake.AddRepo("kaizentm", "gitops-connector")
	const sha = "3e3d3f0c8a1b0c7a6f1f0e2d4c5b6a7980a1b2c3"
	fake.SetCommit("kaizentm", "gitops-manifests", sha, "Merge pull request #12 from kaizentm/deploy/4242424242/9f8e7d6c5b4a39281706f5e4d3c2b1a098765432")

	r := render(t, install{files: []string{githubValues}, values: "orchestratorPAT: " + fake.Token() + "\n" +
		"singleInstance: {subscribers: null, gitHubOrgUrl: '" + fake.OrgURL("kaizentm") + "'}\n" +
		"queue: {nats: {url: '" + nats.URL() + "', streamReplicas: 1, credentials: {existingSecret: nats-user, tokenKey: token}}}\n"})
	for k, v := range r.environment(t) {
		if strings.Contains(v, token) {
			t.Fatalf("the chart put the token into %s", k)
		}
	}
	// No data directory: the host refuses one beside a queue.
	h := runPod(t, r, map[string]map[string]string{"nats-user": {"token": token}}, map[string]string{"GITOPS_CONNECTOR_DATA_DIR": ""})
	if len(h.Log.Messages("event queue on NATS JetStream: replicas share the accepted events and deliver them together")) != 1 {
		t.Fatal("the host did not open the NATS queue")
	}
	if a := h.Post(t, "", succeeded(sha)); a.Code != http.StatusAccepted {
		t.Fatalf("event: %+v", a)
	}
	eventually := func(what string, cond func() string) { hostproc.Eventually(t, 90*time.Second, what, cond) }
	eventually("the status through the queue", func() string {
		for _, s := range fake.Statuses("kaizentm", "gitops-manifests", sha) {
			if s.Context == "Status" && s.State == "success" {
				return ""
			}
		}
		return "no Status=success"
	})
	fake.AssertValid(t)
	if strings.Contains(h.Log.String(), token) {
		t.Error("the host's log holds the NATS token")
	}
}
