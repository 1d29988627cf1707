package e2e

import (
	"encoding/json"
)

// fluxEvent is a notification-controller "generic" provider body.
func fluxEvent(kind, reason, message, revision, configName string) []byte {
	meta := map[string]string{}
	if revision != "" {
		meta["revision"] = revision
	}
	if configName != "" {
		meta["gitops_connector_config_name"] = configName
	}
	b, _ := json.Marshal(map[string]any{
		"involvedObject": map[string]string{
			"kind": kind, "namespace": "flux-system", "name": "apps",
			"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "uid": "7d0cdc51-ddcf-4743-b223-83ca5c699632",
		},
		"severity":            "info",
		"timestamp":           "2026-11-24T10:15:42Z",
		"message":             message,
		"reason":              reason,
		"metadata":            meta,
		"reportingController": "kustomize-controller",
		"reportingInstance":   "kustomize-controller-7f5c6b7d9-x2x5q",
	})
	return b
}

// argoEvent is the body the seed's Argo CD notification template renders.
func argoEvent(commit, phase, syncStatus, health, message, configName string, resources []map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{
		"commitid":                     commit,
		"phase":                        phase,
		"sync_status":                  syncStatus,
		"health":                       health,
		"message":                      message,
		"resources":                    resources,
		"gitops_connector_config_name": configName,
	})
	return b
}

func resource(kind, name, status, health string) map[string]any {
	r := map[string]any{"group": "apps", "version": "v1", "kind": kind, "namespace": "default", "name": name, "status": status}
	if health != "" {
		r["health"] = map[string]string{"status": health}
	}
	return r
}

const progressingMessage = "Deployment/default/podinfo configured\nService/default/podinfo created\nHorizontalPodAutoscaler/default/podinfo unchanged\nDeployment/default/frontend configured"
