package e2e

import (
	"strings"
	"testing"

	"github.com/gitops-connector/gitops-connector/testkit/events"
)

// ociDigest is the digest of the OCI artifact built from commit sha.
const ociDigest = "sha256:6b8e31a9c5f7d2e4a0b3c6d9e2f5a8b1c4d7e0f3a6b9c2d5e8f1a4b7c0d3e6f9"

// fluxSource is one way Flux deploys commit sha of the manifests
// repository: the events its controllers send, in order, with the answer
// each must get, and the statuses the repository must show at the end.
type fluxSource struct {
	name   string
	events []fluxEvent
	// github and azdo are the "context=state" of the statuses posted on
	// sha, in order; genre is the Azure DevOps context genre of each.
	github, azdo []string
	genre        string
}

type fluxEvent struct {
	body     []byte
	accepted bool // 202; else 200 ignored
}

var (
	appsKustomization = events.FluxRef{Kind: "Kustomization", Namespace: "flux-system", Name: "apps"}
	appsOCIRepository = events.FluxRef{Kind: "OCIRepository", Namespace: "flux-system", Name: "apps"}
	podinfoRelease    = events.FluxRef{Kind: "HelmRelease", Namespace: "apps", Name: "podinfo"}
)

// fluxSources are a Kustomization whose source is an OCIRepository holding
// an artifact pushed with --revision main@sha1:<sha> (so it carries
// org.opencontainers.image.revision), and a HelmRelease of a chart from the
// manifests repository annotated event.toolkit.fluxcd.io/commit: <sha>.
// Their metadata keys come as the controllers write them (with the API
// group prefix, as notification-controller before v1.5 forwards them) and
// stripped (v1.5 and later).
var fluxSources = []fluxSource{
	{
		name: "OCI Kustomization",
		events: []fluxEvent{
			{events.FluxObject(appsOCIRepository, "NewArtifact",
				"stored artifact with revision 'latest@"+ociDigest+"' from 'oci://ghcr.io/kaizentm/manifests/apps', origin source 'https://github.com/kaizentm/gitops-manifests.git', origin revision 'main@sha1:"+sha+"'",
				map[string]string{"source.toolkit.fluxcd.io/revision": "latest@" + ociDigest, "source.toolkit.fluxcd.io/digest": ociDigest}), false},
			{events.FluxObject(appsKustomization, "Progressing", progressingMessage,
				map[string]string{"kustomize.toolkit.fluxcd.io/revision": "latest@" + ociDigest, "kustomize.toolkit.fluxcd.io/originRevision": "main@sha1:" + sha}), true},
			{events.FluxObject(appsKustomization, "ReconciliationSucceeded", "Reconciliation finished in 1.3s, next run in 10m0s",
				map[string]string{"kustomize.toolkit.fluxcd.io/revision": "latest@" + ociDigest, "kustomize.toolkit.fluxcd.io/originRevision": "main@sha1:" + sha}), true},
			// Flux repeats it every interval; here as notification-controller
			// v1.5 and later forward it.
			{events.FluxObject(appsKustomization, "ReconciliationSucceeded", "Reconciliation finished in 1.3s, next run in 10m0s",
				map[string]string{"revision": "latest@" + ociDigest, "originRevision": "main@sha1:" + sha}), true},
		},
		github: []string{"Status=pending", "Deployment=success", "Service=success", "HorizontalPodAutoscaler=success", "Status=pending", "Status=success"},
		azdo:   []string{"Status=pending", "Deployment=notApplicable", "Service=notApplicable", "HorizontalPodAutoscaler=notApplicable", "Status=pending", "Status=succeeded"},
		genre:  "Kustomization",
	},
	{
		name: "HelmRelease of a git chart",
		events: []fluxEvent{
			{events.FluxObject(podinfoRelease, "DependencyNotReady", "dependency 'apps/redis' is not ready",
				map[string]string{"event.toolkit.fluxcd.io/commit": sha}), true},
			// An unknown reason: pending, and logged by the plugin.
			{events.FluxObject(podinfoRelease, "HealthCheckCanceled", "Health checks canceled for release apps/podinfo",
				map[string]string{"event.toolkit.fluxcd.io/commit": sha}), true},
			{events.FluxObject(podinfoRelease, "UpgradeSucceeded", "Helm upgrade succeeded for release apps/podinfo.v4 with chart podinfo@6.5.0+3e3d3f0c8a1b",
				map[string]string{"helm.toolkit.fluxcd.io/revision": "6.5.0+3e3d3f0c8a1b", "event.toolkit.fluxcd.io/commit": sha}), true},
			{events.FluxObject(podinfoRelease, "UpgradeSucceeded", "Helm upgrade succeeded for release apps/podinfo.v4 with chart podinfo@6.5.0+3e3d3f0c8a1b",
				map[string]string{"revision": "6.5.0+3e3d3f0c8a1b", "commit": sha}), true},
			// A drift correction deploys nothing.
			{events.FluxObject(podinfoRelease, "DriftCorrected", "Cluster state of release apps/podinfo.v4 has been corrected",
				map[string]string{"commit": sha}), false},
		},
		github: []string{"HelmRelease/apps/podinfo=pending", "HelmRelease/apps/podinfo=pending", "HelmRelease/apps/podinfo=success"},
		azdo:   []string{"HelmRelease/apps/podinfo=pending", "HelmRelease/apps/podinfo=pending", "HelmRelease/apps/podinfo=succeeded"},
		genre:  "HelmRelease",
	},
}

// post sends the events of src and checks each answer; it returns how many
// were accepted.
func (src fluxSource) post(t *testing.T, h *host) int {
	t.Helper()
	accepted := 0
	for i, ev := range src.events {
		a := h.Post(t, "", ev.body)
		switch {
		case ev.accepted && (!a.Taken() || a.Commit != sha):
			t.Fatalf("event %d: %d %s, want accepted for commit %s", i, a.Code, a.Raw, sha)
		case !ev.accepted && (a.Code != 200 || a.Status != "ignored" || a.Reason == ""):
			t.Fatalf("event %d: %d %s, want ignored with the reason", i, a.Code, a.Raw)
		case ev.accepted:
			accepted++
		}
	}
	return accepted
}

func TestFluxOCIAndHelmSourcesPostOnTheOriginCommitAndDispatchOnce(t *testing.T) {
	for _, src := range fluxSources {
		t.Run(src.name, func(t *testing.T) {
			fake := newGitHub(t)
			h := startHost(t, hostOptions{Env: githubEnv(fake, "FLUX")})
			h.Settle(t, src.post(t, h))
			checkStatuses(t, "statuses on the origin commit", contexts(fake), src.github)
			ds := fake.Dispatches(owner, actions)
			if len(ds) != 1 || ds[0].EventType != "sync-success" || ds[0].ClientPayload["sha"] != sourceSHA {
				t.Fatalf("dispatches %+v, want one sync-success for %s", ds, sourceSHA)
			}
		})
	}
}

func TestFluxOCIAndHelmSourcesPostOnTheOriginCommitAndCompleteTheTaskOnce(t *testing.T) {
	for _, src := range fluxSources {
		t.Run(src.name, func(t *testing.T) {
			fake := newAzureDevOps(t)
			h := startHost(t, hostOptions{Env: azdoEnv(fake, "FLUX")})
			h.Settle(t, src.post(t, h))
			checkStatuses(t, "statuses on the origin commit", azdoContexts(fake), src.azdo)
			for _, s := range fake.Statuses(azdoRepo, sha) {
				if s.Context.Genre != src.genre {
					t.Errorf("status %+v: want genre %s", s, src.genre)
				}
			}
			planEvents := fake.Events()
			if len(planEvents) != 1 || planEvents[0].Name != "TaskCompleted" || planEvents[0].Result != "succeeded" {
				t.Fatalf("plan events %+v, want one TaskCompleted succeeded", planEvents)
			}
		})
	}
}

// TestAPluginsWarningReachesTheHostsLogAsAWarning checks that what a
// plugin process logs (the Flux plugin on an unknown reason) is in the
// host's log at its level, with its attributes and the plugin's name.
func TestAPluginsWarningReachesTheHostsLogAsAWarning(t *testing.T) {
	fake := newGitHub(t)
	h := startHost(t, hostOptions{Env: githubEnv(fake, "FLUX")})
	h.Accept(t, "", events.FluxObject(podinfoRelease, "HealthCheckCanceled", "Health checks canceled", map[string]string{"commit": sha}))
	eventually(t, "the plugin's warning in the host's log", func() string {
		for _, l := range h.Log.Lines() {
			if l["msg"] == "unknown Flux reason; treated as pending, not finished" {
				if l["level"] != "WARN" || l["plugin"] != "flux" || l["reason"] != "HealthCheckCanceled" || l["kind"] != "HelmRelease" {
					return "the line is " + strings.TrimSpace(h.Log.String())
				}
				return ""
			}
		}
		return "no line yet"
	})
}
