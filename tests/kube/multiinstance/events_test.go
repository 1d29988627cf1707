package multiinstance

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gitops-connector/gitops-connector/testkit/events"
	"github.com/gitops-connector/gitops-connector/testkit/fakegithub"
)

const (
	owner   = "kaizentm"
	actions = "hello-world"
	// progressingMessage is kustomize-controller's change set of a
	// Progressing event.
	progressingMessage = "Deployment/default/podinfo configured\nService/default/podinfo created"
)

// fluxProgressing is the Progressing event of a Kustomization for commit sha
// of the main branch; configName goes where the Alert's eventMetadata puts
// it.
func fluxProgressing(sha, configName string) []byte {
	return events.Flux("Kustomization", "Progressing", progressingMessage, "main@sha1:"+sha, configName)
}

// argoRunning is the body the seed's Argo CD notification template renders
// for an application whose sync of commit sha is running.
func argoRunning(sha, configName string) []byte {
	return events.Argo(sha, "Running", "OutOfSync", "Progressing", "waiting for healthy state of apps/Deployment/podinfo", configName,
		events.Resource("apps/Deployment", "podinfo", "OutOfSync", "Progressing"),
		events.Resource("Service", "podinfo", "Synced", "Healthy"))
}

// newGitHub starts a fake GitHub with the owner's actions repository and the
// given manifests repositories.
func newGitHub(t *testing.T, manifests ...string) *fakegithub.Server {
	t.Helper()
	return newGitHubWith(t, nil, manifests...)
}

func newGitHubWith(t *testing.T, opts []fakegithub.Option, manifests ...string) *fakegithub.Server {
	t.Helper()
	fake := fakegithub.Start(t, opts...)
	fake.AddRepo(owner, actions)
	for _, m := range manifests {
		fake.AddRepo(owner, m)
	}
	return fake
}

// commit creates commit sha in a manifests repository, merged from a CD
// pull request as the GitHub workflow does.
func commit(fake *fakegithub.Server, repo, sha string) {
	fake.SetCommit(owner, repo, sha, "Merge pull request #12 from kaizentm/deploy/4242424242/9f8e7d6c5b4a39281706f5e4d3c2b1a098765432\n\nDeploy hello-world")
}

// githubSpec is the spec of a GitHub config of operator for a manifests
// repository of the fake.
func githubSpec(fake *fakegithub.Server, operator, manifests string) map[string]any {
	return map[string]any{
		"gitRepositoryType":             "GITHUB",
		"ciCdOrchestratorType":          "GITHUB",
		"gitOpsOperatorType":            operator,
		"gitOpsAppURL":                  "https://github.com/kaizentm/" + manifests + "/commit",
		"gitHubOrgUrl":                  fake.OrgURL(owner),
		"gitHubGitOpsManifestsRepoName": manifests,
		"gitHubGitOpsRepoName":          actions,
	}
}

// contexts lists the contexts of the statuses a commit received, in order.
func contexts(fake *fakegithub.Server, repo, sha string) []string {
	var out []string
	for _, s := range fake.Statuses(owner, repo, sha) {
		out = append(out, s.Context)
	}
	return out
}

// waitContext waits until commit sha of a manifests repository has a status
// with context.
func waitContext(t *testing.T, fake *fakegithub.Server, repo, sha, context string) {
	t.Helper()
	eventually(t, fmt.Sprintf("a %s status on %s of %s", context, sha, repo), func() string {
		if got := contexts(fake, repo, sha); !slices.Contains(got, context) {
			return fmt.Sprintf("contexts %v", got)
		}
		return ""
	})
}
