package settings

import (
	"strings"
	"testing"

	"github.com/gitops-connector/gitops-connector/sdk"
)

func TestOrgURLGivesAPIRootAndOwner(t *testing.T) {
	cases := []struct {
		raw, base, owner string
	}{
		{"https://api.github.com/repos/kaizentm", "https://api.github.com/", "kaizentm"},
		{"https://api.github.com/repos/kaizentm/", "https://api.github.com/", "kaizentm"},
		{"  https://api.github.com/repos/Azure-Samples  ", "https://api.github.com/", "Azure-Samples"},
		{"https://ghe.example.com/api/v3/repos/platform", "https://ghe.example.com/api/v3/", "platform"},
		{"https://ghe.example.com:8443/api/v3/repos/platform-team", "https://ghe.example.com:8443/api/v3/", "platform-team"},
		{"https://api.octocorp.ghe.com/repos/octo_org", "https://api.octocorp.ghe.com/", "octo_org"},
		{"HTTP://127.0.0.1:41234/repos/acme", "http://127.0.0.1:41234/", "acme"},
	}
	for _, tc := range cases {
		t.Run(tc.raw, func(t *testing.T) {
			s, errs := ForRepository(sdk.Config{Settings: map[string]string{OrgURL: tc.raw, ManifestsRepo: "manifests"}})
			if len(errs) != 0 {
				t.Fatalf("errors: %v", errs)
			}
			if s.BaseURL.String() != tc.base || s.Owner != tc.owner {
				t.Errorf("base %q owner %q, want %q %q", s.BaseURL, s.Owner, tc.base, tc.owner)
			}
		})
	}
}

func TestOrgURLOfAnotherShapeIsRefusedWithAHint(t *testing.T) {
	cases := []struct {
		name, raw, want string
	}{
		{"empty", "", "is required"},
		{"web address", "https://github.com/kaizentm", "web address of GitHub"},
		{"repository included", "https://api.github.com/repos/kaizentm/gitops-manifests", "/repos/<owner>"},
		{"as in the chart's example", "https://api.github.com/owner/repo", "/repos/<owner>"},
		{"organization endpoint", "https://api.github.com/orgs/kaizentm", "/repos/<owner>"},
		{"other API version", "https://ghe.example.com/api/v4/repos/platform", "/repos/<owner>"},
		{"no owner", "https://api.github.com/repos/", "/repos/<owner>"},
		{"dot owner", "https://api.github.com/repos/..", "not a GitHub user or organization"},
		{"encoded slash in owner", "https://api.github.com/repos/a%2Fb", "not a GitHub user or organization"},
		{"query", "https://api.github.com/repos/kaizentm?per_page=1", "query or fragment"},
		{"no scheme", "api.github.com/repos/kaizentm", "http(s) URL"},
		{"other scheme", "ftp://api.github.com/repos/kaizentm", "http(s) URL"},
		{"not an URL", "https://api.github.com/repos/%zz", "http(s) URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := ForOrchestrator(sdk.Config{Settings: map[string]string{OrgURL: tc.raw, GitOpsRepo: "app"}})
			if len(errs) != 1 || errs[0].Field != OrgURL || !strings.Contains(errs[0].Message, tc.want) {
				t.Fatalf("errors %v, want one on %s containing %q", errs, OrgURL, tc.want)
			}
			if tc.raw != "" && !strings.Contains(errs[0].Message, "api.github.com/repos/<owner>") {
				t.Errorf("message %q does not show the expected shape", errs[0].Message)
			}
		})
	}
}

func TestOrgURLWithCredentialsIsRefusedWithoutRepeatingThem(t *testing.T) {
	for _, raw := range []string{
		"https://ghp_secret123@api.github.com/repos/kaizentm",
		"https://x-access-token:ghp_secret123@api.github.com/repos/kaizentm",
		"https://ghp_secret123@api.github.com/repos/%zz",
	} {
		_, errs := ForRepository(sdk.Config{Settings: map[string]string{OrgURL: raw, ManifestsRepo: "m"}})
		if len(errs) != 1 || errs[0].Field != OrgURL {
			t.Fatalf("%s: errors %v", raw, errs)
		}
		if strings.Contains(errs[0].Message, "ghp_secret123") {
			t.Errorf("message repeats the credential: %s", errs[0].Message)
		}
	}
}

func TestEachCapabilityRequiresItsRepository(t *testing.T) {
	org := map[string]string{OrgURL: "https://api.github.com/repos/kaizentm"}
	if _, errs := ForRepository(sdk.Config{Settings: org}); len(errs) != 1 || errs[0].Field != ManifestsRepo || !strings.Contains(errs[0].Message, "is required") {
		t.Errorf("repository without manifests repo: %v", errs)
	}
	if _, errs := ForOrchestrator(sdk.Config{Settings: org}); len(errs) != 1 || errs[0].Field != GitOpsRepo || !strings.Contains(errs[0].Message, "is required") {
		t.Errorf("orchestrator without gitops repo: %v", errs)
	}
	if _, errs := ForRepository(sdk.Config{Settings: map[string]string{GitOpsRepo: "app"}}); len(errs) != 2 {
		t.Errorf("repository without anything: %v, want org URL and manifests repo", errs)
	}
	s, errs := ForRepository(sdk.Config{Settings: map[string]string{
		OrgURL: org[OrgURL], ManifestsRepo: " gitops-manifests ", GitOpsRepo: "app.src", AppURL: "https://argocd.example.com/applications/podinfo",
	}})
	if len(errs) != 0 || s.ManifestsRepo != "gitops-manifests" || s.GitOpsRepo != "app.src" || s.AppURL != "https://argocd.example.com/applications/podinfo" {
		t.Errorf("full config: %+v, %v", s, errs)
	}
}

func TestRepositoryNamesThatWouldLeaveTheirPathAreRefused(t *testing.T) {
	cases := []struct{ name, want string }{
		{"kaizentm/gitops-manifests", "without its owner"},
		{"../other", "without its owner"},
		{"..", "repository name"},
		{".", "repository name"},
		{"gitops manifests", "repository name"},
		{"manifests?x=1", "repository name"},
		{"manifests%2Fx", "repository name"},
		{strings.Repeat("a", 101), "repository name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := ForRepository(sdk.Config{Settings: map[string]string{OrgURL: "https://api.github.com/repos/kaizentm", ManifestsRepo: tc.name}})
			if len(errs) != 1 || errs[0].Field != ManifestsRepo || !strings.Contains(errs[0].Message, tc.want) {
				t.Errorf("errors %v, want one on %s containing %q", errs, ManifestsRepo, tc.want)
			}
		})
	}
	for _, ok := range []string{"gitops-manifests", "app.src", "my_repo", "A1", ".github"} {
		if err := CheckRepoName(ok); err != nil {
			t.Errorf("CheckRepoName(%q) = %v", ok, err)
		}
	}
}

func TestConfigErrorIsPermanentAndNamesTheFields(t *testing.T) {
	_, errs := ForOrchestrator(sdk.Config{})
	err := ConfigError(sdk.Config{Name: "prod"}, errs)
	if sdk.IsRetryable(err) || sdk.KindOf(err) != sdk.KindPermanent {
		t.Errorf("kind %v", sdk.KindOf(err))
	}
	for _, want := range []string{`"prod"`, OrgURL, GitOpsRepo} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}
