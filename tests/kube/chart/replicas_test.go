package chart

import (
	"maps"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Three replicas on NATS in multiple-instances mode render every object a
// highly available release needs: the queue's settings and Secret files
// instead of a data directory, the pod's identity, the Lease Role, a
// PodDisruptionBudget and anti-affinity.
func TestReplicasOnNATS(t *testing.T) {
	r := render(t, install{files: []string{natsReplicasValues}})
	got := r.kinds()
	slices.Sort(got)
	want := []string{
		"ClusterRole/gitops:gitops-connector", "ClusterRoleBinding/gitops:gitops-connector",
		"ConfigMap/gitops-connector", "CustomResourceDefinition/gitopsconfigs.example.com",
		"Deployment/gitops-connector", "PodDisruptionBudget/gitops-connector",
		"Role/gitops-connector-lease", "RoleBinding/gitops-connector-lease",
		"Secret/gitops-connector", "Service/gitops-connector", "ServiceAccount/gitops-connector",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("objects:\n got %v\nwant %v", got, want)
	}
	d := r.deployment(t)

	t.Run("replicas roll one at a time", func(t *testing.T) {
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
			t.Errorf("replicas = %v, want 3", d.Spec.Replicas)
		}
		if s := d.Spec.Strategy; s.Type != appsv1.RollingUpdateDeploymentStrategyType {
			t.Errorf("strategy = %s, want RollingUpdate", s.Type)
		}
	})

	t.Run("queue settings, no data directory", func(t *testing.T) {
		env := r.environment(t)
		wantEnv := map[string]string{
			"GITOPS_CONNECTOR_QUEUE":               "nats://nats.nats.svc:4222",
			"GITOPS_CONNECTOR_QUEUE_NAME":          "gitops-connector",
			"GITOPS_CONNECTOR_QUEUE_REPLICAS":      "3",
			"GITOPS_CONNECTOR_QUEUE_CREDS_FILE":    "/etc/gitops-connector/nats/credentials/user.creds",
			"GITOPS_CONNECTOR_QUEUE_TLS_CA_FILE":   "/etc/gitops-connector/nats/tls/ca.crt",
			"GITOPS_CONNECTOR_QUEUE_TLS_CERT_FILE": "/etc/gitops-connector/nats/tls/tls.crt",
			"GITOPS_CONNECTOR_QUEUE_TLS_KEY_FILE":  "/etc/gitops-connector/nats/tls/tls.key",
		}
		for k, v := range wantEnv {
			if env[k] != v {
				t.Errorf("%s = %q, want %q", k, env[k], v)
			}
		}
		// The host refuses --queue with --data-dir.
		for _, k := range []string{"GITOPS_CONNECTOR_DATA_DIR", "GITOPS_CONNECTOR_QUEUE_TOKEN", "GITOPS_CONNECTOR_QUEUE_NKEY_FILE", "GITOPS_CONNECTOR_QUEUE_TOKEN_FILE"} {
			if v, ok := env[k]; ok {
				t.Errorf("%s = %q is set", k, v)
			}
		}
		mounts := r.mounts(t)
		if _, ok := mounts["/var/lib/gitops-connector"]; ok {
			t.Error("data directory mounted")
		}
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name == "data" || v.PersistentVolumeClaim != nil {
				t.Errorf("volume %+v", v)
			}
		}
		for path, secret := range map[string]string{
			"/etc/gitops-connector/nats/credentials": "nats-user",
			"/etc/gitops-connector/nats/tls":         "nats-tls",
		} {
			m, ok := mounts[path]
			if !ok || !m.ReadOnly {
				t.Errorf("mount at %s = %+v, want read-only", path, m)
				continue
			}
			v := r.volume(t, m.Name)
			if v.Secret == nil || v.Secret.SecretName != secret {
				t.Errorf("volume %s = %+v, want Secret %s", m.Name, v.VolumeSource, secret)
			}
		}
		items := r.volume(t, mounts["/etc/gitops-connector/nats/tls"].Name).Secret.Items
		wantItems := []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}, {Key: "tls.crt", Path: "tls.crt"}, {Key: "tls.key", Path: "tls.key"}}
		if !slices.Equal(items, wantItems) {
			t.Errorf("TLS items = %+v", items)
		}
		if pvcs := all[*corev1.PersistentVolumeClaim](r); len(pvcs) != 0 {
			t.Errorf("%d PersistentVolumeClaims", len(pvcs))
		}
	})

	t.Run("pod identity from the downward API", func(t *testing.T) {
		paths := map[string]string{}
		for _, e := range r.connector(t).Env {
			if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
				paths[e.Name] = e.ValueFrom.FieldRef.FieldPath
			}
		}
		if paths["POD_NAME"] != "metadata.name" || paths["POD_NAMESPACE"] != "metadata.namespace" {
			t.Errorf("field references = %v", paths)
		}
	})

	t.Run("Lease Role in the release namespace", func(t *testing.T) {
		role := find[*rbacv1.Role](t, r, "gitops-connector-lease")
		wantRules := []rbacv1.PolicyRule{
			{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"create"}},
			{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: []string{"gitops-connector-sweep"}, Verbs: []string{"get", "update"}},
		}
		if role.Namespace != "gitops" || !rulesEqual(role.Rules, wantRules) {
			t.Errorf("Role in %q: %+v", role.Namespace, role.Rules)
		}
		rb := find[*rbacv1.RoleBinding](t, r, "gitops-connector-lease")
		if rb.Namespace != "gitops" || rb.RoleRef.Kind != "Role" || rb.RoleRef.Name != role.Name ||
			!slices.Equal(rb.Subjects, []rbacv1.Subject{{Kind: "ServiceAccount", Name: "gitops-connector", Namespace: "gitops"}}) {
			t.Errorf("RoleBinding = %+v", rb)
		}
	})

	t.Run("PodDisruptionBudget keeps all but one", func(t *testing.T) {
		pdb := find[*policyv1.PodDisruptionBudget](t, r, "gitops-connector")
		if !equalPtr(pdb.Spec.MaxUnavailable, ptr(intstr.FromInt32(1))) || pdb.Spec.MinAvailable != nil {
			t.Errorf("PDB = %+v", pdb.Spec)
		}
		if !maps.Equal(pdb.Spec.Selector.MatchLabels, d.Spec.Selector.MatchLabels) {
			t.Errorf("selector = %v", pdb.Spec.Selector.MatchLabels)
		}
	})

	t.Run("replicas preferably on different nodes", func(t *testing.T) {
		a := d.Spec.Template.Spec.Affinity
		if a == nil || a.PodAntiAffinity == nil || len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 ||
			len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) != 0 {
			t.Fatalf("affinity = %+v", a)
		}
		term := a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm
		if term.TopologyKey != "kubernetes.io/hostname" || !maps.Equal(term.LabelSelector.MatchLabels, d.Spec.Selector.MatchLabels) {
			t.Errorf("anti-affinity term = %+v", term)
		}
	})
}

// The replica settings adapt to the rest of the values.
func TestReplicaSettings(t *testing.T) {
	t.Run("one replica has no PDB, no anti-affinity, no Lease Role and a data directory", func(t *testing.T) {
		r := render(t, install{files: []string{multiInstanceValues}})
		d := r.deployment(t)
		if *d.Spec.Replicas != 1 || d.Spec.Template.Spec.Affinity != nil {
			t.Errorf("replicas %d, affinity %+v", *d.Spec.Replicas, d.Spec.Template.Spec.Affinity)
		}
		if n := len(all[*policyv1.PodDisruptionBudget](r)) + len(all[*rbacv1.Role](r)); n != 0 {
			t.Errorf("%d PDBs and Roles: %v", n, r.kinds())
		}
		env := r.environment(t)
		if env["GITOPS_CONNECTOR_DATA_DIR"] != "/var/lib/gitops-connector" || env["GITOPS_CONNECTOR_QUEUE"] != "" || env["POD_NAME"] != "" {
			t.Errorf("environment = %v", env)
		}
	})
	t.Run("one replica on NATS keeps no data directory", func(t *testing.T) {
		r := render(t, install{files: []string{githubValues}, values: "queue: {nats: {url: 'tls://a:4222,tls://b:4222', streamReplicas: 1}}\n"})
		env := r.environment(t)
		if env["GITOPS_CONNECTOR_QUEUE"] != "tls://a:4222,tls://b:4222" || env["GITOPS_CONNECTOR_QUEUE_REPLICAS"] != "1" {
			t.Errorf("environment = %v", env)
		}
		if _, ok := env["GITOPS_CONNECTOR_DATA_DIR"]; ok {
			t.Error("data directory with NATS")
		}
		if _, ok := r.mounts(t)["/var/lib/gitops-connector"]; ok {
			t.Error("data directory mounted with NATS")
		}
	})
	t.Run("single-instance replicas elect with JetStream, without a Lease Role", func(t *testing.T) {
		r := render(t, install{files: []string{natsReplicasValues, githubValues}})
		if roles := all[*rbacv1.Role](r); len(roles) != 0 {
			t.Errorf("Roles: %v", r.kinds())
		}
		if env := r.environment(t); env["POD_NAME"] == "" {
			t.Error("no POD_NAME: the JetStream lock names the replica by it")
		}
	})
	t.Run("the queue and the Lease are named after the release", func(t *testing.T) {
		r := render(t, install{name: "ha", files: []string{natsReplicasValues}})
		if got := r.environment(t)["GITOPS_CONNECTOR_QUEUE_NAME"]; got != "ha-gitops-connector" {
			t.Errorf("GITOPS_CONNECTOR_QUEUE_NAME = %q", got)
		}
		role := find[*rbacv1.Role](t, r, "ha-gitops-connector-lease")
		if names := role.Rules[1].ResourceNames; !slices.Equal(names, []string{"ha-gitops-connector-sweep"}) {
			t.Errorf("Lease names %v", names)
		}
	})
	t.Run("rbac.create=false renders no Lease Role", func(t *testing.T) {
		r := render(t, install{files: []string{natsReplicasValues}, set: []string{"multipleInstances.rbac.create=false"}})
		if n := len(all[*rbacv1.Role](r)) + len(all[*rbacv1.RoleBinding](r)); n != 0 {
			t.Errorf("RBAC: %v", r.kinds())
		}
	})
	t.Run("nkey seed and token files", func(t *testing.T) {
		for key, variable := range map[string]string{"nkeyKey": "GITOPS_CONNECTOR_QUEUE_NKEY_FILE", "tokenKey": "GITOPS_CONNECTOR_QUEUE_TOKEN_FILE"} {
			r := render(t, install{files: []string{githubValues}, values: "queue: {nats: {url: 'nats://n:4222', credentials: {existingSecret: s, " + key + ": k}}}\n"})
			env := r.environment(t)
			file := map[string]string{"nkeyKey": "seed.nk", "tokenKey": "token"}[key]
			if env[variable] != "/etc/gitops-connector/nats/credentials/"+file {
				t.Errorf("%s: %s = %q", key, variable, env[variable])
			}
			items := r.volume(t, "nats-credentials").Secret.Items
			if !slices.Equal(items, []corev1.KeyToPath{{Key: "k", Path: file}}) {
				t.Errorf("%s: items %+v", key, items)
			}
		}
	})
	t.Run("affinity replaces the default anti-affinity", func(t *testing.T) {
		r := render(t, install{files: []string{natsReplicasValues}, values: "affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: pool, operator: In, values: [system]}]}]}}}\n"})
		a := r.deployment(t).Spec.Template.Spec.Affinity
		if a.PodAntiAffinity != nil || a.NodeAffinity == nil {
			t.Errorf("affinity = %+v", a)
		}
	})
	t.Run("anti-affinity off, PDB off, topology spread", func(t *testing.T) {
		r := render(t, install{files: []string{natsReplicasValues}, values: `podAntiAffinity: {enabled: false}
podDisruptionBudget: {enabled: false}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        app.kubernetes.io/instance: '{{ .Release.Name }}'
`})
		spec := r.deployment(t).Spec.Template.Spec
		if spec.Affinity != nil || len(all[*policyv1.PodDisruptionBudget](r)) != 0 {
			t.Errorf("affinity %+v, objects %v", spec.Affinity, r.kinds())
		}
		if len(spec.TopologySpreadConstraints) != 1 || spec.TopologySpreadConstraints[0].LabelSelector.MatchLabels["app.kubernetes.io/instance"] != "gitops-connector" {
			t.Errorf("topology spread = %+v", spec.TopologySpreadConstraints)
		}
	})
}

// Replica values that cannot work are refused with the value to change.
func TestInvalidReplicaValues(t *testing.T) {
	tests := []struct {
		name   string
		values string
		want   []string
	}{
		{"replicas without NATS", "replicaCount: 2\n", []string{`at '/replicaCount': value must be '1 unless queue.nats.url is set: several replicas share the accepted events through NATS JetStream'`}},
		{"replicas on a ReadWriteOnce claim", "replicaCount: 3\nqueue: {nats: {url: 'nats://n:4222'}}\npersistence: {enabled: true}\n", []string{`at '/persistence/enabled': value must be 'false when replicaCount > 1`}},
		{"one replica on NATS with a claim", "queue: {nats: {url: 'nats://n:4222'}}\npersistence: {enabled: true}\n", []string{"persistence.enabled and queue.nats.url are both set"}},
		{"credentials in the URL", "queue: {nats: {url: 'nats://user:pw@n:4222'}}\n", []string{"at '/queue/nats/url'"}},
		{"two credentials", "queue: {nats: {url: 'nats://n:4222', credentials: {existingSecret: s, credsKey: a, tokenKey: b}}}\n", []string{"queue.nats.credentials.credsKey and queue.nats.credentials.tokenKey are all set"}},
		{"credential Secret without a key", "queue: {nats: {url: 'nats://n:4222', credentials: {existingSecret: s}}}\n", []string{"queue.nats.credentials.existingSecret is set without a key"}},
		{"credential key without a Secret", "queue: {nats: {url: 'nats://n:4222', credentials: {tokenKey: t}}}\n", []string{"queue.nats.credentials.tokenKey is set without queue.nats.credentials.existingSecret"}},
		{"client certificate without its key", "queue: {nats: {url: 'tls://n:4222', tls: {existingSecret: t, certKey: tls.crt}}}\n", []string{"queue.nats.tls.certKey and queue.nats.tls.keyKey go together"}},
		{"NATS Secrets without NATS", "queue: {nats: {tls: {existingSecret: t}}}\n", []string{"queue.nats.credentials or queue.nats.tls is set without queue.nats.url"}},
		{"too many stream copies", "queue: {nats: {url: 'nats://n:4222', streamReplicas: 7}}\n", []string{"at '/queue/nats/streamReplicas'"}},
		{"no replica", "replicaCount: 0\n", []string{"at '/replicaCount'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := renderErr(t, install{files: []string{githubValues}, values: tt.values})
			if err == nil {
				t.Fatal("install succeeded, want an error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
		})
	}
}

// With a memory limit the connector is told it in bytes by the downward API
// (it divides it into GOMEMLIMITs); without one nothing is set, since the
// downward API would give the node's memory.
func TestMemoryLimitFromTheContainer(t *testing.T) {
	r := render(t, install{files: []string{githubValues}, values: "resources: {limits: {memory: 256Mi}}\n"})
	if got := r.environment(t)["GITOPS_CONNECTOR_MEMORY_LIMIT"]; got != "resource:limits.memory/1" {
		t.Errorf("GITOPS_CONNECTOR_MEMORY_LIMIT = %q, want the container's limits.memory in bytes", got)
	}
	for _, e := range r.connector(t).Env {
		if e.Name == "GITOPS_CONNECTOR_MEMORY_LIMIT" && e.ValueFrom.ResourceFieldRef.ContainerName != "gitops-connector" {
			t.Errorf("resource of container %q", e.ValueFrom.ResourceFieldRef.ContainerName)
		}
	}
	for name, values := range map[string]string{
		"no limit":      "resources: {requests: {memory: 64Mi}}\n",
		"turned off":    "resources: {limits: {memory: 256Mi}}\ngoMemLimit: {fromContainerLimit: false}\n",
		"default value": "",
	} {
		if v, ok := render(t, install{files: []string{githubValues}, values: values}).environment(t)["GITOPS_CONNECTOR_MEMORY_LIMIT"]; ok {
			t.Errorf("%s: GITOPS_CONNECTOR_MEMORY_LIMIT = %q", name, v)
		}
	}
}
