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
