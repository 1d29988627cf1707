package events

import (
	"encoding/json"
	"reflect"
	"testing"
)

// decode reads a body as generic JSON, as the operator plugins do.
func decode(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %s is not a JSON object: %v", body, err)
	}
	return m
}

func TestFluxCarriesWhatTheFluxPluginReads(t *testing.T) {
	ev := decode(t, Flux("Kustomization", "Progressing", "Deployment/default/podinfo configured\nService/default/podinfo created",
		"main@sha1:9f8e7d6c5b4a39281706f5e4d3c2b1a098765432", "app"))

	obj, _ := ev["involvedObject"].(map[string]any)
	if obj["kind"] != "Kustomization" || obj["namespace"] != "flux-system" || obj["name"] != "apps" {
		t.Errorf("involvedObject = %v, want the Kustomization flux-system/apps", ev["involvedObject"])
	}
	if ev["reason"] != "Progressing" {
		t.Errorf("reason = %v", ev["reason"])
	}
	if ev["message"] != "Deployment/default/podinfo configured\nService/default/podinfo created" {
		t.Errorf("message = %q, want the change set with its line break", ev["message"])
	}
	want := map[string]any{
		"revision":                     "main@sha1:9f8e7d6c5b4a39281706f5e4d3c2b1a098765432",
		"gitops_connector_config_name": "app",
	}
	if !reflect.DeepEqual(ev["metadata"], want) {
		t.Errorf("metadata = %v, want %v", ev["metadata"], want)
	}
}

func TestFluxLeavesOutAnEmptyRevisionAndConfigName(t *testing.T) {
	ev := decode(t, Flux("GitRepository", "NewArtifact", "stored artifact", "", ""))
	if obj, _ := ev["involvedObject"].(map[string]any); obj["kind"] != "GitRepository" {
		t.Errorf("involvedObject = %v, want kind GitRepository", ev["involvedObject"])
	}
	if meta, ok := ev["metadata"].(map[string]any); !ok || len(meta) != 0 {
		t.Errorf("metadata = %#v, want an empty object", ev["metadata"])
	}
}

func TestFluxObjectNamesTheObjectAndItsControllerAndKeepsTheKeys(t *testing.T) {
	meta := map[string]string{"helm.toolkit.fluxcd.io/revision": "6.5.0+4b5a2e1f9c0d", "event.toolkit.fluxcd.io/commit": "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"}
	ev := decode(t, FluxObject(FluxRef{Kind: "HelmRelease", Namespace: "apps", Name: "podinfo"}, "UpgradeSucceeded", "Helm upgrade succeeded", meta))
	obj, _ := ev["involvedObject"].(map[string]any)
	if obj["kind"] != "HelmRelease" || obj["namespace"] != "apps" || obj["name"] != "podinfo" || obj["apiVersion"] != "helm.toolkit.fluxcd.io/v2" {
		t.Errorf("involvedObject = %v, want the HelmRelease apps/podinfo of helm.toolkit.fluxcd.io/v2", obj)
	}
	if ev["reportingController"] != "helm-controller" || ev["reason"] != "UpgradeSucceeded" {
		t.Errorf("reportingController %v, reason %v", ev["reportingController"], ev["reason"])
	}
	want := map[string]any{}
	for k, v := range meta {
		want[k] = v
	}
	if !reflect.DeepEqual(ev["metadata"], want) {
		t.Errorf("metadata = %v, want %v", ev["metadata"], want)
	}
}

func TestArgoCarriesTheSeedTemplatesFields(t *testing.T) {
	body := decode(t, Argo("9f8e7d6c5b4a39281706f5e4d3c2b1a098765432", "Running", "OutOfSync", "Progressing",
		"waiting for healthy state of apps/Deployment/podinfo", "my-app",
		Resource("apps/Deployment", "podinfo", "OutOfSync", "Progressing"),
		Resource("Service", "podinfo", "Synced", "Healthy")))

	want := map[string]any{
		"commitid":                     "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432",
		"phase":                        "Running",
		"sync_status":                  "OutOfSync",
		"health":                       "Progressing",
		"message":                      "waiting for healthy state of apps/Deployment/podinfo",
		"gitops_connector_config_name": "my-app",
		"resources": []any{
			map[string]any{"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "default", "name": "podinfo",
				"status": "OutOfSync", "health": map[string]any{"status": "Progressing"}},
			map[string]any{"version": "v1", "kind": "Service", "namespace": "default", "name": "podinfo",
				"status": "Synced", "health": map[string]any{"status": "Healthy"}},
		},
	}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("body = %v\nwant   %v", body, want)
	}
}

func TestArgoWithoutAnnotationOrResources(t *testing.T) {
	body := decode(t, Argo("9f8e7d6c5b4a39281706f5e4d3c2b1a098765432", "Succeeded", "Synced", "Healthy", "successfully synced", ""))
	if v, ok := body["gitops_connector_config_name"]; !ok || v != "" {
		t.Errorf("gitops_connector_config_name = %#v (present %v), want \"\"", v, ok)
	}
	if v, ok := body["resources"]; !ok || v != nil {
		t.Errorf("resources = %#v (present %v), want null", v, ok)
	}
}

func TestResourceWithoutHealthHasNoHealthField(t *testing.T) {
	r := decode(t, marshal(Resource("ConfigMap", "settings", "Synced", "")))
	want := map[string]any{"version": "v1", "kind": "ConfigMap", "namespace": "default", "name": "settings", "status": "Synced"}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("resource = %v, want %v", r, want)
	}
}
