package e2e

import (
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gitops-connector/gitops-connector/testkit/fakeazdo"
	"github.com/gitops-connector/gitops-connector/testkit/fakegithub"
	"github.com/gitops-connector/gitops-connector/testkit/hostproc"
)

// No secret a test gives a host — a PAT, a GitHub App key, a client secret,
// a webhook HMAC secret or bearer token — may appear in anything the host
// or its plugins write. Every host
// the harness starts registers the secrets of its environment; tests
// register the secrets they pass another way (files, answers of fakes).
// Each host's output is checked when its test ends, and all of them again
// at the end of the suite against every secret registered by then.

// secretEnv are the environment variables whose values are secrets.
var secretEnv = []string{"PAT", "GIT_REPOSITORY_PAT", "CICD_ORCHESTRATOR_PAT", "GITHUB_APP_PRIVATE_KEY", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PASSWORD",
	"GITOPS_CONNECTOR_WEBHOOK_HMAC_SECRET", "GITOPS_CONNECTOR_WEBHOOK_BEARER_TOKEN"}

var secrets = struct {
	mu     sync.Mutex
	byName map[string]string // value → what it is, for the failure message
	logs   []namedLog
}{byName: map[string]string{}}

type namedLog struct {
	name string
	buf  *hostproc.Log
}

func init() {
	registerSecret("fakegithub.DefaultToken", fakegithub.DefaultToken)
	registerSecret("fakeazdo.DefaultToken", fakeazdo.DefaultToken)
}

// registerSecret adds a secret value the hosts must never write; what names
// it in failure messages, which never show the value.
func registerSecret(what, value string) {
	if len(value) < 8 { // too short to tell from ordinary text
		return
	}
	secrets.mu.Lock()
	defer secrets.mu.Unlock()
	secrets.byName[value] = what
}

// registerEnvSecrets registers the secret values of a host's environment.
func registerEnvSecrets(env map[string]string) {
	for _, k := range secretEnv {
		if v := env[k]; v != "" {
			registerSecret(k, v)
		}
	}
}

// trackLog keeps a host's output for the suite-wide check.
func trackLog(name string, b *hostproc.Log) {
	secrets.mu.Lock()
	defer secrets.mu.Unlock()
	secrets.logs = append(secrets.logs, namedLog{name, b})
}

// leaks names the registered secrets text holds, as they are or in base64
// (alone or as the password of a Basic credential, as Azure DevOps takes a
// PAT).
func leaks(text string) []string {
	secrets.mu.Lock()
	known := maps.Clone(secrets.byName)
	secrets.mu.Unlock()
	var found []string
	for value, what := range known {
		for _, form := range []string{value, base64.StdEncoding.EncodeToString([]byte(value)),
			base64.StdEncoding.EncodeToString([]byte(":" + value))} {
			if strings.Contains(text, form) {
				found = append(found, what)
				break
			}
		}
	}
	slices.Sort(found)
	return found
}

// checkNoSecrets fails the test when text holds a registered secret.
func checkNoSecrets(t *testing.T, what, text string) {
	t.Helper()
	if found := leaks(text); len(found) > 0 {
		t.Errorf("%s holds secrets: %s", what, strings.Join(found, ", "))
	}
}

// suiteLeaks checks the output of every host the suite ran against every
// secret registered.
func suiteLeaks() []string {
	secrets.mu.Lock()
	logs := slices.Clone(secrets.logs)
	secrets.mu.Unlock()
	var out []string
	for _, l := range logs {
		if found := leaks(l.buf.String()); len(found) > 0 {
			out = append(out, fmt.Sprintf("the log of %s holds %s", l.name, strings.Join(found, ", ")))
		}
	}
	return out
}

func TestTheSecretCheckFindsASecretInEveryFormAHostCouldWriteIt(t *testing.T) {
	registerSecret("a test secret", "test-secret-9c41e7")
	for _, tt := range []struct {
		name, text string
		leak       bool
	}{
		{"plain", `{"msg":"post status","token":"test-secret-9c41e7"}`, true},
		{"in a header", `Authorization: Bearer test-secret-9c41e7`, true},
		{"base64", base64.StdEncoding.EncodeToString([]byte("test-secret-9c41e7")), true},
		{"basic credential", "Basic " + base64.StdEncoding.EncodeToString([]byte(":test-secret-9c41e7")), true},
		{"a part of it", `"token":"test-secret-9c4"`, false},
		{"nothing", `{"msg":"event accepted"}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			found := slices.Contains(leaks(tt.text), "a test secret")
			if found != tt.leak {
				t.Fatalf("found %v, want %v", found, tt.leak)
			}
		})
	}
}
