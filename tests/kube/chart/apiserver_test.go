package chart

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/tests/kube/apiserver"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

var gitopsconfigs = schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "gitopsconfigs"}

// split separates a release's CRD from its other objects, as manifests.
func (r rendered) split(t *testing.T) (crd []byte, others []byte) {
	t.Helper()
	var b strings.Builder
	for _, o := range r.objects {
		if _, ok := o.obj.(*apiextensionsv1.CustomResourceDefinition); ok {
			crd = o.raw
			continue
		}
		b.WriteString("---\n")
		b.Write(o.raw)
		b.WriteString("\n")
	}
	return crd, []byte(b.String())
}

// The chart's rendered objects are accepted by a real API server, its CRD
// accepts the README's GitOpsConfigs and rejects invalid ones, and its RBAC
// lets the connector's ServiceAccount do what the connector does and no more.
func TestChartOnARealAPIServer(t *testing.T) {
	srv := apiserver.Start(t)
	ctx := context.Background()
	for _, ns := range []string{"gitops", "gitops-2", "team-a", "team-b", "team-shop", "default"} {
		srv.CreateNamespace(t, ns)
	}

	// Release gitops-connector in gitops watches every namespace and owns
	// the CRD; release conn2 in gitops-2 watches team-a only.
	first := render(t, install{files: []string{multiInstanceValues}})
	crd, objects := first.split(t)
	if crd == nil {
		t.Fatal("no CRD rendered")
	}
	srv.ApplyCRD(t, crd)
	srv.Apply(t, "gitops", objects)
	second := render(t, install{name: "conn2", namespace: "gitops-2", files: []string{multiInstanceValues},
		values: "multipleInstances: {crd: {install: false}, namespaces: [team-a]}\nwebhookAuth: {hmacSecret: s3cret}\n"})
	if c, _ := second.split(t); c != nil {
		t.Fatal("second release renders the CRD")
	}
	_, objects = second.split(t)
	srv.Apply(t, "gitops-2", objects)

	t.Run("README GitOpsConfigs are accepted", func(t *testing.T) {
		var n int
		for _, block := range codeBlocks(t, chartReadme, "yaml") {
			if !strings.Contains(block, "kind: GitOpsConfig") {
				continue
			}
			for _, obj := range srv.Apply(t, "default", []byte(block)) {
				n++
				if url, _, _ := unstructured.NestedString(obj.Object, "spec", "gitOpsAppURL"); url == "" {
					t.Errorf("%s stored without its spec: %v", obj.GetName(), obj.Object["spec"])
				}
			}
		}
		if n != 2 {
			t.Errorf("applied %d GitOpsConfigs from the README, want 2", n)
		}
	})

	t.Run("third-party plugin settings are kept", func(t *testing.T) {
		objs := srv.Apply(t, "team-a", []byte(`apiVersion: example.com/v1
kind: GitOpsConfig
metadata:
  name: gitlab-dev
spec:
  gitRepositoryType: GITLAB
  ciCdOrchestratorType: GITLAB
  gitOpsOperatorType: FLUX
  gitOpsAppURL: https://gitlab.example.com/acme/manifests/-/commit
  gitLabProjectId: "4711"
`))
		if got, _, _ := unstructured.NestedString(objs[0].Object, "spec", "gitLabProjectId"); got != "4711" {
			t.Errorf("spec.gitLabProjectId = %q after a round trip, want it kept", got)
		}
	})

	t.Run("a config without orchestrator and with per-integration credentials is accepted", func(t *testing.T) {
		objs := srv.Apply(t, "team-a", []byte(`apiVersion: example.com/v1
kind: GitOpsConfig
metadata:
  name: statuses-only
spec:
  gitRepositoryType: AZDO
  gitOpsOperatorType: FLUX
  gitOpsAppURL: https://dev.azure.com/myorg/MyProject/_git/manifests
  azdoOrgUrl: https://dev.azure.com/myorg/MyProject
  azdoGitOpsRepoName: manifests
  repositoryAzureIdentity: workload
  orchestratorSecretRef: {name: github-app}
`))
		spec, _, _ := unstructured.NestedMap(objs[0].Object, "spec")
		if _, has := spec["ciCdOrchestratorType"]; has || spec["repositoryAzureIdentity"] != "workload" ||
			spec["orchestratorSecretRef"].(map[string]any)["name"] != "github-app" {
			t.Errorf("stored spec %v", spec)
		}
	})

	t.Run("invalid GitOpsConfigs are rejected", func(t *testing.T) {
		tests := []struct {
			name string
			spec map[string]any
			want string
		}{
			{
				name: "missing gitOpsAppURL",
				spec: map[string]any{"gitRepositoryType": "AZDO", "ciCdOrchestratorType": "AZDO", "gitOpsOperatorType": "ARGOCD"},
				want: "spec.gitOpsAppURL: Required value",
			},
			{
				name: "repository type as a number",
				spec: map[string]any{"gitRepositoryType": int64(42), "ciCdOrchestratorType": "AZDO", "gitOpsOperatorType": "ARGOCD", "gitOpsAppURL": "https://x"},
				want: "spec.gitRepositoryType: Invalid value",
			},
			{
				name: "secretRef without name",
				spec: map[string]any{"gitRepositoryType": "AZDO", "ciCdOrchestratorType": "AZDO", "gitOpsOperatorType": "ARGOCD", "gitOpsAppURL": "https://x",
					"secretRef": map[string]any{"key": "token"}},
				want: "spec.secretRef.name: Required value",
			},
			{
				name: "orchestratorSecretRef without name",
				spec: map[string]any{"gitRepositoryType": "GITEA", "ciCdOrchestratorType": "GITHUB", "gitOpsOperatorType": "FLUX", "gitOpsAppURL": "https://x",
					"orchestratorSecretRef": map[string]any{"key": "token"}},
				want: "spec.orchestratorSecretRef.name: Required value",
			},
			{
				name: "unknown Azure identity",
				spec: map[string]any{"gitRepositoryType": "AZDO", "gitOpsOperatorType": "FLUX", "gitOpsAppURL": "https://x",
					"repositoryAzureIdentity": "pod"},
				want: `spec.repositoryAzureIdentity: Unsupported value: "pod"`,
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				obj := &unstructured.Unstructured{Object: map[string]any{
					"apiVersion": "example.com/v1", "kind": "GitOpsConfig",
					"metadata": map[string]any{"name": "invalid"}, "spec": tt.spec,
				}}
				_, err := srv.Dynamic.Resource(gitopsconfigs).Namespace("team-b").Create(ctx, obj, metav1.CreateOptions{})
				if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("create: %v, want Invalid with %q", err, tt.want)
				}
			})
		}
	})

	t.Run("ServiceAccount permissions", func(t *testing.T) {
		type access struct {
			namespace, verb, group, resource, subresource string
		}
		tests := []struct {
			name           string
			serviceAccount string // namespace/name
			access         access
			allowed        bool
		}{
			{"all namespaces: watch configs", "gitops/gitops-connector", access{"", "watch", "example.com", "gitopsconfigs", ""}, true},
			{"all namespaces: list configs", "gitops/gitops-connector", access{"", "list", "example.com", "gitopsconfigs", ""}, true},
			{"all namespaces: update status", "gitops/gitops-connector", access{"team-b", "update", "example.com", "gitopsconfigs", "status"}, true},
			{"all namespaces: patch status", "gitops/gitops-connector", access{"team-b", "patch", "example.com", "gitopsconfigs", "status"}, true},
			{"all namespaces: get Secret", "gitops/gitops-connector", access{"team-b", "get", "", "secrets", ""}, true},
			{"all namespaces: watch Secrets", "gitops/gitops-connector", access{"team-b", "watch", "", "secrets", ""}, true},
			{"all namespaces: no config updates", "gitops/gitops-connector", access{"team-b", "update", "example.com", "gitopsconfigs", ""}, false},
			{"all namespaces: no config creation", "gitops/gitops-connector", access{"team-b", "create", "example.com", "gitopsconfigs", ""}, false},
			{"all namespaces: no Secret writes", "gitops/gitops-connector", access{"team-b", "update", "", "secrets", ""}, false},
			{"all namespaces: nothing else", "gitops/gitops-connector", access{"team-b", "list", "", "pods", ""}, false},
			{"listed namespace: list configs", "gitops-2/conn2-gitops-connector", access{"team-a", "list", "example.com", "gitopsconfigs", ""}, true},
			{"listed namespace: update status", "gitops-2/conn2-gitops-connector", access{"team-a", "update", "example.com", "gitopsconfigs", "status"}, true},
			{"listed namespace: get Secret", "gitops-2/conn2-gitops-connector", access{"team-a", "get", "", "secrets", ""}, true},
			{"other namespace: no configs", "gitops-2/conn2-gitops-connector", access{"team-b", "list", "example.com", "gitopsconfigs", ""}, false},
			{"other namespace: no Secrets", "gitops-2/conn2-gitops-connector", access{"team-b", "get", "", "secrets", ""}, false},
			{"listed namespace: not cluster-wide", "gitops-2/conn2-gitops-connector", access{"", "list", "example.com", "gitopsconfigs", ""}, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ns, name, _ := strings.Cut(tt.serviceAccount, "/")
				review, err := srv.Kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
					Spec: authorizationv1.SubjectAccessReviewSpec{
						User:   "system:serviceaccount:" + ns + ":" + name,
						Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
						ResourceAttributes: &authorizationv1.ResourceAttributes{
							Namespace: tt.access.namespace, Verb: tt.access.verb, Group: tt.access.group,
							Resource: tt.access.resource, Subresource: tt.access.subresource,
						},
					},
				}, metav1.CreateOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if review.Status.Allowed != tt.allowed {
					t.Errorf("allowed = %t (%s), want %t", review.Status.Allowed, review.Status.Reason, tt.allowed)
				}
			})
		}
	})

	t.Run("connector writes the Ready condition with its token", func(t *testing.T) {
		srv.Apply(t, "team-a", []byte(`apiVersion: example.com/v1
kind: GitOpsConfig
metadata:
  name: status-check
spec:
  gitRepositoryType: GITHUB
  ciCdOrchestratorType: GITHUB
  gitOpsOperatorType: FLUX
  gitOpsAppURL: https://github.com/acme/manifests/commit
`))
		cfg, err := clientcmd.BuildConfigFromFlags("", srv.KubeconfigFor(t, "gitops-2", "conn2-gitops-connector"))
		if err != nil {
			t.Fatal(err)
		}
		client, err := dynamic.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		res := client.Resource(gitopsconfigs).Namespace("team-a")
		obj, err := res.Get(ctx, "status-check", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get as the connector: %v", err)
		}
		cond := metav1.Condition{
			Type: "Ready", Status: metav1.ConditionFalse, ObservedGeneration: obj.GetGeneration(),
			LastTransitionTime: metav1.NewTime(time.Now().Truncate(time.Second)),
			Reason:             "InvalidSpec", Message: "gitHubOrgUrl: is required",
		}
		condMap, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&cond)
		if err != nil {
			t.Fatal(err)
		}
		if err := unstructured.SetNestedField(obj.Object, map[string]any{
			"observedGeneration": obj.GetGeneration(),
			"conditions":         []any{condMap},
		}, "status"); err != nil {
			t.Fatal(err)
		}
		updated, err := res.UpdateStatus(ctx, obj, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("update status as the connector: %v", err)
		}
		got, ok := apiserver.Condition(updated, "Ready")
		if !ok || got.Status != metav1.ConditionFalse || got.Reason != "InvalidSpec" || got.Message != cond.Message {
			t.Errorf("stored Ready condition = %+v, %t", got, ok)
		}
		if _, err := client.Resource(gitopsconfigs).Namespace("team-b").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("listing a namespace the release does not watch: %v, want Forbidden", err)
		}
		if _, err := client.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).Namespace("team-a").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("listing pods: %v, want Forbidden", err)
		}
	})

	t.Run("three replicas on NATS install", func(t *testing.T) {
		installReplicas(t, srv)
		t.Run("the ServiceAccount may hold the sweep's Lease and no other", func(t *testing.T) { leaseAccess(t, srv) })
		t.Run("replicas hand the sweep's Lease over with the chart's RBAC", func(t *testing.T) { leaseFailover(t, srv) })
	})

	t.Run("the Deployment passed server validation", func(t *testing.T) {
		d, err := srv.Kube.AppsV1().Deployments("gitops").Get(ctx, "gitops-connector", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sc := d.Spec.Template.Spec.Containers[0].SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("stored container securityContext = %+v", sc)
		}
		svc, err := srv.Kube.CoreV1().Services("gitops-2").Get(ctx, "conn2-gitops-connector", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.ClusterIP == "" {
			t.Errorf("service = %s %q", svc.Spec.Type, svc.Spec.ClusterIP)
		}
	})

	t.Run("a release with a GitHub App and Azure workload identity is accepted", func(t *testing.T) {
		srv.CreateNamespace(t, "gitops-creds")
		r := render(t, install{name: "creds", namespace: "gitops-creds", files: []string{githubValues}, values: `orchestratorPAT: ''
singleInstance: {ciCdOrchestratorType: AZDO, gitHubGitOpsRepoName: '', azdoOrgUrl: 'https://dev.azure.com/myorg/MyProject'}
githubApp: {appId: 123456, privateKey: ` + quoteYAML(testPEM) + `}
azure: {clientId: 00000000-0000-0000-0000-0000000000c1, workloadIdentity: {enabled: true}}
`})
		_, objects := r.split(t)
		srv.Apply(t, "gitops-creds", objects)
		d, err := srv.Kube.AppsV1().Deployments("gitops-creds").Get(ctx, "creds-gitops-connector", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Spec.Template.Labels["azure.workload.identity/use"] != "true" {
			t.Errorf("stored pod labels %v", d.Spec.Template.Labels)
		}
		sa, err := srv.Kube.CoreV1().ServiceAccounts("gitops-creds").Get(ctx, d.Spec.Template.Spec.ServiceAccountName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sa.Annotations["azure.workload.identity/client-id"] != "00000000-0000-0000-0000-0000000000c1" {
			t.Errorf("stored ServiceAccount annotations %v", sa.Annotations)
		}
		secret, err := srv.Kube.CoreV1().Secrets("gitops-creds").Get(ctx, "creds-gitops-connector", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if string(secret.Data["githubAppPrivateKey"]) != testPEM {
			t.Error("the stored Secret does not hold the app's private key")
		}
	})
}
