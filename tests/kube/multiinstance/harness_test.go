package multiinstance

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-connector/gitops-connector/testkit/hostproc"
	"github.com/gitops-connector/gitops-connector/tests/kube/apiserver"
)

// gvr is the GitOpsConfig resource of the default group, the one the seed's
// example uses.
var gvr = schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "gitopsconfigs"}

// patience bounds every wait for something asynchronous; it only fails a
// test that would otherwise hang.
const patience = 90 * time.Second

// host is a running gitops-connector process.
type host struct{ *hostproc.Process }

type hostOptions struct {
	// Kubeconfig the host watches GitOpsConfig resources with.
	Kubeconfig string
	// Namespaces to watch; empty means all.
	Namespaces []string
	// PAT is the global token.
	PAT string
	// Args are extra command-line arguments.
	Args []string
}

// startHost runs the host in multi-instance mode (no single-instance
// variables, no --config), waits until /readyz answers 200 (its first
// snapshot of GitOpsConfig resources is loaded) and stops it with SIGTERM
// when the test ends.
func startHost(t *testing.T, o hostOptions) *host {
	t.Helper()
	p := bundle.Options()
	p.Patience = patience
	p.Args = []string{"--kubeconfig", o.Kubeconfig}
	if len(o.Namespaces) > 0 {
		p.Args = append(p.Args, "--namespaces", strings.Join(o.Namespaces, ","))
	}
	p.Args = append(p.Args, o.Args...)
	p.Env = map[string]string{"CLUSTER_DOMAIN": gvr.Group}
	if o.PAT != "" {
		p.Env["PAT"] = o.PAT
	}
	return &host{hostproc.Start(t, p)}
}

// snapshotsLoaded counts the snapshots of GitOpsConfig resources the host
// has applied (the Kubernetes source logs each after the host took it).
func (h *host) snapshotsLoaded() int {
	return len(h.Log.Messages("GitOpsConfig resources loaded"))
}

// waitSnapshots waits until the host has applied more than n snapshots and
// returns how many it has. A status is written while a snapshot is applied,
// before the source logs it: count the snapshots with waitSnapshots(t, 0)
// after seeing a status, not with snapshotsLoaded.
func (h *host) waitSnapshots(t *testing.T, n int) int {
	t.Helper()
	got := 0
	eventually(t, "the host to load the change", func() string {
		if got = h.snapshotsLoaded(); got <= n {
			return fmt.Sprintf("%d snapshots loaded, want more than %d", got, n)
		}
		return ""
	})
	return got
}

// eventually polls cond until it returns "" (or fails with its last word).
func eventually(t *testing.T, what string, cond func() string) {
	t.Helper()
	hostproc.Eventually(t, patience, what, cond)
}

// cluster is the API server the tests share, with the GitOpsConfig CRD and
// the connector's ServiceAccount and RBAC applied.
type cluster struct {
	*apiserver.Server
	// kubeconfig authenticates as the connector's ServiceAccount.
	kubeconfig string
	// tests counts the tests that asked for namespaces.
	tests int
}

// connectorNamespace and connectorAccount are where testdata/rbac.yaml puts
// the connector's ServiceAccount.
const (
	connectorNamespace = "gitops-connector"
	connectorAccount   = "gitops-connector"
)

func newCluster(t *testing.T) *cluster {
	t.Helper()
	srv := apiserver.Start(t)
	srv.ApplyCRD(t, readFile(t, filepath.Join("..", "testdata", "gitopsconfig-crd.yaml")))
	srv.CreateNamespace(t, connectorNamespace)
	srv.Apply(t, connectorNamespace, readFile(t, filepath.Join("..", "testdata", "rbac.yaml")))
	return &cluster{Server: srv, kubeconfig: srv.KubeconfigFor(t, connectorNamespace, connectorAccount)}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// namespaces creates namespaces for the running test, one per suffix,
// named after it.
func (c *cluster) namespaces(t *testing.T, suffixes ...string) []string {
	t.Helper()
	c.tests++
	slug := strings.Trim(nonName.ReplaceAllString(strings.ToLower(path.Base(t.Name())), "-"), "-")
	if len(slug) > 40 {
		slug = strings.TrimRight(slug[:40], "-")
	}
	var out []string
	for _, s := range suffixes {
		ns := fmt.Sprintf("t%d-%s-%s", c.tests, slug, s)
		c.CreateNamespace(t, ns)
		out = append(out, ns)
	}
	return out
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

func gitOpsConfig(namespace, name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": gvr.GroupVersion().String(),
		"kind":       "GitOpsConfig",
		"metadata":   map[string]any{"name": name, "namespace": namespace},
		"spec":       spec,
	}}
}

func (c *cluster) create(t *testing.T, namespace, name string, spec map[string]any) *unstructured.Unstructured {
	t.Helper()
	obj, err := c.Dynamic.Resource(gvr).Namespace(namespace).Create(context.Background(), gitOpsConfig(namespace, name, spec), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create GitOpsConfig %s/%s: %v", namespace, name, err)
	}
	return obj
}

// update replaces the spec of a GitOpsConfig and returns the new generation.
func (c *cluster) update(t *testing.T, namespace, name string, spec map[string]any) int64 {
	t.Helper()
	res := c.Dynamic.Resource(gvr).Namespace(namespace)
	obj, err := res.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	obj.Object["spec"] = spec
	obj, err = res.Update(context.Background(), obj, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update GitOpsConfig %s/%s: %v", namespace, name, err)
	}
	return obj.GetGeneration()
}

func (c *cluster) delete(t *testing.T, namespace, name string) {
	t.Helper()
	if err := c.Dynamic.Resource(gvr).Namespace(namespace).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete GitOpsConfig %s/%s: %v", namespace, name, err)
	}
}

// waitStatus waits until the GitOpsConfig's status describes generation
// and returns its Ready condition.
func (c *cluster) waitStatus(t *testing.T, namespace, name string, generation int64) metav1.Condition {
	t.Helper()
	var ready metav1.Condition
	eventually(t, fmt.Sprintf("status of %s/%s generation %d", namespace, name, generation), func() string {
		obj, err := c.Dynamic.Resource(gvr).Namespace(namespace).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		observed, _, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
		cond, ok := apiserver.Condition(obj, "Ready")
		if observed != generation || !ok || cond.ObservedGeneration != generation {
			return fmt.Sprintf("status %v", obj.Object["status"])
		}
		ready = cond
		return ""
	})
	return ready
}

// waitReady waits for Ready=True at generation 1, the state of a new valid
// config the host serves.
func (c *cluster) waitReady(t *testing.T, namespace, name string) {
	t.Helper()
	if cond := c.waitStatus(t, namespace, name, 1); cond.Status != metav1.ConditionTrue {
		t.Fatalf("%s/%s: Ready=%s %s: %s", namespace, name, cond.Status, cond.Reason, cond.Message)
	}
}

func (c *cluster) putSecret(t *testing.T, namespace, name string, data map[string]string) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, StringData: data}
	secrets := c.Kube.CoreV1().Secrets(namespace)
	if _, err := secrets.Create(context.Background(), s, metav1.CreateOptions{}); err == nil {
		return
	}
	if _, err := secrets.Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("write Secret %s/%s: %v", namespace, name, err)
	}
}
