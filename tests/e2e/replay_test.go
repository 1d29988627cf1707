package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

type replayLine struct {
	Source     string `json:"source"`
	Config     string `json:"config"`
	Handled    bool   `json:"handled"`
	Reason     string `json:"reason"`
	Commit     string `json:"commit"`
	Finished   bool   `json:"finished"`
	Successful bool   `json:"successful"`
	Statuses   []struct {
		Name        string `json:"name"`
		State       string `json:"state"`
		RawState    string `json:"raw_state"`
		Description string `json:"description"`
		Genre       string `json:"genre"`
	} `json:"statuses"`
}

// replayExpectation is what one fixture must give: handled or the reason it
// is not, and the statuses as "name=state/raw" in order.
type replayExpectation struct {
	reason     string // substring of the reason when not handled
	commit     string
	finished   bool
	successful bool
	statuses   []string
}

var replayCases = map[string]replayExpectation{
	// Flux (behaviour of the old connector, with its parsing defects fixed)
	"flux/kustomization-reconciliation-succeeded.json": {commit: "4b5a2e1f9c0d8e7f6a5b4c3d2e1f0a9b8c7d6e5f", finished: true, successful: true,
		statuses: []string{"Status=succeeded/ReconciliationSucceeded"}},
	"flux/kustomization-reconciliation-succeeded-prefixed-revision.json": {commit: "40d6b21b888db0ca794876cf7bdd399e3da2137e", finished: true, successful: true,
		statuses: []string{"Status=succeeded/ReconciliationSucceeded"}},
	"flux/kustomization-reconciliation-succeeded-legacy-revision.json": {commit: "9e1c4d7a2b3f5e6d8c9a0b1f2e3d4c5b6a7f8e9d", finished: true, successful: true,
		statuses: []string{"Status=succeeded/ReconciliationSucceeded"}},
	"flux/kustomization-reconciliation-succeeded-tag-revision.json": {commit: "c0ffee254729296a45a3885639ac7ca1f3d4e6b2", finished: true, successful: true,
		statuses: []string{"Status=succeeded/ReconciliationSucceeded"}},
	"flux/kustomization-progressing-change-set.json": {commit: "4b5a2e1f9c0d8e7f6a5b4c3d2e1f0a9b8c7d6e5f",
		statuses: []string{"Status=pending/Progressing", "Deployment=not_applicable/NotApplicable", "HorizontalPodAutoscaler=not_applicable/NotApplicable",
			"Service=not_applicable/NotApplicable", "Status=pending/Progressing"}},
	"flux/kustomization-progressing-kubectl-warnings.json": {commit: "9e1c4d7a2b3f5e6d8c9a0b1f2e3d4c5b6a7f8e9d",
		statuses: []string{"Status=pending/Progressing", "service=not_applicable/NotApplicable", "deployment.apps=not_applicable/NotApplicable",
			"horizontalpodautoscaler.autoscaling=not_applicable/NotApplicable", "warnings=not_applicable/NotApplicable", "Status=pending/Progressing"}},
	"flux/kustomization-progressing-not-a-change-set.json": {commit: "4b5a2e1f9c0d8e7f6a5b4c3d2e1f0a9b8c7d6e5f",
		statuses: []string{"Status=pending/Progressing", "Info=not_applicable/NotApplicable", "Status=pending/Progressing"}},
	"flux/kustomization-health-check-failed.json": {commit: "7d0a6f3e2c1b9a8d7e6f5c4b3a29180f7e6d5c4b", finished: true,
		statuses: []string{"Status=failed/HealthCheckFailed", "Deployment/default/podinfo=failed/error", "StatefulSet/default/redis=failed/error"}},
	"flux/kustomization-health-check-failed-no-brackets.json": {commit: "9e1c4d7a2b3f5e6d8c9a0b1f2e3d4c5b6a7f8e9d", finished: true,
		statuses: []string{"Status=failed/HealthCheckFailed", "Deployment/default/podinfo=failed/error"}},
	"flux/kustomization-dependency-not-ready.json": {commit: "4b5a2e1f9c0d8e7f6a5b4c3d2e1f0a9b8c7d6e5f",
		statuses: []string{"Status=pending/DependencyNotReady"}},
	"flux/kustomization-reconciliation-failed.json": {commit: "1f2e3d4c5b6a79880f1e2d3c4b5a69788f9e0d1c", finished: true,
		statuses: []string{"Status=failed/ReconciliationFailed"}},
	"flux/kustomization-build-failed.json": {commit: "1f2e3d4c5b6a79880f1e2d3c4b5a69788f9e0d1c", finished: true,
		statuses: []string{"Status=failed/BuildFailed"}},
	"flux/kustomization-validation-failed.json": {commit: "9e1c4d7a2b3f5e6d8c9a0b1f2e3d4c5b6a7f8e9d", finished: true,
		statuses: []string{"Status=failed/ValidationFailed"}},
	"flux/kustomization-unknown-reason.json": {commit: "4b5a2e1f9c0d8e7f6a5b4c3d2e1f0a9b8c7d6e5f",
		statuses: []string{"Status=pending/ProgressingWithRetry"}},
	"flux/gitrepository-fetched-revision-message.json": {commit: "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
		statuses: []string{"Status=not_applicable/info"}},
	"flux/kustomization-oci-source-revision.json":     {reason: "not a git commit"},
	"flux/kustomization-revision-path-traversal.json": {reason: "git commit id"},
	"flux/gitrepository-new-artifact.json":            {reason: "NewArtifact"},
	"flux/helmrelease-upgrade-succeeded.json":         {reason: `metadata revision: revision "6.5.0" names no git commit`},
	"flux/ocirepository-new-artifact.json":            {reason: "NewArtifact events are not handled"},
	"flux/invalid-involved-object-missing.json":       {reason: "not a Flux event: the body has no involvedObject"},
	// Flux: OCI sources and HelmReleases, metadata keys with and without
	// their API group prefix.
	"flux/kustomization-oci-origin-revision-prefixed.json": {commit: "2c26b46b68ffc68ff99b453c1d30413413422d70", finished: true, successful: true,
		statuses: []string{"Status=succeeded/ReconciliationSucceeded"}},
	"flux/kustomization-oci-origin-revision-progressing.json": {commit: "2c26b46b68ffc68ff99b453c1d30413413422d70",
		statuses: []string{"Status=pending/Progressing", "Deployment=not_applicable/NotApplicable", "Service=not_applicable/NotApplicable", "Status=pending/Progressing"}},
	"flux/ocirepository-succeeded-origin-revision-prefixed.json": {commit: "2c26b46b68ffc68ff99b453c1d30413413422d70",
		statuses: []string{"Status=succeeded/Succeeded"}},
	"flux/ocirepository-succeeded-origin-revision.json": {commit: "2c26b46b68ffc68ff99b453c1d30413413422d70",
		statuses: []string{"Status=succeeded/Succeeded"}},
	"flux/helmrelease-upgrade-succeeded-commit-prefixed.json": {commit: "b1946ac92492d2347c6235b4d2611184ffd1ed9a", finished: true, successful: true,
		statuses: []string{"HelmRelease/apps/podinfo=succeeded/UpgradeSucceeded"}},
	"flux/helmrelease-install-succeeded-commit.json": {commit: "b1946ac92492d2347c6235b4d2611184ffd1ed9a", finished: true, successful: true,
		statuses: []string{"HelmRelease/apps/podinfo=succeeded/InstallSucceeded"}},
	"flux/helmrelease-upgrade-failed-commit.json": {commit: "b1946ac92492d2347c6235b4d2611184ffd1ed9a", finished: true,
		statuses: []string{"HelmRelease/apps/podinfo=failed/UpgradeFailed"}},
	"flux/helmrelease-rollback-succeeded-commit-prefixed.json": {commit: "b1946ac92492d2347c6235b4d2611184ffd1ed9a", finished: true,
		statuses: []string{"HelmRelease/apps/podinfo=failed/RollbackSucceeded"}},
	"flux/helmrelease-dependency-not-ready-commit.json": {commit: "b1946ac92492d2347c6235b4d2611184ffd1ed9a",
		statuses: []string{"HelmRelease/apps/podinfo=pending/DependencyNotReady"}},
	"flux/helmrelease-oci-chart-origin-revision-prefixed.json": {commit: "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391", finished: true, successful: true,
		statuses: []string{"HelmRelease/apps/frontend=succeeded/UpgradeSucceeded"}},
	"flux/helmrelease-uninstall-succeeded-commit.json":    {reason: "an uninstall deploys no revision"},
	"flux/helmrelease-drift-detected-commit.json":         {reason: "drift is a change in the cluster"},
	"flux/malformed-reason-number.json":                   {reason: "has no reason"},
	"flux/malformed-involved-object-string.json":          {reason: "not a Flux event"},
	"flux/invalid-truncated-json.json":                    {reason: "bad input"},
	"flux/invalid-json-array.json":                        {reason: "bad input"},
	"flux/kustomization-artifact-failed-no-revision.json": {reason: "carries no revision"},
	// Argo CD
	"argocd/running-progressing.json": {commit: "3f1c2a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39",
		statuses: []string{"Phase=pending/Running", "Sync=pending/OutOfSync", "Health=pending/Progressing"}},
	"argocd/succeeded-synced-healthy.json": {commit: "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3", finished: true, successful: true,
		statuses: []string{"Phase=succeeded/Succeeded", "Sync=succeeded/Synced", "Health=succeeded/Healthy"}},
	"argocd/succeeded-degraded.json": {commit: "0b5e3c1d2f4a6b8c9d0e1f2a3b4c5d6e7f8a9b0c", finished: true,
		statuses: []string{"Phase=succeeded/Succeeded", "Sync=succeeded/Synced", "Health=error/Degraded"}},
	"argocd/failed.json": {commit: "c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6", finished: true,
		statuses: []string{"Phase=failed/Failed", "Sync=not_applicable/OutOfSync", "Health=failed/Missing"}},
	"argocd/succeeded-healthy-out-of-sync.json": {commit: "8c1f0e2d3b4a59687f6e5d4c3b2a19087f6e5d4c", finished: true, successful: true,
		statuses: []string{"Phase=succeeded/Succeeded", "Sync=not_applicable/OutOfSync", "Health=succeeded/Healthy"}},
	"argocd/terminating.json": {commit: "e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4",
		statuses: []string{"Phase=pending/Terminating", "Sync=pending/OutOfSync", "Health=succeeded/Healthy"}},
	"argocd/no-value-health.json": {commit: "f0e1d2c3b4a5968778695a4b3c2d1e0f1a2b3c4d",
		statuses: []string{"Phase=succeeded/Succeeded", "Sync=succeeded/Synced", "Health=pending/<no value>"}},
	"argocd/unknown-phase.json": {commit: "5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081",
		statuses: []string{"Phase=pending/Pending", "Sync=succeeded/Synced", "Health=succeeded/Healthy"}},
	"argocd/no-value-commit.json":    {reason: "<no value>"},
	"argocd/resources-null.json":     {reason: "resources is null"},
	"argocd/helm-chart-version.json": {reason: "not a git commit id"},
	"argocd/head-revision.json":      {reason: "not a git commit id"},
	"argocd/mistyped-commitid.json":  {reason: "bad input"},
	"argocd/unescaped-message.json":  {reason: "bad input"},
}

var hexCommit = regexp.MustCompile(`^[0-9a-f]{7,64}$`)

// normalizedStates are the states a status of a handled event may have.
var normalizedStates = []string{"pending", "succeeded", "failed", "error", "not_applicable"}

// TestReplayOfEveryFixture runs every Flux and Argo CD fixture through
// `gitops-connector replay` with no configuration: each event is offered to
// every operator plugin, as the server does for several configs.
func TestReplayOfEveryFixture(t *testing.T) {
	var files []string
	for _, p := range []string{"flux", "argocd"} {
		m, _ := filepath.Glob(filepath.Join(root, "plugins", p, "testdata", "*.json"))
		files = append(files, m...)
	}
	if len(files) < 40 {
		t.Fatalf("only %d fixtures found", len(files))
	}
	cmd := exec.Command(bundle.Host(), append([]string{"replay", "--plugin-dir", bundle.PluginDir()}, files...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr.String())
	}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	seen := map[string]bool{}
	for sc.Scan() {
		var l replayLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line is not JSON: %q", sc.Text())
		}
		rel, _ := filepath.Rel(filepath.Join(root, "plugins"), l.Source)
		key := strings.Replace(rel, "/testdata/", "/", 1)
		seen[key] = true
		// Every line is well formed.
		if l.Handled {
			if !hexCommit.MatchString(l.Commit) || len(l.Statuses) == 0 || (l.Successful && !l.Finished) {
				t.Errorf("%s: malformed handled result %+v", key, l)
			}
			for _, s := range l.Statuses {
				if !slices.Contains(normalizedStates, s.State) || s.Name == "" || s.Genre == "" {
					t.Errorf("%s: malformed status %+v", key, s)
				}
			}
		} else if l.Reason == "" {
			t.Errorf("%s: ignored without a reason", key)
		}
		want, ok := replayCases[key]
		if !ok {
			continue
		}
		if want.reason != "" {
			if l.Handled || !strings.Contains(l.Reason, want.reason) {
				t.Errorf("%s: handled=%v reason %q, want ignored with %q", key, l.Handled, l.Reason, want.reason)
			}
			continue
		}
		var got []string
		for _, s := range l.Statuses {
			got = append(got, s.Name+"="+s.State+"/"+s.RawState)
		}
		if !l.Handled || l.Commit != want.commit || l.Finished != want.finished || l.Successful != want.successful ||
			strings.Join(got, ",") != strings.Join(want.statuses, ",") {
			t.Errorf("%s:\n got handled=%v commit=%s finished=%v successful=%v %v (reason %q)\nwant commit=%s finished=%v successful=%v %v",
				key, l.Handled, l.Commit, l.Finished, l.Successful, got, l.Reason, want.commit, want.finished, want.successful, want.statuses)
		}
	}
	if len(seen) != len(files) {
		t.Errorf("%d lines for %d files", len(seen), len(files))
	}
	for key := range replayCases {
		if !seen[key] {
			t.Errorf("fixture %s missing", key)
		}
	}
}
