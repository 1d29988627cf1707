package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/gitops-connector/gitops-connector/sdk"
)

func TestOrgURLIsSplitIntoOrganizationAndProject(t *testing.T) {
	cases := []struct {
		raw, org, project string
	}{
		{"https://dev.azure.com/myorg/MyProject", "https://dev.azure.com/myorg", "MyProject"},
		{"https://dev.azure.com/myorg/MyProject/", "https://dev.azure.com/myorg", "MyProject"},
		{"https://dev.azure.com/myorg/My%20Project", "https://dev.azure.com/myorg", "My Project"},
		{" https://dev.azure.com/myorg/MyProject ", "https://dev.azure.com/myorg", "MyProject"},
		{"https://myorg.visualstudio.com/MyProject", "https://myorg.visualstudio.com", "MyProject"},
		{"https://myorg.visualstudio.com/DefaultCollection/MyProject", "https://myorg.visualstudio.com/DefaultCollection", "MyProject"},
		{"https://tfs.example.com/tfs/DefaultCollection/MyProject", "https://tfs.example.com/tfs/DefaultCollection", "MyProject"},
		{"https://devops.example.com:8443/Fabrikam/MyProject", "https://devops.example.com:8443/Fabrikam", "MyProject"},
		{"http://127.0.0.1:8080/org/project", "http://127.0.0.1:8080/org", "project"},
	}
	for _, tc := range cases {
		org, project, err := SplitOrgURL(tc.raw)
		if err != nil || org != tc.org || project != tc.project {
			t.Errorf("SplitOrgURL(%q) = %q, %q, %v; want %q, %q", tc.raw, org, project, err, tc.org, tc.project)
		}
	}
}

func TestOrgURLWithoutProjectOrWithExtrasIsRejected(t *testing.T) {
	cases := []struct {
		raw, message string
	}{
		{"https://dev.azure.com/myorg", "must include the project"},
		{"https://dev.azure.com/", "must include the organization and the project"},
		{"https://dev.azure.com/myorg/MyProject/extra", "with nothing after the project"},
		{"https://dev.azure.com/myorg/MyProject/_git/manifests", "remove /_git"},
		{"https://myorg.visualstudio.com", "must include the project"},
		{"https://myorg.visualstudio.com/DefaultCollection", "must include the project"},
		{"https://myorg.visualstudio.com/a/b", "with nothing after the project"},
		{"https://tfs.example.com/tfs/DefaultCollection", "must include the project"},
		{"https://tfs.example.com/tfs", "must include the collection and the project"},
		{"https://tfs.example.com/Fabrikam", "must include the project"},
		{"https://user:secret-pat@dev.azure.com/myorg/MyProject", "must not contain credentials"},
		{"https://dev.azure.com/myorg/MyProject?api-version=7.1", "must not have a query"},
		{"dev.azure.com/myorg/MyProject", "must be an http(s) URL"},
		{"ftp://dev.azure.com/myorg/MyProject", "must be an http(s) URL"},
		{"https://dev.azure.com/myorg/%zz", "must be an http(s) URL"},
	}
	for _, tc := range cases {
		_, _, err := SplitOrgURL(tc.raw)
		if err == nil || !strings.Contains(err.Error(), tc.message) {
			t.Errorf("SplitOrgURL(%q) = %v, want an error containing %q", tc.raw, err, tc.message)
		}
		if err != nil && strings.Contains(err.Error(), "secret-pat") {
			t.Errorf("SplitOrgURL(%q) repeats the credentials: %v", tc.raw, err)
		}
	}
}

func cfg(settings map[string]string) sdk.Config {
	return sdk.Config{Name: "default", Settings: settings, Token: "pat-value-1234", StatusContext: " dev "}
}

func TestParseDefaultsThePRRepositoryToTheManifestsRepository(t *testing.T) {
	s, errs := Parse(cfg(map[string]string{
		FieldOrgURL: "https://dev.azure.com/myorg/MyProject", FieldManifestsRepo: "manifests", FieldAppURL: "https://argocd.example.com/app",
	}), ForRepository|ForOrchestrator)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := Settings{
		OrganizationURL: "https://dev.azure.com/myorg", Project: "MyProject", ManifestsRepo: "manifests", PRRepo: "manifests",
		AppURL: "https://argocd.example.com/app", Token: "pat-value-1234", StatusContext: "dev",
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Parse = %+v, want %+v", s, want)
	}
	s, _ = Parse(cfg(map[string]string{FieldOrgURL: "https://dev.azure.com/o/p", FieldManifestsRepo: "manifests", FieldPRRepo: "hld"}), ForOrchestrator)
	if s.PRRepo != "hld" {
		t.Errorf("PRRepo = %q, want hld", s.PRRepo)
	}
}

func TestParseReportsWhatEachUseNeeds(t *testing.T) {
	org := "https://dev.azure.com/myorg/MyProject"
	cases := []struct {
		name     string
		settings map[string]string
		noToken  bool
		need     Need
		want     []string // fields with errors
	}{
		{"repository without anything", map[string]string{}, false, ForRepository, []string{FieldOrgURL, FieldManifestsRepo, FieldAppURL}},
		{"orchestrator without repositories", map[string]string{FieldOrgURL: org}, false, ForOrchestrator, []string{FieldPRRepo}},
		{"orchestrator with only the PR repository", map[string]string{FieldOrgURL: org, FieldPRRepo: "hld"}, false, ForOrchestrator, nil},
		{"reading needs no app URL", map[string]string{FieldOrgURL: org}, false, ForReading, nil},
		{"no token", map[string]string{FieldOrgURL: org, FieldPRRepo: "hld"}, true, ForOrchestrator, []string{FieldToken}},
		{"invalid values are reported whatever the need", map[string]string{
			FieldOrgURL: "https://dev.azure.com/myorg", FieldManifestsRepo: "a/b", FieldPRRepo: "..", FieldAppURL: "not a url",
		}, false, ForReading, []string{FieldOrgURL, FieldManifestsRepo, FieldPRRepo, FieldAppURL}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg(tc.settings)
			if tc.noToken {
				c.Token = " "
			}
			_, errs := Parse(c, tc.need)
			var got []string
			for _, e := range errs {
				got = append(got, e.Field)
				if e.Message == "" {
					t.Errorf("%s: no message", e.Field)
				}
				if strings.Contains(e.Message, "pat-value-1234") {
					t.Errorf("%s: message reveals the token", e.Field)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("fields with errors = %v, want %v (%v)", got, tc.want, errs)
			}
		})
	}
}

func TestRepositoryNamesThatCannotBeAzureReposNamesAreRejected(t *testing.T) {
	for _, name := range []string{"manifests", "My Repo", "gitops-manifests.v2", "6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c"} {
		if err := CheckRepoName(name); err != nil {
			t.Errorf("CheckRepoName(%q) = %v", name, err)
		}
	}
	for _, name := range []string{"", ".", "..", "a/b", `a\b`, "a?b", "a#b", "a\nb", "../other"} {
		if err := CheckRepoName(name); err == nil {
			t.Errorf("CheckRepoName(%q) accepted", name)
		}
	}
}

func FuzzSplitOrgURL(f *testing.F) {
	for _, s := range []string{"https://dev.azure.com/o/p", "https://o.visualstudio.com/p", "https://h/tfs/c/p", "http://[::1]:80/a/b", "https://dev.azure.com//_x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		org, project, err := SplitOrgURL(raw)
		if err == nil && (org == "" || project == "") {
			t.Errorf("SplitOrgURL(%q) = %q, %q without an error", raw, org, project)
		}
	})
}

func TestLoadFailsAnInvalidConfigAsInvalidInputNamingEveryProblem(t *testing.T) {
	cfg := sdk.Config{Name: "prod", Settings: map[string]string{FieldOrgURL: "https://dev.azure.com/o/p", FieldAppURL: "not a URL"}, Token: "pat"}
	_, err := Load(cfg, ForRepository)
	if sdk.KindOf(err) != sdk.KindInvalidInput {
		t.Fatalf("Load = %v, want invalid input", err)
	}
	for _, want := range []string{`config "prod"`, FieldManifestsRepo, FieldAppURL} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Load error %q does not name %s", err, want)
		}
	}
	cfg.Settings[FieldManifestsRepo] = "manifests"
	cfg.Settings[FieldAppURL] = "https://argocd.example.com/applications/app"
	s, err := Load(cfg, ForRepository)
	if err != nil || s.ManifestsRepo != "manifests" {
		t.Errorf("Load(valid) = %+v, %v; want the settings", s, err)
	}
}
