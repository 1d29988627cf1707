package chart

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The container and the pod run with a secure baseline that users can
// override field by field; plugin init containers share the container's.
func TestSecurityContext(t *testing.T) {
	t.Run("baseline", func(t *testing.T) {
		r := render(t, install{files: []string{githubValues}, values: "plugins: {extra: [{name: gitlab, image: 'ghcr.io/example/gitlab:1.0.0'}]}\n"})
		pod := r.deployment(t).Spec.Template.Spec
		psc := pod.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot ||
			psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("pod securityContext = %+v, want runAsNonRoot and RuntimeDefault seccomp", psc)
		}
		containers := append(slices.Clone(pod.InitContainers), pod.Containers...)
		if len(containers) != 2 {
			t.Fatalf("%d containers, want the connector and one init container", len(containers))
		}
		for _, c := range containers {
			sc := c.SecurityContext
			switch {
			case sc == nil:
				t.Errorf("%s: no securityContext", c.Name)
			case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
				t.Errorf("%s: runAsNonRoot not set", c.Name)
			case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
				t.Errorf("%s: root file system writable", c.Name)
			case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
				t.Errorf("%s: privilege escalation allowed", c.Name)
			case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0:
				t.Errorf("%s: capabilities = %+v, want drop ALL", c.Name, sc.Capabilities)
			case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
				t.Errorf("%s: seccompProfile = %+v", c.Name, sc.SeccompProfile)
			}
		}
	})
	t.Run("overridden by the user", func(t *testing.T) {
		r := render(t, install{files: []string{githubValues}, values: `securityContext:
  readOnlyRootFilesystem: false
  runAsNonRoot: false
  runAsUser: 0
  capabilities: {add: [NET_BIND_SERVICE]}
  seccompProfile: {type: Localhost, localhostProfile: profiles/connector.json}
podSecurityContext:
  fsGroup: 65532
  seccompProfile: {type: Unconfined}
`})
		pod := r.deployment(t).Spec.Template.Spec
		sc := r.connector(t).SecurityContext
		if *sc.ReadOnlyRootFilesystem || *sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 0 {
			t.Errorf("container overrides lost: %+v", sc)
		}
		if !slices.Equal(sc.Capabilities.Add, []corev1.Capability{"NET_BIND_SERVICE"}) || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("capabilities = %+v, want NET_BIND_SERVICE added to drop ALL", sc.Capabilities)
		}
		if sc.SeccompProfile.Type != corev1.SeccompProfileTypeLocalhost || *sc.SeccompProfile.LocalhostProfile != "profiles/connector.json" {
			t.Errorf("seccompProfile = %+v", sc.SeccompProfile)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Error("a field the user did not set lost its baseline value")
		}
		psc := pod.SecurityContext
		if psc.FSGroup == nil || *psc.FSGroup != 65532 || psc.SeccompProfile.Type != corev1.SeccompProfileTypeUnconfined || !*psc.RunAsNonRoot {
			t.Errorf("pod securityContext = %+v", psc)
		}
	})
}

// The probes hit the host's health endpoints on the named port, which is the
// service's port.
func TestProbesAndPort(t *testing.T) {
	for _, port := range []int32{8080, 9090} {
		r := render(t, install{files: []string{githubValues}, values: "service: {port: " + strconv.Itoa(int(port)) + "}\n"})
		c := r.connector(t)
		if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != port {
			t.Errorf("ports = %+v, want http on %d", c.Ports, port)
		}
		for name, p := range map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
			if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != name || p.HTTPGet.Port != intstr.FromString("http") {
				t.Errorf("probe %s = %+v, want GET %s on port http", name, p, name)
			}
		}
		svc := find[*corev1.Service](t, r, "gitops-connector")
		if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != port || svc.Spec.Ports[0].TargetPort != intstr.FromString("http") {
			t.Errorf("service ports = %+v", svc.Spec.Ports)
		}
		if !maps.Equal(svc.Spec.Selector, r.deployment(t).Spec.Selector.MatchLabels) {
			t.Errorf("service selects %v, deployment %v", svc.Spec.Selector, r.deployment(t).Spec.Selector.MatchLabels)
		}
	}
	r := render(t, install{files: []string{githubValues}, values: "readinessProbe: {httpGet: {path: /readyz, port: http}, initialDelaySeconds: 3}\n"})
	if got := r.connector(t).ReadinessProbe; got.InitialDelaySeconds != 3 || got.PeriodSeconds != 5 {
		t.Errorf("readiness probe = %+v, want the user's field merged into the default", got)
	}
}

// The writable paths of a read-only root file system are volumes: /tmp for
// go-plugin's sockets and the data directory for the queue.
func TestMountsAndVolumes(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		r := render(t, install{files: []string{azdoValues}})
		mounts := r.mounts(t)
		want := map[string]string{"/tmp": "tmp", "/var/lib/gitops-connector": "data"}
		got := map[string]string{}
		for path, m := range mounts {
			got[path] = m.Name
		}
		if !maps.Equal(got, want) {
			t.Errorf("mounts = %v, want %v", got, want)
		}
		for _, name := range []string{"tmp", "data"} {
			if v := r.volume(t, name); v.EmptyDir == nil {
				t.Errorf("volume %s = %+v, want an emptyDir", name, v.VolumeSource)
			}
		}
		if s := r.deployment(t).Spec.Strategy; s.Type != appsv1.RollingUpdateDeploymentStrategyType ||
			*s.RollingUpdate.MaxUnavailable != intstr.FromInt32(0) {
			t.Errorf("strategy = %+v, want a rolling update that keeps the old pod until the new one is ready", s)
		}
		if n := r.deployment(t).Spec.Replicas; n == nil || *n != 1 {
			t.Errorf("replicas = %v, want 1", n)
		}
	})
	t.Run("persistent claim created", func(t *testing.T) {
		r := render(t, install{files: []string{azdoValues}, values: "persistence: {enabled: true, storageClass: fast, size: 2Gi, annotations: {owner: '{{ .Release.Name }}'}}\n"})
		pvc := find[*corev1.PersistentVolumeClaim](t, r, "gitops-connector-data")
		if got := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; got.Cmp(resource.MustParse("2Gi")) != 0 {
			t.Errorf("size = %s, want 2Gi", got.String())
		}
		if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != "fast" ||
			!slices.Equal(pvc.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) {
			t.Errorf("claim spec = %+v", pvc.Spec)
		}
		if pvc.Annotations["owner"] != "gitops-connector" {
			t.Errorf("claim annotations = %v, want tpl-rendered owner", pvc.Annotations)
		}
		if v := r.volume(t, "data"); v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "gitops-connector-data" {
			t.Errorf("data volume = %+v", v.VolumeSource)
		}
		if s := r.deployment(t).Spec.Strategy; s.Type != appsv1.RecreateDeploymentStrategyType {
			t.Errorf("strategy = %s, want Recreate: a ReadWriteOnce claim is not shared by two pods", s.Type)
		}
	})
	t.Run("existing claim", func(t *testing.T) {
		r := render(t, install{files: []string{azdoValues}, values: "persistence: {enabled: true, existingClaim: queue}\n"})
		if pvcs := all[*corev1.PersistentVolumeClaim](r); len(pvcs) != 0 {
			t.Errorf("created %d claims beside the existing one", len(pvcs))
		}
		if v := r.volume(t, "data"); v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "queue" {
			t.Errorf("data volume = %+v", v.VolumeSource)
		}
	})
}

// singleInstance.subscribers reach the connector as one file per subscriber
// whose first line is the URL (the original chart's never did).
func TestSubscribersAreFilesUnderSubscribers(t *testing.T) {
	r := render(t, install{files: []string{githubValues}, values: "singleInstance: {subscribers: {local: 'http://localhost:8080/gitopsphase'}}\n"})
	cm := find[*corev1.ConfigMap](t, r, "gitops-connector-subscribers")
	want := map[string]string{
		"spektate": "http://spektate-server:5000/api/flux\n",
		"local":    "http://localhost:8080/gitopsphase\n",
	}
	if !maps.Equal(cm.Data, want) {
		t.Errorf("subscriber files = %q, want %q", cm.Data, want)
	}
	m, ok := r.mounts(t)["/subscribers"]
	if !ok || m.Name != "subscribers" || !m.ReadOnly || m.SubPath != "" {
		t.Fatalf("/subscribers mount = %+v", m)
	}
	if v := r.volume(t, "subscribers"); v.ConfigMap == nil || v.ConfigMap.Name != cm.Name || len(v.ConfigMap.Items) != 0 {
		t.Errorf("subscribers volume = %+v, want every key of %s", v.VolumeSource, cm.Name)
	}

	r = render(t, install{files: []string{azdoValues}})
	if _, ok := r.mounts(t)["/subscribers"]; ok {
		t.Error("/subscribers mounted without subscribers")
	}
}

// Values typed tpl/... in the chart README are rendered with tpl.
func TestTplValues(t *testing.T) {
	r := render(t, install{name: "conn", namespace: "ops", files: []string{githubValues}, values: `env:
  - name: RELEASE
    value: '{{ .Release.Name }}'
envFrom:
  - secretRef:
      name: '{{ .Release.Name }}-extra'
podAnnotations:
  release: '{{ .Release.Name }}'
podLabels:
  team: '{{ .Release.Namespace }}'
volumes:
  - name: ca
    configMap:
      name: '{{ .Release.Name }}-ca'
volumeMounts:
  - name: ca
    mountPath: /etc/ssl/certs/extra
    readOnly: true
serviceAccount:
  annotations:
    owner: '{{ .Release.Namespace }}'
service:
  annotations:
    release: '{{ .Release.Name }}'
extraObjects:
  - apiVersion: v1
    kind: ConfigMap
    metadata:
      name: '{{ .Release.Name }}-object'
    data:
      namespace: '{{ .Release.Namespace }}'
  - |
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: {{ .Release.Name }}-string
`})
	if got := r.environment(t)["RELEASE"]; got != "conn" {
		t.Errorf("env RELEASE = %q", got)
	}
	c := r.connector(t)
	if n := len(c.EnvFrom); n != 2 || c.EnvFrom[1].SecretRef == nil || c.EnvFrom[1].SecretRef.Name != "conn-extra" {
		t.Errorf("envFrom = %+v, want the chart's ConfigMap then conn-extra", c.EnvFrom)
	}
	tmpl := r.deployment(t).Spec.Template
	if tmpl.Annotations["release"] != "conn" || tmpl.Labels["team"] != "ops" {
		t.Errorf("pod annotations %v labels %v", tmpl.Annotations, tmpl.Labels)
	}
	if v := r.volume(t, "ca"); v.ConfigMap == nil || v.ConfigMap.Name != "conn-ca" {
		t.Errorf("volume ca = %+v", v.VolumeSource)
	}
	if m := r.mounts(t)["/etc/ssl/certs/extra"]; m.Name != "ca" {
		t.Errorf("user mount = %+v", m)
	}
	if sa := find[*corev1.ServiceAccount](t, r, "conn-gitops-connector"); sa.Annotations["owner"] != "ops" {
		t.Errorf("service account annotations = %v", sa.Annotations)
	}
	if svc := find[*corev1.Service](t, r, "conn-gitops-connector"); svc.Annotations["release"] != "conn" {
		t.Errorf("service annotations = %v", svc.Annotations)
	}
	if cm := find[*corev1.ConfigMap](t, r, "conn-object"); cm.Data["namespace"] != "ops" {
		t.Errorf("extra object data = %v", cm.Data)
	}
	find[*corev1.ConfigMap](t, r, "conn-string")
}

// Each extra plugin image copies its binaries into a volume the connector
// loads plugins from beside the bundled ones.
func TestExtraPlugins(t *testing.T) {
	r := render(t, install{files: []string{githubValues}, values: `image: {pullPolicy: Always}
plugins:
  extra:
    - name: gitlab
      image: ghcr.io/example/gitops-connector-plugin-gitlab:1.0.0
    - name: jenkins
      image: registry.example.com/jenkins-plugin:2.1.0
      imagePullPolicy: IfNotPresent
      command: [/bin/cp, /plugins/jenkins, /target/]
      resources: {limits: {memory: 32Mi}}
`})
	pod := r.deployment(t).Spec.Template.Spec
	if len(pod.InitContainers) != 2 {
		t.Fatalf("%d init containers, want 2", len(pod.InitContainers))
	}
	want := []struct {
		name, image string
		policy      corev1.PullPolicy
		command     []string
	}{
		{"plugin-gitlab", "ghcr.io/example/gitops-connector-plugin-gitlab:1.0.0", corev1.PullAlways, nil},
		{"plugin-jenkins", "registry.example.com/jenkins-plugin:2.1.0", corev1.PullIfNotPresent, []string{"/bin/cp", "/plugins/jenkins", "/target/"}},
	}
	for i, w := range want {
		c := pod.InitContainers[i]
		if c.Name != w.name || c.Image != w.image || c.ImagePullPolicy != w.policy || !slices.Equal(c.Command, w.command) {
			t.Errorf("init container %d = %s %s %s %v, want %+v", i, c.Name, c.Image, c.ImagePullPolicy, c.Command, w)
		}
		if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].Name != "plugins-extra" || c.VolumeMounts[0].MountPath != "/target" || c.VolumeMounts[0].ReadOnly {
			t.Errorf("%s mounts = %+v, want plugins-extra writable at /target", c.Name, c.VolumeMounts)
		}
	}
	if got := pod.InitContainers[1].Resources.Limits.Memory(); got.Cmp(resource.MustParse("32Mi")) != 0 {
		t.Errorf("jenkins memory limit = %s", got)
	}
	if v := r.volume(t, "plugins-extra"); v.EmptyDir == nil {
		t.Errorf("plugins-extra = %+v, want an emptyDir", v.VolumeSource)
	}
	if m := r.mounts(t)["/app/plugins-extra"]; m.Name != "plugins-extra" || !m.ReadOnly {
		t.Errorf("connector mount = %+v, want plugins-extra read-only at /app/plugins-extra", m)
	}
	if got := r.environment(t)["GITOPS_CONNECTOR_PLUGIN_DIR"]; got != "/app/plugins:/app/plugins-extra" {
		t.Errorf("GITOPS_CONNECTOR_PLUGIN_DIR = %q", got)
	}

	r = render(t, install{files: []string{githubValues}})
	if n := len(r.deployment(t).Spec.Template.Spec.InitContainers); n != 0 {
		t.Errorf("%d init containers without extra plugins", n)
	}
	if _, ok := r.environment(t)["GITOPS_CONNECTOR_PLUGIN_DIR"]; ok {
		t.Error("GITOPS_CONNECTOR_PLUGIN_DIR set without extra plugins: the host's default is the bundled directory")
	}
}

// The pod restarts when its configuration or its secrets change, and only then.
func TestChecksumAnnotationsFollowConfigAndSecret(t *testing.T) {
	checksums := func(values string) (config, secret string) {
		a := render(t, install{files: []string{githubValues}, values: values}).deployment(t).Spec.Template.Annotations
		if a["checksum/config"] == "" || a["checksum/secret"] == "" {
			t.Fatalf("annotations = %v, want both checksums", a)
		}
		return a["checksum/config"], a["checksum/secret"]
	}
	baseConfig, baseSecret := checksums("")
	tests := []struct {
		name                 string
		values               string
		configMoves, secMove bool
	}{
		{"repository setting", "singleInstance: {gitHubGitOpsRepoName: other}\n", true, false},
		{"subscriber URL", "singleInstance: {subscribers: {spektate: 'http://spektate:5001/api/flux'}}\n", true, false},
		{"service port", "service: {port: 9090}\n", true, false},
		{"PAT", "orchestratorPAT: ghp_rotatedrotatedrotatedrotated0000\n", false, true},
		{"webhook secret", "webhookAuth: {hmacSecret: s3cret}\n", false, true},
		{"resources", "resources: {limits: {memory: 64Mi}}\n", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config, secret := checksums(tt.values)
			if (config != baseConfig) != tt.configMoves {
				t.Errorf("checksum/config changed = %t, want %t", config != baseConfig, tt.configMoves)
			}
			if (secret != baseSecret) != tt.secMove {
				t.Errorf("checksum/secret changed = %t, want %t", secret != baseSecret, tt.secMove)
			}
		})
	}
}

// Webhook authentication is off unless a secret is given, inline (in the
// chart's Secret) or in an existing Secret (optional keys).
func TestWebhookAuthentication(t *testing.T) {
	tests := []struct {
		name       string
		values     string
		wantEnv    map[string]string
		wantSecret map[string]string
	}{
		{
			name:       "off",
			wantSecret: map[string]string{"PAT": "ghp_exampleexampleexampleexample0000"},
		},
		{
			name:   "inline",
			values: "webhookAuth: {hmacSecret: hmac-s3cret, bearerToken: bearer-t0ken}\n",
			wantEnv: map[string]string{
				"GITOPS_CONNECTOR_WEBHOOK_HMAC_SECRET":  "secret:gitops-connector/WEBHOOK_HMAC_SECRET",
				"GITOPS_CONNECTOR_WEBHOOK_BEARER_TOKEN": "secret:gitops-connector/WEBHOOK_BEARER_TOKEN",
			},
			wantSecret: map[string]string{
				"PAT":                  "ghp_exampleexampleexampleexample0000",
				"WEBHOOK_HMAC_SECRET":  "hmac-s3cret",
				"WEBHOOK_BEARER_TOKEN": "bearer-t0ken",
			},
		},
		{
			name:   "existing Secret",
			values: "webhookAuth: {existingSecret: hooks, hmacSecretKey: flux}\n",
			wantEnv: map[string]string{
				"GITOPS_CONNECTOR_WEBHOOK_HMAC_SECRET":  "secret:hooks/flux?",
				"GITOPS_CONNECTOR_WEBHOOK_BEARER_TOKEN": "secret:hooks/bearerToken?",
			},
			wantSecret: map[string]string{"PAT": "ghp_exampleexampleexampleexample0000"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := render(t, install{files: []string{githubValues}, values: tt.values})
			env := r.environment(t)
			got := map[string]string{}
			for k, v := range env {
				if strings.HasPrefix(k, "GITOPS_CONNECTOR_WEBHOOK_") {
					got[k] = v
				}
			}
			if len(got) != len(tt.wantEnv) || (len(got) > 0 && !maps.Equal(got, tt.wantEnv)) {
				t.Errorf("webhook env = %v, want %v", got, tt.wantEnv)
			}
			secret := map[string]string{}
			for k, v := range find[*corev1.Secret](t, r, "gitops-connector").Data {
				secret[k] = string(v)
			}
			if !maps.Equal(secret, tt.wantSecret) {
				t.Errorf("secret data = %v, want %v", secret, tt.wantSecret)
			}
			warned := strings.Contains(r.notes, "webhook authentication is off")
			if warned != (tt.wantEnv == nil) {
				t.Errorf("NOTES warn about webhook authentication = %t, want %t", warned, tt.wantEnv == nil)
			}
		})
	}
}

// The optional ServiceMonitor scrapes /metrics on the Service's port.
func TestServiceMonitor(t *testing.T) {
	r := render(t, install{files: []string{githubValues}})
	if n := len(all[*serviceMonitor](r)); n != 0 {
		t.Fatalf("%d ServiceMonitors by default", n)
	}
	r = render(t, install{files: []string{githubValues}, values: "serviceMonitor: {enabled: true, interval: 30s, labels: {release: '{{ .Release.Name }}-prometheus'}}\n"})
	sm := find[*serviceMonitor](t, r, "gitops-connector")
	svc := find[*corev1.Service](t, r, "gitops-connector")
	for k, v := range sm.Spec.Selector.MatchLabels {
		if svc.Labels[k] != v {
			t.Errorf("ServiceMonitor selects %s=%s, the Service has %q", k, v, svc.Labels[k])
		}
	}
	if len(sm.Spec.Selector.MatchLabels) == 0 {
		t.Error("ServiceMonitor selects every Service")
	}
	if !slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{"gitops"}) {
		t.Errorf("namespaces = %v", sm.Spec.NamespaceSelector.MatchNames)
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("endpoints = %+v", sm.Spec.Endpoints)
	}
	e := sm.Spec.Endpoints[0]
	if e.Port != svc.Spec.Ports[0].Name || e.Path != "/metrics" || e.Interval != "30s" || e.ScrapeTimeout != "" {
		t.Errorf("endpoint = %+v, want /metrics on port %s every 30s", e, svc.Spec.Ports[0].Name)
	}
	if sm.Labels["release"] != "gitops-connector-prometheus" {
		t.Errorf("labels = %v", sm.Labels)
	}
}

func TestPodDisruptionBudget(t *testing.T) {
	tests := []struct {
		values           string
		wantMin, wantMax *intstr.IntOrString
	}{
		{values: "podDisruptionBudget: {enabled: true}\n", wantMax: ptr(intstr.FromInt32(1))},
		{values: "podDisruptionBudget: {enabled: true, minAvailable: 1}\n", wantMin: ptr(intstr.FromInt32(1))},
		{values: "podDisruptionBudget: {enabled: true, maxUnavailable: '100%'}\n", wantMax: ptr(intstr.FromString("100%"))},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSpace(tt.values), func(t *testing.T) {
			r := render(t, install{files: []string{githubValues}, values: tt.values})
			pdb := find[*policyv1.PodDisruptionBudget](t, r, "gitops-connector")
			if !equalPtr(pdb.Spec.MinAvailable, tt.wantMin) || !equalPtr(pdb.Spec.MaxUnavailable, tt.wantMax) {
				t.Errorf("min %v max %v, want %v %v", pdb.Spec.MinAvailable, pdb.Spec.MaxUnavailable, tt.wantMin, tt.wantMax)
			}
			if !maps.Equal(pdb.Spec.Selector.MatchLabels, r.deployment(t).Spec.Selector.MatchLabels) {
				t.Errorf("selector = %v", pdb.Spec.Selector.MatchLabels)
			}
		})
	}
	if n := len(all[*policyv1.PodDisruptionBudget](render(t, install{files: []string{githubValues}}))); n != 0 {
		t.Errorf("%d PodDisruptionBudgets by default", n)
	}
}

func ptr[T any](v T) *T { return &v }

func equalPtr(a, b *intstr.IntOrString) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// The image defaults to the chart's appVersion; pull secrets accept names.
func TestImageAndServiceAccount(t *testing.T) {
	r := render(t, install{files: []string{githubValues}})
	if got := r.connector(t).Image; got != "ghcr.io/gitops-connector/gitops-connector:0.1.0" {
		t.Errorf("image = %q, want the repository at the chart's appVersion", got)
	}
	pod := r.deployment(t).Spec.Template.Spec
	if pod.ServiceAccountName != "gitops-connector" || pod.AutomountServiceAccountToken == nil || !*pod.AutomountServiceAccountToken {
		t.Errorf("service account %q automount %v", pod.ServiceAccountName, pod.AutomountServiceAccountToken)
	}

	r = render(t, install{files: []string{githubValues}, values: `image: {repository: registry.example.com/gitops-connector, tag: 0.2.0-rc.1}
imagePullSecrets: [regcred, {name: other}]
serviceAccount: {create: false, name: shared, automount: false}
`})
	if got := r.connector(t).Image; got != "registry.example.com/gitops-connector:0.2.0-rc.1" {
		t.Errorf("image = %q", got)
	}
	pod = r.deployment(t).Spec.Template.Spec
	if !slices.Equal(pod.ImagePullSecrets, []corev1.LocalObjectReference{{Name: "regcred"}, {Name: "other"}}) {
		t.Errorf("imagePullSecrets = %v", pod.ImagePullSecrets)
	}
	if pod.ServiceAccountName != "shared" || *pod.AutomountServiceAccountToken {
		t.Errorf("service account %q automount %v", pod.ServiceAccountName, *pod.AutomountServiceAccountToken)
	}
	if n := len(all[*corev1.ServiceAccount](r)); n != 0 {
		t.Errorf("created %d service accounts with serviceAccount.create=false", n)
	}
}

// NOTES give the address the operators post to, with the namespace.
func TestNotesGiveTheWebhookAddress(t *testing.T) {
	r := render(t, install{name: "conn", namespace: "delivery", files: []string{githubValues}})
	if !strings.Contains(r.notes, "http://conn-gitops-connector.delivery:8080/gitopsphase") {
		t.Errorf("NOTES do not give the service address:\n%s", r.notes)
	}
	r = render(t, install{files: []string{multiInstanceValues}, set: []string{"orchestratorPAT="}})
	for _, want := range []string{"kubectl get gitopsconfigs.example.com", "spec.secretRef"} {
		if !strings.Contains(r.notes, want) {
			t.Errorf("multiple-instances NOTES lack %q:\n%s", want, r.notes)
		}
	}
}

// Labels are valid label values whatever the image tag holds (a digest's
// "@" and ":" are not allowed in labels).
func TestLabelsAreValidWithADigestTag(t *testing.T) {
	r := render(t, install{files: []string{multiInstanceValues}, set: []string{"image.tag=0.1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}})
	for _, o := range r.objects {
		m, ok := o.obj.(metav1.Object)
		if !ok {
			continue
		}
		labels := maps.Clone(m.GetLabels())
		if d, ok := o.obj.(*appsv1.Deployment); ok {
			maps.Copy(labels, d.Spec.Template.Labels)
		}
		for k, v := range labels {
			if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
				t.Errorf("%s label %s=%q: %v", kindName(o.obj), k, v, errs)
			}
		}
	}
	if got := r.connector(t).Image; !strings.HasSuffix(got, ":0.1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef") {
		t.Errorf("image = %q", got)
	}
}

// plugins.checksums pins the extra plugin directory: the connector reads
// the list, as sha256sum prints it, from a mounted ConfigMap.
func TestPluginChecksumsPinTheExtraPluginDirectory(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	r := render(t, install{files: []string{githubValues}, values: "plugins: {extra: [{name: gitlab, image: 'example/gitlab:1'}], checksums: {gitlab: " + strings.ToUpper(sum) + "}}\n"})
	env := r.environment(t)
	const dir = "/etc/gitops-connector/plugin-checksums"
	if got := env["GITOPS_CONNECTOR_PLUGIN_CHECKSUMS"]; got != dir+"/sha256sums" {
		t.Fatalf("GITOPS_CONNECTOR_PLUGIN_CHECKSUMS = %q", got)
	}
	m, ok := r.mounts(t)[dir]
	if !ok || !m.ReadOnly {
		t.Fatalf("mount at %s = %+v, %v; want read-only", dir, m, ok)
	}
	v := r.volume(t, m.Name)
	if v.ConfigMap == nil {
		t.Fatalf("volume %+v is not a ConfigMap", v)
	}
	cm := find[*corev1.ConfigMap](t, r, v.ConfigMap.Name)
	if got, want := strings.TrimSpace(cm.Data["sha256sums"]), sum+"  /app/plugins-extra/gitlab"; got != want {
		t.Errorf("sha256sums = %q, want %q", got, want)
	}

	plain := render(t, install{files: []string{githubValues}})
	if _, set := plain.environment(t)["GITOPS_CONNECTOR_PLUGIN_CHECKSUMS"]; set {
		t.Error("nothing is pinned without plugins.checksums, yet the variable is set")
	}
}
