package repository

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/plugins/github/internal/ghapi"
	"github.com/gitops-connector/gitops-connector/plugins/github/internal/settings"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// createdStatus is GitHub's answer to a new commit status (201), as the
// API description's example gives it: the plugin's cost per status includes
// reading it.
const createdStatus = `{"url":"https://api.github.com/repos/kaizentm/gitops-manifests/statuses/9f2c1e4b7a3d5f60812e4c9b0a7d3f1e2c4b6a80",` +
	`"avatar_url":"https://github.com/images/error/hubot_happy.gif","id":1,"node_id":"MDY6U3RhdHVzMQ==","state":"success",` +
	`"description":"ReconciliationSucceeded","target_url":"https://argocd.example.com/applications/podinfo","context":"Kustomization/podinfo",` +
	`"created_at":"2012-07-20T01:19:13Z","updated_at":"2012-07-20T01:19:13Z","creator":{"login":"octocat","id":1,"node_id":"MDQ6VXNlcjE=",` +
	`"avatar_url":"https://github.com/images/error/octocat_happy.gif","gravatar_id":"","url":"https://api.github.com/users/octocat",` +
	`"html_url":"https://github.com/octocat","followers_url":"https://api.github.com/users/octocat/followers",` +
	`"following_url":"https://api.github.com/users/octocat/following{/other_user}","gists_url":"https://api.github.com/users/octocat/gists{/gist_id}",` +
	`"starred_url":"https://api.github.com/users/octocat/starred{/owner}{/repo}","subscriptions_url":"https://api.github.com/users/octocat/subscriptions",` +
	`"organizations_url":"https://api.github.com/users/octocat/orgs","repos_url":"https://api.github.com/users/octocat/repos",` +
	`"events_url":"https://api.github.com/users/octocat/events{/privacy}","received_events_url":"https://api.github.com/users/octocat/received_events",` +
	`"type":"User","site_admin":false}}`

// BenchmarkPostStatus is the plugin's own cost of one commit status: the
// request built and sent with go-github over a kept-alive connection, the
// answer read. The server is a bare handler that answers 201 (the fake
// GitHub would validate every request against the API description, which
// costs more than what is measured; the tests prove the requests valid).
// Allocations and time per status include the handler's small share.
func BenchmarkPostStatus(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, createdStatus)
	}))
	defer srv.Close()
	repo := New(ghapi.NewClients(time.Minute))
	cfg := sdk.Config{
		Name: "default", Namespace: "flux-system", Revision: "rev-1", Token: "ghp_0123456789abcdef0123456789abcdef0123",
		Settings: map[string]string{
			settings.OrgURL:        srv.URL + "/repos/" + owner,
			settings.ManifestsRepo: manifests,
			settings.AppURL:        appURL,
		},
	}
	req := sdk.PostStatusRequest{Config: cfg, CommitID: sha, Status: status("Kustomization/podinfo", sdk.StateSucceeded, "ReconciliationSucceeded")}
	ctx := context.Background()
	b.ReportAllocs()
	start := processorTime(b)
	for b.Loop() {
		if err := repo.PostStatus(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	// Processor time (both sides) varies less than wall time on a shared
	// machine.
	b.ReportMetric(float64(processorTime(b)-start)/float64(b.N), "cpu-ns/op")
}

// processorTime is the processor time (user and system) the test process
// has used.
func processorTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestPostStatusKeepsItsConnection: the answer GitHub sends to a new status
// is not decoded, but it must still be read to its end, or every status
// would open a new connection (and, to GitHub, a TLS handshake).
func TestPostStatusKeepsItsConnection(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, createdStatus)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	repo := New(ghapi.NewClients(time.Minute))
	cfg := sdk.Config{Name: "default", Revision: "rev-1", Token: "ghp_token",
		Settings: map[string]string{settings.OrgURL: srv.URL + "/repos/" + owner, settings.ManifestsRepo: manifests}}
	for i := range 5 {
		st := status(fmt.Sprintf("Kustomization/app-%d", i), sdk.StateSucceeded, "ReconciliationSucceeded")
		if err := repo.PostStatus(context.Background(), sdk.PostStatusRequest{Config: cfg, CommitID: sha, Status: st}); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("5 statuses opened %d connections, want 1", n)
	}
}
