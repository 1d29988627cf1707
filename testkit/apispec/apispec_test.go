package apispec

import (
	"net/http"
	"strings"
	"testing"
)

func TestGitHubStatusRequests(t *testing.T) {
	v, err := Load(GitHub, "http://fake")
	if err != nil {
		t.Fatal(err)
	}
	ok, _ := http.NewRequest(http.MethodPost, "http://fake/repos/o/r/statuses/abc123",
		strings.NewReader(`{"state":"success","context":"Status","description":"done"}`))
	ok.Header.Set("Content-Type", "application/json")
	if err := v.Validate(ok); err != nil {
		t.Errorf("valid request rejected: %v", err)
	}
	bad, _ := http.NewRequest(http.MethodPost, "http://fake/repos/o/r/statuses/abc123",
		strings.NewReader(`{"state":"succeeded"}`))
	bad.Header.Set("Content-Type", "application/json")
	if err := v.Validate(bad); err == nil {
		t.Error("state succeeded accepted; GitHub only knows error|failure|pending|success")
	}
	unknown, _ := http.NewRequest(http.MethodDelete, "http://fake/repos/o/r", nil)
	if err := v.Validate(unknown); err == nil {
		t.Error("an operation outside the description was accepted")
	}
}

func TestAzureDevOpsStatusRequests(t *testing.T) {
	v, err := Load(AzureDevOps, "http://fake")
	if err != nil {
		t.Fatal(err)
	}
	ok, _ := http.NewRequest(http.MethodPost, "http://fake/org/proj/_apis/git/repositories/manifests/commits/abc123/statuses?api-version=7.1",
		strings.NewReader(`{"state":"succeeded","description":"Status: done","targetUrl":"https://app?noop=Status","context":{"name":"Status","genre":"Kustomization"}}`))
	ok.Header.Set("Content-Type", "application/json")
	if err := v.Validate(ok); err != nil {
		t.Errorf("valid request rejected: %v", err)
	}
	noVersion, _ := http.NewRequest(http.MethodPost, "http://fake/org/proj/_apis/git/repositories/manifests/commits/abc123/statuses",
		strings.NewReader(`{"state":"succeeded"}`))
	noVersion.Header.Set("Content-Type", "application/json")
	if err := v.Validate(noVersion); err == nil {
		t.Error("request without api-version accepted")
	}
}

func TestGiteaRequests(t *testing.T) {
	v, err := Load(Gitea, "http://fake/api/v1")
	if err != nil {
		t.Fatal(err)
	}
	req := func(method, path, body string) *http.Request {
		r, _ := http.NewRequest(method, "http://fake/api/v1"+path, strings.NewReader(body))
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		return r
	}
	for _, r := range []*http.Request{
		req(http.MethodPost, "/repos/o/r/statuses/abc123", `{"state":"success","context":"Status","description":"done","target_url":"https://app"}`),
		req(http.MethodGet, "/repos/o/r/commits/abc123/statuses?sort=highestindex&page=2&limit=50", ""),
		req(http.MethodGet, "/repos/o/r/git/commits/abc123?stat=false&verification=false&files=false", ""),
		req(http.MethodGet, "/repos/o/r/compare/abc123...def456", ""),
		req(http.MethodPost, "/repos/o/r/actions/workflows/sync.yaml/dispatches", `{"ref":"main","inputs":{"sha":"abc"}}`),
	} {
		if err := v.Validate(r); err != nil {
			t.Errorf("valid request rejected: %v", err)
		}
	}
	for name, r := range map[string]*http.Request{
		"state succeeded":         req(http.MethodPost, "/repos/o/r/statuses/abc123", `{"state":"succeeded"}`),
		"sort by name":            req(http.MethodGet, "/repos/o/r/commits/abc123/statuses?sort=name", ""),
		"dispatch without ref":    req(http.MethodPost, "/repos/o/r/actions/workflows/sync.yaml/dispatches", `{"inputs":{"sha":"abc"}}`),
		"dispatch with an object": req(http.MethodPost, "/repos/o/r/actions/workflows/sync.yaml/dispatches", `{"ref":"main","inputs":{"sha":{}}}`),
		"without the API prefix": func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "http://fake/repos/o/r/compare/a...b", nil)
			return r
		}(),
	} {
		if err := v.Validate(r); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
