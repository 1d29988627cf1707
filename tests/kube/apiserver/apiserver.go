// Package apiserver runs a real Kubernetes API server inside a test: the
// kube-apiserver of k8s.io/kubernetes (core API, RBAC, ServiceAccount tokens,
// CustomResourceDefinitions, status subresources, watches) on an embedded
// etcd (go.etcd.io/etcd/server/v3/embed). Nothing is downloaded and no
// binary is needed.
//
// Starting a server takes a few seconds; start one per test binary, in a
// top-level test that runs the others as subtests, and give each subtest its
// own namespaces.
package apiserver

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/apiserver/pkg/storage/etcd3/testserver"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/klog/v2"
	kubeapiservertesting "k8s.io/kubernetes/cmd/kube-apiserver/app/testing"
)

// FieldManager is the field manager of the objects Apply writes.
const FieldManager = "gitops-connector-tests"

// Server is a running API server with administrator clients.
type Server struct {
	// Config authenticates as an administrator (group system:masters):
	// RBAC allows it everything.
	Config *rest.Config
	// Kube, Dynamic and APIExtensions are administrator clients.
	Kube          kubernetes.Interface
	Dynamic       dynamic.Interface
	APIExtensions apiextensionsclient.Interface

	mapper *restmapper.DeferredDiscoveryRESTMapper
}

// Start starts an etcd and an API server for t; both stop when t ends.
// Authorization is RBAC, as in a cluster, so a client that authenticates as
// a ServiceAccount (KubeconfigFor) gets only what its Roles grant.
//
// The server logs to t (shown when a test fails or with -v); Start silences
// the copy klog would print to stderr.
func Start(t testing.TB) *Server {
	t.Helper()
	quietKlog()
	etcd := testserver.RunEtcd(t, nil)
	storage := storagebackend.NewDefaultConfig(filepath.Join("/", uuid.NewString(), "registry"), nil)
	storage.Transport.ServerList = etcd.Endpoints()
	flags := []string{"--authorization-mode=RBAC"}
	ts, err := kubeapiservertesting.StartTestServer(t, &kubeapiservertesting.TestServerInstanceOptions{
		EnableCertAuth:         true,
		DisableInvariantChecks: true,
	}, flags, storage)
	if err != nil {
		t.Fatalf("start kube-apiserver: %v", err)
	}
	t.Cleanup(ts.TearDownFn)

	cfg := rest.CopyConfig(ts.ClientConfig)
	s := &Server{Config: cfg}
	if s.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if s.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if s.APIExtensions, err = apiextensionsclient.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco))
	return s
}

// quietKlog stops klog's global output (stderr), which would repeat on
// every test run what the per-test logger already records.
func quietKlog() {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)
}

// WriteKubeconfig writes a kubeconfig file for the administrator into a
// temporary directory of t and returns its path.
func (s *Server) WriteKubeconfig(t testing.TB) string {
	t.Helper()
	return s.writeKubeconfig(t, "admin", s.Config.BearerToken)
}

// KubeconfigFor writes a kubeconfig file that authenticates as the
// ServiceAccount namespace/name (with a token from the TokenRequest API,
// valid for a day), as a Pod running under it would. The ServiceAccount must
// exist; what it may do is up to the RBAC objects applied.
func (s *Server) KubeconfigFor(t testing.TB, namespace, name string) string {
	t.Helper()
	expiry := int64(24 * 60 * 60)
	tr, err := s.Kube.CoreV1().ServiceAccounts(namespace).CreateToken(context.Background(), name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for ServiceAccount %s/%s: %v", namespace, name, err)
	}
	return s.writeKubeconfig(t, "system:serviceaccount:"+namespace+":"+name, tr.Status.Token)
}

func (s *Server) writeKubeconfig(t testing.TB, user, token string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{
		Server:                   s.Config.Host,
		CertificateAuthorityData: s.Config.CAData,
		TLSServerName:            s.Config.ServerName,
	}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: user}
	cfg.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatalf("write kubeconfig: %v", err)
	}
	return path
}

// CreateNamespace creates a namespace.
func (s *Server) CreateNamespace(t testing.TB, name string) {
	t.Helper()
	_, err := s.Kube.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

// ApplyCRD creates or updates the CustomResourceDefinition in manifest
// (YAML or JSON) and waits until it is Established and its resource can be
// listed, which is when custom resources of it can be created. Apply a CRD
// once per server: the API server holds back the first requests to a new
// resource for a moment.
func (s *Server) ApplyCRD(t testing.TB, manifest []byte) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	var crd apiextensionsv1.CustomResourceDefinition
	if err := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096).Decode(&crd); err != nil {
		t.Fatalf("decode CRD: %v", err)
	}
	if crd.Kind != "CustomResourceDefinition" {
		t.Fatalf("ApplyCRD: kind %q, want CustomResourceDefinition", crd.Kind)
	}
	objs := s.Apply(t, "", manifest)
	ctx := context.Background()
	var last *apiextensionsv1.CustomResourceDefinition
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := s.APIExtensions.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, objs[0].GetName(), metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = got
		for _, c := range got.Status.Conditions {
			if c.Type == apiextensionsv1.NamesAccepted && c.Status == apiextensionsv1.ConditionFalse {
				return false, fmt.Errorf("CRD names not accepted: %s", c.Message)
			}
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("CRD %s not established: %v", crd.Name, err)
	}
	for _, v := range last.Spec.Versions {
		if !v.Served {
			continue
		}
		gvr := schema.GroupVersionResource{Group: last.Spec.Group, Version: v.Name, Resource: last.Spec.Names.Plural}
		err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			_, err := s.Dynamic.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1})
			return err == nil, nil
		})
		if err != nil {
			t.Fatalf("resource %s not served: %v", gvr, err)
		}
	}
	s.mapper.Reset()
	return last
}

// Apply creates or updates every object of manifests (YAML documents or
// JSON) with server-side apply, as kubectl apply --server-side does.
// Objects without a namespace that need one get namespace (which must
// exist). It returns the objects as the server stored them.
func (s *Server) Apply(t testing.TB, namespace string, manifests []byte) []*unstructured.Unstructured {
	t.Helper()
	objs, err := Decode(manifests)
	if err != nil {
		t.Fatal(err)
	}
	var out []*unstructured.Unstructured
	for _, obj := range objs {
		got, err := s.apply(context.Background(), namespace, obj)
		if err != nil {
			t.Fatalf("apply %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
		out = append(out, got)
	}
	return out
}

func (s *Server) apply(ctx context.Context, namespace string, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	gvk := obj.GroupVersionKind()
	mapping, err := s.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		s.mapper.Reset()
		mapping, err = s.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("resource of %s: %w", gvk, err)
	}
	res := dynamic.ResourceInterface(s.Dynamic.Resource(mapping.Resource))
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			obj.SetNamespace(namespace)
		}
		if obj.GetNamespace() == "" {
			return nil, errors.New("namespaced object without a namespace")
		}
		res = s.Dynamic.Resource(mapping.Resource).Namespace(obj.GetNamespace())
	}
	body, err := runtime.Encode(unstructured.UnstructuredJSONScheme, obj)
	if err != nil {
		return nil, err
	}
	force := true
	return res.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: FieldManager, Force: &force})
}

// Decode splits YAML documents (or JSON) into objects, skipping empty
// documents.
func Decode(manifests []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifests), 4096)
	var out []*unstructured.Unstructured
	for i := 1; ; i++ {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetAPIVersion() == "" {
			return nil, fmt.Errorf("document %d: no apiVersion or kind", i)
		}
		out = append(out, u)
	}
}

// Condition returns the condition of type typ from an object's
// status.conditions, and whether it is there.
func Condition(obj *unstructured.Unstructured, typ string) (metav1.Condition, bool) {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != typ {
			continue
		}
		var cond metav1.Condition
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &cond); err == nil {
			return cond, true
		}
	}
	return metav1.Condition{}, false
}
