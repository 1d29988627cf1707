package event

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/testkit/hostproc"
	"github.com/gitops-connector/gitops-connector/testkit/pending"
)

// Commit ids of the fixtures in ../../testdata.
const (
	commitA = "4b5a2e1f9c0d8e7f6a5b4c3d2e1f0a9b8c7d6e5f"
	commitB = "40d6b21b888db0ca794876cf7bdd399e3da2137e"
	commitC = "9e1c4d7a2b3f5e6d8c9a0b1f2e3d4c5b6a7f8e9d"
	commitD = "c0ffee254729296a45a3885639ac7ca1f3d4e6b2"
	commitE = "7d0a6f3e2c1b9a8d7e6f5c4b3a29180f7e6d5c4b"
	commitF = "1f2e3d4c5b6a79880f1e2d3c4b5a69788f9e0d1c"
	commitG = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
	commitH = "5d41402abc4b2a76b9719d911017c592c0ffee00"
	commitI = "2c26b46b68ffc68ff99b453c1d30413413422d70" // origin of the OCI artifact
	commitJ = "b1946ac92492d2347c6235b4d2611184ffd1ed9a" // event.toolkit.fluxcd.io/commit of the HelmRelease
	commitK = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391" // origin of the OCI chart

	configName = "my-gitops-repo-stage-dev"
)

const testdata = "../../testdata"

// expected is what one fixture must parse into.
type expected struct {
	invalid    bool   // an sdk.InvalidInput error
	ignored    string // a substring of the reason; "" when handled
	config     string
	commit     string
	finished   bool
	successful bool
	statuses   []sdk.Status
}

func ks(name string, state sdk.State, raw, description string) sdk.Status {
	return sdk.Status{Name: name, State: state, RawState: raw, Description: description, Genre: KindKustomization, Operator: Operator}
}

func gitRepo(name string, state sdk.State, raw, description string) sdk.Status {
	return sdk.Status{Name: name, State: state, RawState: raw, Description: description, Genre: KindGitRepository, Operator: Operator}
}

func ociRepo(state sdk.State, raw, description string) sdk.Status {
	return sdk.Status{Name: "Status", State: state, RawState: raw, Description: description, Genre: KindOCIRepository, Operator: Operator}
}

func release(name string, state sdk.State, raw, description string) sdk.Status {
	return sdk.Status{Name: name, State: state, RawState: raw, Description: description, Genre: KindHelmRelease, Operator: Operator}
}

const (
	ociDigest  = "sha256:6b8e31a9c5f7d2e4a0b3c6d9e2f5a8b1c4d7e0f3a6b9c2d5e8f1a4b7c0d3e6f9"
	ociStored  = "stored artifact with revision 'latest@" + ociDigest + "' from 'oci://ghcr.io/org/manifests/apps', origin source 'https://github.com/org/gitops-manifests.git', origin revision 'main@sha1:" + commitI + "'"
	podinfoRel = "HelmRelease/apps/podinfo"
)

var (
	progressing = ks("Status", sdk.StatePending, "Progressing", "Reconciliation underway.")
	healthCheck = ks("Status", sdk.StateFailed, "HealthCheckFailed", "Health Check Failed")
)

func group(name, summary string) sdk.Status {
	return ks(name, sdk.StateNotApplicable, "NotApplicable", summary)
}

func unhealthy(name, status string) sdk.Status {
	return ks(name, sdk.StateFailed, "error", "Health Check Failed (status: '"+status+"')")
}

// fixtures lists every file of testdata with the result it must give.
var fixtures = map[string]expected{
	"kustomization-reconciliation-succeeded.json": {
		config: configName, commit: commitA, finished: true, successful: true,
		statuses: []sdk.Status{ks("Status", sdk.StateSucceeded, "ReconciliationSucceeded", "Reconciliation finished in 2.41s, next run in 10m0s")},
	},
	"kustomization-reconciliation-succeeded-prefixed-revision.json": {
		config: configName, commit: commitB, finished: true, successful: true,
		statuses: []sdk.Status{ks("Status", sdk.StateSucceeded, "ReconciliationSucceeded", "Reconciliation finished in 1.87s, next run in 10m0s")},
	},
	"kustomization-reconciliation-succeeded-legacy-revision.json": {
		commit: commitC, finished: true, successful: true,
		statuses: []sdk.Status{ks("Status", sdk.StateSucceeded, "ReconciliationSucceeded", "Reconciliation finished in 1.02s, next run in 5m0s")},
	},
	"kustomization-reconciliation-succeeded-tag-revision.json": {
		config: configName, commit: commitD, finished: true, successful: true,
		statuses: []sdk.Status{ks("Status", sdk.StateSucceeded, "ReconciliationSucceeded", "Reconciliation finished in 3.2s, next run in 1h0m0s")},
	},
	"kustomization-progressing-change-set.json": {
		config: configName, commit: commitA,
		statuses: []sdk.Status{
			progressing,
			group("Deployment", "2 configured"),
			group("HorizontalPodAutoscaler", "1 created"),
			group("Service", "1 configured, 1 created"),
			progressing,
		},
	},
	"kustomization-progressing-kubectl-warnings.json": {
		commit: commitC,
		statuses: []sdk.Status{
			progressing,
			group("service", "1 configured"),
			group("deployment.apps", "2 configured"),
			group("horizontalpodautoscaler.autoscaling", "1 created"),
			group("warnings", "Warnings: 2"),
			progressing,
		},
	},
	"kustomization-progressing-not-a-change-set.json": {
		config: configName, commit: commitA,
		statuses: []sdk.Status{progressing, ks("Info", sdk.StateNotApplicable, "NotApplicable", "Health check passed in 5.0123s"), progressing},
	},
	"kustomization-health-check-failed.json": {
		config: configName, commit: commitE, finished: true,
		statuses: []sdk.Status{healthCheck, unhealthy("Deployment/default/podinfo", "InProgress"), unhealthy("StatefulSet/default/redis", "Failed")},
	},
	"kustomization-health-check-failed-stalled.json": {
		commit: commitE, finished: true,
		statuses: []sdk.Status{healthCheck, unhealthy("Deployment/apps/api", "Failed")},
	},
	"kustomization-health-check-failed-no-brackets.json": {
		commit: commitC, finished: true,
		statuses: []sdk.Status{healthCheck, unhealthy("Deployment/default/podinfo", "InProgress")},
	},
	"kustomization-dependency-not-ready.json": {
		config: configName, commit: commitA,
		statuses: []sdk.Status{ks("Status", sdk.StatePending, "DependencyNotReady", "Dependencies do not meet ready condition (dependency 'flux-system/infra-controllers' is not ready), retrying in 30s")},
	},
	"kustomization-reconciliation-failed.json": {
		config: configName, commit: commitF, finished: true,
		statuses: []sdk.Status{ks("Status", sdk.StateFailed, "ReconciliationFailed", `Service/default/podinfo dry-run failed (Invalid): Service "podinfo" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive`)},
	},
	"kustomization-build-failed.json": {
		config: configName, commit: commitF, finished: true,
		statuses: []sdk.Status{ks("Status", sdk.StateFailed, "BuildFailed", "kustomize build failed: accumulating resources: accumulation err='accumulating resources from './apps': '/tmp/kustomization-1470213/apps' must resolve to a file': couldn't make target for path '/tmp/kustomization-1470213/apps': unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory '/tmp/kustomization-1470213/apps'")},
	},
	"kustomization-validation-failed.json": {
		commit: commitC, finished: true,
		statuses: []sdk.Status{ks("Status", sdk.StateFailed, "ValidationFailed", "Manifests validation failed.")},
	},
	"kustomization-unknown-reason.json": {
		config: configName, commit: commitA,
		statuses: []sdk.Status{ks("Status", sdk.StatePending, "ProgressingWithRetry", "Detecting drift for revision main@sha1:"+commitA+" with a timeout of 9m30s")},
	},
	"kustomization-oci-source-revision.json": {
		config: configName, ignored: "is a sha256 digest of an OCI artifact or a bucket, not a git commit",
	},
	"kustomization-revision-path-traversal.json": {
		config: configName, ignored: "does not end in a 40-digit hex git commit id",
	},
	"kustomization-artifact-failed-no-revision.json": {
		config: configName, ignored: "Flux Kustomization ArtifactFailed event carries no revision",
	},
	"gitrepository-new-artifact.json": {
		config: configName, ignored: "Flux GitRepository NewArtifact events are not handled",
	},
	"gitrepository-succeeded-prefixed-revision.json": {
		config: configName, commit: commitH,
		statuses: []sdk.Status{gitRepo("Status", sdk.StateSucceeded, "Succeeded", "stored artifact for commit 'Merge pull request #42 from org/feature'")},
	},
	"gitrepository-git-operation-failed.json": {
		config: configName, ignored: "Flux GitRepository GitOperationFailed event carries no revision",
	},
	"gitrepository-fetched-revision-message.json": {
		commit:   commitG,
		statuses: []sdk.Status{gitRepo("Status", sdk.StateNotApplicable, "info", "Fetched revision: main/"+commitG)},
	},
	"gitrepository-fetched-revision-metadata-message.json": {
		config: configName, commit: commitB,
		statuses: []sdk.Status{gitRepo("Status", sdk.StateNotApplicable, "info", "Fetched revision: main/"+commitB)},
	},
	"helmrelease-upgrade-succeeded.json": {
		config: configName, ignored: `Flux HelmRelease UpgradeSucceeded event names no git commit: metadata revision: revision "6.5.0" names no git commit`,
	},
	"ocirepository-new-artifact.json": {
		ignored: "Flux OCIRepository NewArtifact events are not handled",
	},
	"ocirepository-new-artifact-origin-revision.json": {
		config: configName, ignored: "Flux OCIRepository NewArtifact events are not handled",
	},
	"kustomization-oci-origin-revision-prefixed.json": {
		config: configName, commit: commitI, finished: true, successful: true,
		statuses: []sdk.Status{ks("Status", sdk.StateSucceeded, "ReconciliationSucceeded", "Reconciliation finished in 1.3s, next run in 10m0s")},
	},
	"kustomization-oci-origin-revision-progressing.json": {
		config: configName, commit: commitI,
		statuses: []sdk.Status{progressing, group("Deployment", "1 configured"), group("Service", "1 configured"), progressing},
	},
	"ocirepository-succeeded-origin-revision-prefixed.json": {
		config: configName, commit: commitI,
		statuses: []sdk.Status{ociRepo(sdk.StateSucceeded, "Succeeded", ociStored)},
	},
	"ocirepository-succeeded-origin-revision.json": {
		config: configName, commit: commitI,
		statuses: []sdk.Status{ociRepo(sdk.StateSucceeded, "Succeeded", ociStored)},
	},
	"helmrelease-upgrade-succeeded-commit-prefixed.json": {
		config: configName, commit: commitJ, finished: true, successful: true,
		statuses: []sdk.Status{release(podinfoRel, sdk.StateSucceeded, "UpgradeSucceeded", "Helm upgrade succeeded for release apps/podinfo.v4 with chart podinfo@6.5.0+b1946ac92492")},
	},
	"helmrelease-install-succeeded-commit.json": {
		config: configName, commit: commitJ, finished: true, successful: true,
		statuses: []sdk.Status{release(podinfoRel, sdk.StateSucceeded, "InstallSucceeded", "Helm install succeeded for release apps/podinfo.v1 with chart podinfo@6.5.0+b1946ac92492")},
	},
	"helmrelease-upgrade-failed-commit.json": {
		config: configName, commit: commitJ, finished: true,
		statuses: []sdk.Status{release(podinfoRel, sdk.StateFailed, "UpgradeFailed", "Helm upgrade failed for release apps/podinfo with chart podinfo@6.5.0+b1946ac92492: context deadline exceeded")},
	},
	"helmrelease-rollback-succeeded-commit-prefixed.json": {
		config: configName, commit: commitJ, finished: true,
		statuses: []sdk.Status{release(podinfoRel, sdk.StateFailed, "RollbackSucceeded", "Helm rollback to previous release apps/podinfo.v4 with chart podinfo@6.4.1+9e1c4d7a2b3f succeeded")},
	},
	"helmrelease-test-failed-commit.json": {
		config: configName, commit: commitJ, finished: true,
		statuses: []sdk.Status{release(podinfoRel, sdk.StateFailed, "TestFailed", "Helm test failed for release apps/podinfo.v4 with chart podinfo@6.5.0+b1946ac92492: pod podinfo-grpc-test-x4k2 failed")},
	},
	"helmrelease-dependency-not-ready-commit.json": {
		config: configName, commit: commitJ,
		statuses: []sdk.Status{release(podinfoRel, sdk.StatePending, "DependencyNotReady", "dependency 'apps/redis' is not ready")},
	},
	"helmrelease-unknown-reason-commit.json": {
		config: configName, commit: commitJ,
		statuses: []sdk.Status{release(podinfoRel, sdk.StatePending, "HealthCheckCanceled", "Health checks canceled for release apps/podinfo: a new reconciliation is running")},
	},
	"helmrelease-uninstall-succeeded-commit.json": {
		config: configName, ignored: "Flux HelmRelease UninstallSucceeded events are not handled: an uninstall deploys no revision",
	},
	"helmrelease-drift-detected-commit.json": {
		config: configName, ignored: "Flux HelmRelease DriftDetected events are not handled: drift is a change in the cluster",
	},
	"helmrelease-oci-chart-origin-revision-prefixed.json": {
		config: configName, commit: commitK, finished: true, successful: true,
		statuses: []sdk.Status{release("HelmRelease/apps/frontend", sdk.StateSucceeded, "UpgradeSucceeded", "Helm upgrade succeeded for release apps/frontend.v7 with chart frontend@1.4.0+6b8e31a9c5f7")},
	},
	"invalid-involved-object-missing.json": {invalid: true},
	"argocd-notification.json": {
		ignored: "not a Flux event",
	},
	"malformed-reason-number.json": {
		config: configName, ignored: "Flux Kustomization event has no reason",
	},
	"malformed-metadata-not-object.json": {
		ignored: "carries no revision",
	},
	"malformed-involved-object-string.json": {
		ignored: "not a Flux event: involvedObject is a JSON string, want an object",
	},
	"malformed-progressing-message-object.json": {
		config: configName, commit: commitA,
		statuses: []sdk.Status{progressing, progressing},
	},
	"invalid-truncated-json.json": {invalid: true},
	"invalid-json-array.json":     {invalid: true},
}

func TestEveryFixtureIsListed(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testdata, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
		if _, ok := fixtures[filepath.Base(f)]; !ok {
			t.Errorf("%s has no expected result in fixtures", f)
		}
	}
	for name := range fixtures {
		if !slices.Contains(names, name) {
			t.Errorf("fixtures lists %s, which is not in %s", name, testdata)
		}
	}
}

func TestParseEventGivesTheExpectedResultForEachFixture(t *testing.T) {
	for name, want := range fixtures {
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join(testdata, name))
			if err != nil {
				t.Fatal(err)
			}
			got, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{Body: body})
			if want.invalid {
				if sdk.KindOf(err) != sdk.KindInvalidInput {
					t.Fatalf("ParseEvent = %+v, %v; want an invalid input error", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseEvent: %v", err)
			}
			if got.ConfigName != want.config {
				t.Errorf("ConfigName = %q, want %q", got.ConfigName, want.config)
			}
			if want.ignored != "" {
				if got.Handled || !strings.Contains(got.Reason, want.ignored) {
					t.Fatalf("got handled=%v reason %q, want ignored with a reason containing %q", got.Handled, got.Reason, want.ignored)
				}
				return
			}
			if !got.Handled {
				t.Fatalf("ignored (%s), want handled", got.Reason)
			}
			if got.CommitID != want.commit || got.Finished != want.finished || got.Successful != want.successful {
				t.Errorf("commit %s finished %v successful %v, want %s %v %v", got.CommitID, got.Finished, got.Successful, want.commit, want.finished, want.successful)
			}
			if !slices.Equal(got.Statuses, want.statuses) {
				t.Errorf("statuses:\n%s\nwant:\n%s", dump(got.Statuses), dump(want.statuses))
			}
		})
	}
}

func dump(statuses []sdk.Status) string {
	var b strings.Builder
	for _, s := range statuses {
		fmt.Fprintf(&b, "  %q %s %q %q genre=%s operator=%s\n", s.Name, s.State, s.RawState, s.Description, s.Genre, s.Operator)
	}
	return b.String()
}

func kustomization(reason, message string, metadata map[string]any) []byte {
	b, err := json.Marshal(map[string]any{
		"involvedObject": map[string]any{"kind": "Kustomization", "name": "apps", "namespace": "flux-system"},
		"reason":         reason,
		"message":        message,
		"metadata":       metadata,
	})
	if err != nil {
		panic(err)
	}
	return b
}

func TestReasonsMapToStatesAndOutcomes(t *testing.T) {
	cases := []struct {
		reason               string
		state                sdk.State
		finished, successful bool
	}{
		{"ReconciliationSucceeded", sdk.StateSucceeded, true, true},
		{"ReconciliationFailed", sdk.StateFailed, true, false},
		{"PruneFailed", sdk.StateFailed, true, false},
		{"ArtifactFailed", sdk.StateFailed, true, false},
		{"BuildFailed", sdk.StateFailed, true, false},
		{"HealthCheckFailed", sdk.StateFailed, true, false},
		{"ValidationFailed", sdk.StateFailed, true, false},
		{"error", sdk.StateFailed, true, false},
		{"Error", sdk.StateError, true, false},
		{"Degraded", sdk.StateError, true, false},
		{"Suspended", sdk.StateError, true, false},
		{"Progressing", sdk.StatePending, false, false},
		{"DependencyNotReady", sdk.StatePending, false, false},
		{"info", sdk.StatePending, false, false},
		{"NotApplicable", sdk.StateNotApplicable, false, false},
		{"Unknown", sdk.StateNotApplicable, false, false},
		{"ProgressingWithRetry", sdk.StatePending, false, false},
		{"SomethingNewInFlux3", sdk.StatePending, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			res, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{
				Body: kustomization(tc.reason, "", map[string]any{"revision": "main@sha1:" + commitA}),
			})
			if err != nil || !res.Handled {
				t.Fatalf("ParseEvent = %+v, %v; want handled", res, err)
			}
			if st := res.Statuses[0]; st.Name != "Status" || st.State != tc.state || st.RawState != tc.reason {
				t.Errorf("Status = %+v, want state %s with raw state %s", st, tc.state, tc.reason)
			}
			if res.Finished != tc.finished || res.Successful != tc.successful {
				t.Errorf("finished %v successful %v, want %v %v", res.Finished, res.Successful, tc.finished, tc.successful)
			}
		})
	}
}

func TestGitRepositoryEventsNeverFinish(t *testing.T) {
	for _, reason := range []string{"ReconciliationSucceeded", "ReconciliationFailed", "Succeeded", "GitOperationFailed"} {
		body := []byte(`{"involvedObject":{"kind":"GitRepository"},"reason":"` + reason + `","metadata":{"revision":"main@sha1:` + commitA + `"}}`)
		res, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{Body: body})
		if err != nil || !res.Handled {
			t.Fatalf("%s: ParseEvent = %+v, %v; want handled", reason, res, err)
		}
		if res.Finished || res.Successful || len(res.Statuses) != 1 {
			t.Errorf("%s: finished %v successful %v with %d statuses, want one status, not finished", reason, res.Finished, res.Successful, len(res.Statuses))
		}
	}
}

func TestTheCommitIsTheFirstGitCommitOfTheKeysOfTheKind(t *testing.T) {
	const (
		ks      = GroupKustomize + "/"
		src     = GroupSource + "/"
		helm    = GroupHelm + "/"
		ann     = GroupEvent + "/"
		oci     = "latest@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
		chart   = "6.5.0+4b5a2e1f9c0d"
		stored  = "stored artifact with revision '" + oci + "' from 'oci://ghcr.io/org/apps', origin source 'https://github.com/org/apps.git', origin revision 'main@sha1:"
		fetchdB = "Fetched revision: main/" + commitB
	)
	cases := []struct {
		name, kind string
		metadata   map[string]any
		message    string
		want       string // commit id; "" when ignored
	}{
		{"commit before originRevision before revision", KindKustomization,
			map[string]any{"revision": "main@sha1:" + commitA, "originRevision": "main@sha1:" + commitB, "commit": commitC}, "", commitC},
		{"originRevision before revision", KindKustomization,
			map[string]any{"revision": "main@sha1:" + commitA, "originRevision": "main@sha1:" + commitB}, "", commitB},
		{"prefixed keys in the same order", KindKustomization,
			map[string]any{ks + "revision": "main@sha1:" + commitA, ks + "originRevision": "main@sha1:" + commitB, ann + "commit": commitC}, "", commitC},
		{"the unprefixed key before the prefixed one", KindKustomization,
			map[string]any{"revision": "main@sha1:" + commitA, ks + "revision": "main@sha1:" + commitB}, "", commitA},
		{"a key before a later key under a prefix", KindKustomization,
			map[string]any{ks + "originRevision": "main@sha1:" + commitB, "revision": "main@sha1:" + commitA}, "", commitB},
		{"an OCI digest is passed over for originRevision", KindKustomization,
			map[string]any{ks + "revision": oci, ks + "originRevision": "main@sha1:" + commitB}, "", commitB},
		{"a commit that is no git commit is passed over", KindKustomization,
			map[string]any{"commit": "not-a-commit", "revision": "main@sha1:" + commitA}, "", commitA},
		{"an originRevision that is no git commit is passed over", KindKustomization,
			map[string]any{"originRevision": "v1.2.0", "revision": "main@sha1:" + commitA}, "", commitA},
		{"an OCI digest alone names no commit", KindKustomization,
			map[string]any{"revision": oci}, "", ""},
		{"another controller's key is not the kind's own", KindKustomization,
			map[string]any{src + "revision": "main@sha1:" + commitB, helm + "originRevision": "main@sha1:" + commitC}, "", ""},
		{"a Fetched revision message is read only for a GitRepository", KindKustomization,
			nil, fetchdB, ""},
		{"git repository: revision before the metadata message", KindGitRepository,
			map[string]any{"revision": "main@sha1:" + commitA, "message": fetchdB, src + "revision": "main@sha1:" + commitC}, "", commitA},
		{"git repository: the prefixed key before the metadata message", KindGitRepository,
			map[string]any{"message": fetchdB, src + "revision": "main@sha1:" + commitC}, "", commitC},
		{"git repository: metadata message", KindGitRepository,
			map[string]any{"message": fetchdB}, "", commitB},
		{"git repository: metadata message with a new revision", KindGitRepository,
			map[string]any{"message": "Fetched revision: main@sha1:" + commitB}, "", commitB},
		{"git repository: prefixed key before the event's message", KindGitRepository,
			map[string]any{src + "revision": "main@sha1:" + commitC}, fetchdB, commitC},
		{"git repository: Fetched revision message", KindGitRepository,
			nil, fetchdB, commitB},
		{"git repository: another message is not a revision", KindGitRepository,
			nil, "stored artifact for commit 'fix: bump to " + commitB + "'", ""},
		{"git repository: the kustomize key is not its own", KindGitRepository,
			map[string]any{ks + "revision": "main@sha1:" + commitC}, "", ""},
		{"oci repository: originRevision", KindOCIRepository,
			map[string]any{src + "revision": oci, src + "originRevision": "main@sha1:" + commitB}, "", commitB},
		{"oci repository: the origin revision of the message", KindOCIRepository,
			map[string]any{src + "revision": oci}, stored + commitC + "'", commitC},
		{"oci repository: a message without origin names no commit", KindOCIRepository,
			map[string]any{"revision": oci}, "stored artifact with revision '" + oci + "' from 'oci://ghcr.io/org/apps'", ""},
		{"helm release: a chart version is passed over for the commit annotation", KindHelmRelease,
			map[string]any{helm + "revision": chart, ann + "commit": commitB}, "", commitB},
		{"helm release: stripped keys", KindHelmRelease,
			map[string]any{"revision": chart, "commit": commitB}, "", commitB},
		{"helm release: originRevision", KindHelmRelease,
			map[string]any{helm + "revision": chart, helm + "originRevision": "main@sha1:" + commitC}, "", commitC},
		{"helm release: a chart version alone names no commit", KindHelmRelease,
			map[string]any{helm + "revision": chart}, "", ""},
		{"a revision that is not a string is absent", KindKustomization,
			map[string]any{"revision": 42, ks + "revision": "main@sha1:" + commitB}, "", commitB},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, err := json.Marshal(map[string]any{
				"involvedObject": map[string]any{"kind": tc.kind},
				"reason":         "Succeeded",
				"message":        tc.message,
				"metadata":       tc.metadata,
			})
			if err != nil {
				t.Fatal(err)
			}
			if tc.kind == KindHelmRelease {
				body = []byte(strings.Replace(string(body), `"Succeeded"`, `"UpgradeSucceeded"`, 1))
			}
			res, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{Body: body})
			if err != nil {
				t.Fatal(err)
			}
			if res.CommitID != tc.want || res.Handled != (tc.want != "") {
				t.Errorf("handled %v commit %q (%s), want commit %q", res.Handled, res.CommitID, res.Reason, tc.want)
			}
		})
	}
}

func TestAnEventThatNamesNoCommitSaysWhatItFound(t *testing.T) {
	body := kustomization("ReconciliationSucceeded", "", map[string]any{
		GroupKustomize + "/revision":       "latest@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		GroupKustomize + "/originRevision": "v1.2.0",
	})
	res, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{Body: body})
	if err != nil || res.Handled {
		t.Fatalf("ParseEvent = %+v, %v; want ignored", res, err)
	}
	for _, want := range []string{"metadata kustomize.toolkit.fluxcd.io/originRevision: revision \"v1.2.0\" names no git commit", "metadata kustomize.toolkit.fluxcd.io/revision: revision \"latest@sha256:", "digest of an OCI artifact"} {
		if !strings.Contains(res.Reason, want) {
			t.Errorf("reason %q does not say %q", res.Reason, want)
		}
	}
}

func TestHelmReleaseReasonsFinishAsTheTableSays(t *testing.T) {
	cases := []struct {
		reason               string
		state                sdk.State
		finished, successful bool
	}{
		{"InstallSucceeded", sdk.StateSucceeded, true, true},
		{"UpgradeSucceeded", sdk.StateSucceeded, true, true},
		{"TestSucceeded", sdk.StateSucceeded, true, true},
		{"InstallFailed", sdk.StateFailed, true, false},
		{"UpgradeFailed", sdk.StateFailed, true, false},
		{"TestFailed", sdk.StateFailed, true, false},
		{"RollbackSucceeded", sdk.StateFailed, true, false},
		{"RollbackFailed", sdk.StateFailed, true, false},
		{"ArtifactFailed", sdk.StateFailed, true, false},
		{"DependencyNotReady", sdk.StatePending, false, false},
		{"ReconciliationSucceeded", sdk.StatePending, false, false}, // no helm-controller reason
		{"Progressing", sdk.StatePending, false, false},
		{"SomethingNewInHelmController", sdk.StatePending, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			body := []byte(`{"involvedObject":{"kind":"HelmRelease","namespace":"apps","name":"podinfo"},"reason":"` + tc.reason + `","message":"m","metadata":{"commit":"` + commitA + `"}}`)
			res, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{Body: body})
			if err != nil || !res.Handled {
				t.Fatalf("ParseEvent = %+v, %v; want handled", res, err)
			}
			want := []sdk.Status{release(podinfoRel, tc.state, tc.reason, "m")}
			if !slices.Equal(res.Statuses, want) || res.Finished != tc.finished || res.Successful != tc.successful {
				t.Errorf("got %+v finished %v successful %v; want %+v %v %v", res.Statuses, res.Finished, res.Successful, want, tc.finished, tc.successful)
			}
		})
	}
	for _, reason := range []string{"UninstallSucceeded", "UninstallFailed", "DriftDetected", "NoDriftDetected", "DriftCorrected", "DriftCorrectionFailed"} {
		body := []byte(`{"involvedObject":{"kind":"HelmRelease"},"reason":"` + reason + `","metadata":{"commit":"` + commitA + `"}}`)
		res, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{Body: body})
		if err != nil || res.Handled || !strings.Contains(res.Reason, reason+" events are not handled") {
			t.Errorf("%s: ParseEvent = %+v, %v; want ignored", reason, res, err)
		}
	}
}

func TestAReleaseStatusIsNamedAfterTheObject(t *testing.T) {
	cases := map[string]string{
		`{"kind":"HelmRelease","namespace":"apps","name":"podinfo"}`: "HelmRelease/apps/podinfo",
		`{"kind":"HelmRelease","name":"podinfo"}`:                    "HelmRelease/podinfo",
		`{"kind":"HelmRelease"}`:                                     "HelmRelease",
	}
	for obj, want := range cases {
		body := []byte(`{"involvedObject":` + obj + `,"reason":"InstallSucceeded","metadata":{"commit":"` + commitA + `"}}`)
		res, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{Body: body})
		if err != nil || len(res.Statuses) != 1 || res.Statuses[0].Name != want {
			t.Errorf("%s: ParseEvent = %+v, %v; want one status named %s", obj, res, err, want)
		}
	}
}

func TestSourceEventsNeverPostAPendingStatus(t *testing.T) {
	for _, kind := range []string{KindGitRepository, KindOCIRepository} {
		for _, reason := range []string{"info", "Progressing", "SomethingNew", "Succeeded", "ArtifactFailed"} {
			body := []byte(`{"involvedObject":{"kind":"` + kind + `"},"reason":"` + reason + `","metadata":{"revision":"main@sha1:` + commitA + `"}}`)
			res, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{Body: body})
			if err != nil || !res.Handled || len(res.Statuses) != 1 {
				t.Fatalf("%s %s: ParseEvent = %+v, %v; want one status", kind, reason, res, err)
			}
			if st := res.Statuses[0]; st.State == sdk.StatePending || st.RawState != reason {
				t.Errorf("%s %s: status %+v: want a state that is not pending, with the reason as raw state", kind, reason, st)
			}
		}
	}
}

func TestABodyThatIsNoFluxEventIsInvalidInputForAFluxConfig(t *testing.T) {
	cfg := &sdk.Config{Name: "flux", Settings: map[string]string{"gitOpsOperatorType": "FLUX"}}
	cases := map[string]string{
		`{"reason":"ReconciliationSucceeded"}`:             "not a Flux event: the body has no involvedObject",
		`{"involvedObject":null}`:                          "not a Flux event: the body has no involvedObject",
		`{"involvedObject":"Kustomization/flux/apps"}`:     "not a Flux event: involvedObject is a JSON string, want an object",
		`{"involvedObject":["Kustomization"]}`:             "not a Flux event: involvedObject is a JSON array, want an object",
		`{"involvedObject":{"name":"apps"}}`:               "not a Flux event: involvedObject has no kind",
		`{"commitid":"` + commitA + `","phase":"Running"}`: "not a Flux event: the body has no involvedObject",
	}
	for body, want := range cases {
		_, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{Config: cfg, Body: []byte(body)})
		if sdk.KindOf(err) != sdk.KindInvalidInput || !strings.Contains(err.Error(), want) {
			t.Errorf("for a config, ParseEvent(%s) = %v, want an invalid input error saying %q", body, err, want)
		}
		res, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{Body: []byte(body)})
		if err != nil || res.Handled || !strings.Contains(res.Reason, want) {
			t.Errorf("without a config, ParseEvent(%s) = %+v, %v; want ignored saying %q", body, res, err, want)
		}
	}
}

// logLines runs parse with a Flux that logs into a buffer and returns the
// logged messages with their attributes.
func logLines(parse func(f *Flux)) []map[string]any {
	log := &hostproc.Log{}
	parse(New(slog.New(slog.NewJSONHandler(log, nil))))
	return log.Lines()
}

func TestAnUnknownReasonIsLoggedOnce(t *testing.T) {
	lines := logLines(func(f *Flux) {
		for _, reason := range []string{"ProgressingWithRetry", "ProgressingWithRetry", "ReconciliationSucceeded", "DriftDetected", "ProgressingWithRetry"} {
			body := kustomization(reason, "", map[string]any{"revision": "main@sha1:" + commitA})
			if _, err := f.ParseEvent(context.Background(), sdk.ParseRequest{Body: body}); err != nil {
				t.Fatal(err)
			}
		}
	})
	var reasons []any
	for _, l := range lines {
		if l["level"] != "WARN" {
			t.Errorf("log line %v is not a warning", l)
		}
		reasons = append(reasons, l["reason"])
	}
	if want := []any{"ProgressingWithRetry", "DriftDetected"}; !slices.Equal(reasons, want) {
		t.Errorf("logged reasons %v, want %v", reasons, want)
	}
}

func TestAMistypedFieldIsLoggedOnce(t *testing.T) {
	lines := logLines(func(f *Flux) {
		for range 3 {
			body := []byte(`{"involvedObject":{"kind":"Kustomization"},"reason":7,"metadata":{"revision":"main@sha1:` + commitA + `","other":1}}`)
			if _, err := f.ParseEvent(context.Background(), sdk.ParseRequest{Body: body}); err != nil {
				t.Fatal(err)
			}
		}
	})
	if len(lines) != 1 || lines[0]["field"] != "reason: number" {
		t.Errorf("logged %v, want one line for field %q", lines, "reason: number")
	}
}

func TestLoggedValuesAreBoundedInNumber(t *testing.T) {
	lines := logLines(func(f *Flux) {
		for i := range maxReported + 50 {
			body := kustomization(fmt.Sprintf("NewReason%d", i), "", map[string]any{"revision": "main@sha1:" + commitA})
			if _, err := f.ParseEvent(context.Background(), sdk.ParseRequest{Body: body}); err != nil {
				t.Fatal(err)
			}
		}
	})
	if len(lines) != maxReported {
		t.Errorf("logged %d lines, want %d", len(lines), maxReported)
	}
}

func TestDetailStatusesAreBounded(t *testing.T) {
	var changeSet, resources []string
	for i := range maxDetailStatuses + 10 {
		changeSet = append(changeSet, fmt.Sprintf("Kind%d/default/x created", i))
		resources = append(resources, fmt.Sprintf("Deployment/default/app%d status: 'InProgress'", i))
	}
	cases := map[string]string{
		"Progressing":       strings.Join(changeSet, "\n"),
		"HealthCheckFailed": "timeout waiting for: [" + strings.Join(resources, ", ") + "]",
	}
	for reason, message := range cases {
		res, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{
			Body: kustomization(reason, message, map[string]any{"revision": "main@sha1:" + commitA}),
		})
		if err != nil {
			t.Fatal(err)
		}
		var details int
		for _, s := range res.Statuses {
			if s.Name != "Status" {
				details++
			}
		}
		if details != maxDetailStatuses {
			t.Errorf("%s: %d detail statuses, want %d", reason, details, maxDetailStatuses)
		}
	}
}

func TestConfigNameIsReportedForIgnoredEventsToo(t *testing.T) {
	body := []byte(`{"involvedObject":{"kind":"HelmRelease"},"reason":"UpgradeSucceeded","metadata":{"gitops_connector_config_name":" prod "}}`)
	res, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{Body: body})
	if err != nil || res.Handled || res.ConfigName != "prod" {
		t.Errorf("ParseEvent = %+v, %v; want ignored for config prod", res, err)
	}
}

func TestBodiesThatAreNoJSONObjectAreInvalidInput(t *testing.T) {
	cases := map[string]string{
		"":                "body is empty",
		"  \n":            "body is empty",
		"null":            "body is a JSON null",
		"[]":              "body is a JSON array",
		`"Kustomization"`: "body is a JSON string",
		"42":              "body is a JSON number",
		"true":            "body is a JSON boolean",
		`{"reason":`:      "body is not valid JSON",
		"\xff":            "body is not valid JSON",
	}
	for body, want := range cases {
		_, err := New(nil).ParseEvent(context.Background(), sdk.ParseRequest{Body: []byte(body)})
		if sdk.KindOf(err) != sdk.KindInvalidInput || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseEvent(%q) = %v, want an invalid input error saying %q", body, err, want)
		}
	}
}

func TestValidateConfigAcceptsAnyFluxConfig(t *testing.T) {
	cases := []struct {
		settings map[string]string
		wantErr  bool
	}{
		{nil, false},
		{map[string]string{"gitOpsOperatorType": "FLUX"}, false},
		{map[string]string{"gitOpsOperatorType": "flux", "gitRepositoryType": "GITHUB"}, false},
		{map[string]string{"gitOpsOperatorType": "ARGOCD"}, true},
	}
	for _, tc := range cases {
		errs, err := New(nil).ValidateConfig(context.Background(), sdk.Config{Name: "c", Settings: tc.settings, Token: "secret-pat"})
		if err != nil {
			t.Fatal(err)
		}
		if (len(errs) > 0) != tc.wantErr {
			t.Errorf("ValidateConfig(%v) = %v, want errors: %v", tc.settings, errs, tc.wantErr)
		}
		for _, e := range errs {
			if e.Field != "gitOpsOperatorType" || strings.Contains(e.Message, "secret-pat") {
				t.Errorf("field error %+v: want field gitOpsOperatorType without the token", e)
			}
		}
	}
}

func TestParseEventIsSafeForConcurrentUse(t *testing.T) {
	f := New(slog.New(slog.DiscardHandler))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				body := kustomization(fmt.Sprintf("Reason%d", (i*50+j)%300), "Deployment/default/a configured", map[string]any{"revision": "main@sha1:" + commitA})
				if res, err := f.ParseEvent(context.Background(), sdk.ParseRequest{Body: body}); err != nil || !res.Handled {
					t.Errorf("ParseEvent = %+v, %v", res, err)
				}
			}
		})
	}
	wg.Wait()
}

// TestNoPostedContextStaysPendingAfterASuccessfulDeployment replays every
// sequence of up to three fixture events of one deployment — its
// Kustomization's or HelmRelease's, and its sources' — followed by one that
// finishes it successfully, all on one commit, and checks that no context
// is left pending on GitHub or Azure DevOps.
func TestNoPostedContextStaysPendingAfterASuccessfulDeployment(t *testing.T) {
	// A source's event has no owner: it may come before any deployment's.
	evs := pending.Fixtures(t, New(nil), testdata, maps.Keys(fixtures), func(res sdk.ParseResult) string {
		switch genre := res.Statuses[0].Genre; genre {
		case KindKustomization:
			return genre
		case KindHelmRelease:
			return res.Statuses[0].Name
		}
		return ""
	})
	if len(evs) < 30 {
		t.Fatalf("only %d handled fixtures", len(evs))
	}
	for _, line := range pending.LeftPending(evs, 3) {
		t.Error(line)
	}
}
