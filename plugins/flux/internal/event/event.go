// Package event reads the events Flux's notification-controller posts to a
// "generic" Provider and turns them into the connector's commit statuses.
//
// The body is a Flux event (type Event of github.com/fluxcd/pkg/apis/event):
//
//	involvedObject       {kind, name, namespace, ...} of the reconciled object
//	reason               e.g. ReconciliationSucceeded, Progressing, UpgradeSucceeded
//	message              what happened; for Kustomizations also the applied change set
//	severity, timestamp, reportingController, reportingInstance
//	metadata             commit, originRevision, revision, the Alert's
//	                     spec.eventMetadata (gitops_connector_config_name), ...
//
// The controllers write their metadata keys under their API group
// (kustomize.toolkit.fluxcd.io/revision, helm.toolkit.fluxcd.io/revision)
// and notification-controller copies the event.toolkit.fluxcd.io/<key>
// annotations of the object; notification-controller v1.5 and later strip
// those prefixes before forwarding, earlier versions forward the keys as
// written. Both forms are read: see Commit for the keys and their order.
//
// The body is decoded tolerantly, field by field, instead of into the
// upstream event type: that type pulls in the Kubernetes API modules, and one
// field of the wrong JSON type (a number as reason) would make the whole body
// undecodable. A field of the wrong type is read as absent and logged once.
//
// What is handled and what is ignored:
//
//   - A body that is not a JSON object is an sdk.InvalidInput error (the host
//     answers 400).
//   - A JSON object without an involvedObject object that has a kind is not a
//     Flux event: parsed for a config (the host knows the config is Flux's),
//     or naming one in metadata.gitops_connector_config_name, it is an
//     sdk.InvalidInput error with the reason; otherwise (the host offers
//     the body to each operator to find the config it names) it is ignored
//     with the reason, since it may be another operator's.
//   - Kustomization, GitRepository, OCIRepository and HelmRelease events are
//     handled, except the sources' NewArtifact events and the HelmRelease
//     reasons that deploy no revision (see the table in reasons.go); other
//     kinds are ignored.
//   - An event without a reason, or without a metadata value that names a
//     git commit, is ignored with a reason (see Commit).
//
// Everything else is handled: the statuses are described in Parse. The
// result depends only on the body, so a re-sent event gives the same result.
package event

import "strings"

// Kinds of the Flux objects the connector handles.
const (
	KindKustomization = "Kustomization"
	KindGitRepository = "GitRepository"
	KindOCIRepository = "OCIRepository"
	KindHelmRelease   = "HelmRelease"
)

// API groups of the Flux controllers, the prefixes of their metadata keys
// (<group>/<key>).
const (
	GroupKustomize = "kustomize.toolkit.fluxcd.io"
	GroupSource    = "source.toolkit.fluxcd.io"
	GroupHelm      = "helm.toolkit.fluxcd.io"
	// GroupEvent prefixes the keys the controllers copy from the object's
	// event.toolkit.fluxcd.io/<key> annotations.
	GroupEvent = "event.toolkit.fluxcd.io"
)

// kindGroups is the API group of each handled kind: the prefix its
// controller writes its metadata keys under.
var kindGroups = map[string]string{
	KindKustomization: GroupKustomize,
	KindGitRepository: GroupSource,
	KindOCIRepository: GroupSource,
	KindHelmRelease:   GroupHelm,
}

// Metadata keys the connector reads, without their group prefix (the key
// constants of fluxcd/pkg/apis/event).
const (
	// MetaConfigName routes the event to a config: Flux copies the Alert's
	// spec.eventMetadata into the event's metadata.
	MetaConfigName = "gitops_connector_config_name"
	// MetaCommit is a git commit id, set by an
	// event.toolkit.fluxcd.io/commit annotation on the object.
	MetaCommit = "commit"
	// MetaOriginRevision is the revision of the git commit a source
	// artifact was built from: kustomize-controller writes it for an OCI
	// artifact's org.opencontainers.image.revision annotation.
	MetaOriginRevision = "originRevision"
	// MetaRevision is the revision of the object's source: a git revision,
	// an OCI digest, a chart version.
	MetaRevision = "revision"
	// MetaMessage carries "Fetched revision: <branch>/<sha>" in an early
	// form of the GitRepository event.
	MetaMessage = "message"
)

// Event is one decoded Flux event. String fields are trimmed of surrounding
// white space, except Message (its lines matter); a field that is absent,
// null or of the wrong JSON type is "".
type Event struct {
	// IsFlux is true when the body has an involvedObject object with a kind:
	// without it, the body is not a Flux event, and NotFlux says why.
	IsFlux  bool
	NotFlux string
	// Kind, Namespace and Name are the reconciled object's (involvedObject).
	Kind      string
	Namespace string
	Name      string
	Reason    string
	Message   string
	// Metadata holds the metadata entries whose value is a string.
	Metadata map[string]string
	// Mistyped names the fields the connector reads that had the wrong JSON
	// type (and were read as absent), with the type they had:
	// "reason: number".
	Mistyped []string
}

// ConfigName is the config the event addresses (metadata
// gitops_connector_config_name), or "".
func (ev Event) ConfigName() string { return strings.TrimSpace(ev.Metadata[MetaConfigName]) }
