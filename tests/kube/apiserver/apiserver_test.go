package apiserver

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func TestServer(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	s.CreateNamespace(t, "team-a")

	t.Run("serves Secrets of the core API", func(t *testing.T) {
		secrets := s.Kube.CoreV1().Secrets("team-a")
		_, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "github"}, StringData: map[string]string{"PAT": "one"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := secrets.Get(ctx, "github", metav1.GetOptions{})
		if err != nil || string(got.Data["PAT"]) != "one" {
			t.Fatalf("get: %v, data %v", err, got)
		}
		list, err := secrets.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=github"})
		if err != nil || len(list.Items) != 1 {
			t.Fatalf("list by name: %v, %d items", err, len(list.Items))
		}
	})

	crdYAML, err := os.ReadFile(filepath.Join("..", "testdata", "gitopsconfig-crd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crd := s.ApplyCRD(t, crdYAML)
	gvr := schema.GroupVersionResource{Group: crd.Spec.Group, Version: "v1", Resource: crd.Spec.Names.Plural}

	t.Run("ApplyCRD returns when custom resources can be created", func(t *testing.T) {
		objs := s.Apply(t, "team-a", []byte(`
apiVersion: example.com/v1
kind: GitOpsConfig
metadata:
  name: app
spec:
  gitRepositoryType: GITHUB
  ciCdOrchestratorType: GITHUB
  gitOpsOperatorType: FLUX
  gitOpsAppURL: https://github.com/org/manifests/commit
  thirdPartySetting: kept
`))
		if len(objs) != 1 || objs[0].GetNamespace() != "team-a" || objs[0].GetGeneration() != 1 {
			t.Fatalf("applied %+v", objs)
		}
		if v, _, _ := unstructured.NestedString(objs[0].Object, "spec", "thirdPartySetting"); v != "kept" {
			t.Errorf("an unknown spec field was pruned: %v", objs[0].Object["spec"])
		}
	})

	t.Run("the status subresource keeps the generation", func(t *testing.T) {
		res := s.Dynamic.Resource(gvr).Namespace("team-a")
		obj, err := res.Get(ctx, "app", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		obj.Object["status"] = map[string]any{"observedGeneration": int64(1), "conditions": []any{map[string]any{
			"type": "Ready", "status": "True", "reason": "Valid", "message": "ok",
			"lastTransitionTime": "2026-11-24T10:00:00Z", "observedGeneration": int64(1)}}}
		obj, err = res.UpdateStatus(ctx, obj, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if obj.GetGeneration() != 1 {
			t.Errorf("generation %d after a status write, want 1", obj.GetGeneration())
		}
		if c, ok := Condition(obj, "Ready"); !ok || c.Status != metav1.ConditionTrue || c.Reason != "Valid" {
			t.Errorf("Ready condition %+v, %v", c, ok)
		}
	})

	t.Run("a ServiceAccount's kubeconfig gets only what RBAC grants", func(t *testing.T) {
		s.Apply(t, "team-a", []byte(`
apiVersion: v1
kind: ServiceAccount
metadata:
  name: reader
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: read-gitopsconfigs
rules:
  - apiGroups: ["example.com"]
    resources: ["gitopsconfigs"]
    verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: reader
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: read-gitopsconfigs
subjects:
  - kind: ServiceAccount
    name: reader
    namespace: team-a
`))
		cfg, err := clientcmd.BuildConfigFromFlags("", s.KubeconfigFor(t, "team-a", "reader"))
		if err != nil {
			t.Fatal(err)
		}
		dyn := dynamic.NewForConfigOrDie(cfg)
		if _, err := dyn.Resource(gvr).Namespace("team-a").List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("list granted GitOpsConfigs: %v", err)
		}
		if _, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Secrets("team-a").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("list Secrets without a grant: %v, want Forbidden", err)
		}
		if _, err := dyn.Resource(gvr).Namespace("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("list GitOpsConfigs of another namespace: %v, want Forbidden", err)
		}
	})

	t.Run("the administrator kubeconfig works for other processes", func(t *testing.T) {
		cfg, err := clientcmd.BuildConfigFromFlags("", s.WriteKubeconfig(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Namespaces().Get(ctx, "team-a", metav1.GetOptions{}); err != nil {
			t.Errorf("get namespace: %v", err)
		}
	})
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		kinds   []string
		wantErr bool
	}{
		{"documents and empty ones", "---\napiVersion: v1\nkind: Secret\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: b}\n", []string{"Secret", "ServiceAccount"}, false},
		{"JSON", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x"}}`, []string{"Namespace"}, false},
		{"no kind", "apiVersion: v1\nmetadata: {name: a}\n", nil, true},
		{"not YAML", "a: [", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := Decode([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			var kinds []string
			for _, o := range objs {
				kinds = append(kinds, o.GetKind())
			}
			if len(kinds) != len(tc.kinds) {
				t.Fatalf("kinds %v, want %v", kinds, tc.kinds)
			}
			for i := range kinds {
				if kinds[i] != tc.kinds[i] {
					t.Errorf("kinds %v, want %v", kinds, tc.kinds)
				}
			}
		})
	}
}
