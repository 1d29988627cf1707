package chart

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/testkit/hostproc"
	"github.com/gitops-connector/gitops-connector/testkit/natsserver"
	"github.com/gitops-connector/gitops-connector/tests/kube/apiserver"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// haNamespace is where the tests install three replicas on NATS, as release
// ha: its objects, ServiceAccount, queue and Lease are named haName.
const (
	haNamespace = "gitops-ha"
	haName      = "ha-gitops-connector"
	haLease     = haName + "-sweep"
)

// installReplicas installs three replicas on NATS in multiple-instances
// mode into haNamespace of srv (the CRD is the first release's) and checks
// that the server stored what a highly available release needs.
func installReplicas(t *testing.T, srv *apiserver.Server) {
	t.Helper()
	srv.CreateNamespace(t, haNamespace)
	r := render(t, install{name: "ha", namespace: haNamespace, files: []string{natsReplicasValues},
		values: "multipleInstances: {crd: {install: false}}\n"})
	_, objects := r.split(t)
	srv.Apply(t, haNamespace, objects)
	ctx := context.Background()
	d, err := srv.Kube.AppsV1().Deployments(haNamespace).Get(ctx, haName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 3 || d.Spec.Template.Spec.Affinity == nil || d.Spec.Template.Spec.Affinity.PodAntiAffinity == nil {
		t.Errorf("stored Deployment: %d replicas, affinity %+v", *d.Spec.Replicas, d.Spec.Template.Spec.Affinity)
	}
	pdb, err := srv.Kube.PolicyV1().PodDisruptionBudgets(haNamespace).Get(ctx, haName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("stored PDB = %+v", pdb.Spec)
	}
}

// leaseAccess checks with SubjectAccessReviews that the release's
// ServiceAccount may create, read and renew the sweep's Lease in its
// namespace, and no other Lease.
func leaseAccess(t *testing.T, srv *apiserver.Server) {
	tests := []struct {
		namespace, verb, name string
		allowed               bool
	}{
		{haNamespace, "create", "", true},
		{haNamespace, "get", haLease, true},
		{haNamespace, "update", haLease, true},
		{haNamespace, "get", "gitops-connector-sweep", false},
		{haNamespace, "get", "kube-scheduler", false},
		{haNamespace, "update", "kube-scheduler", false},
		{haNamespace, "delete", haLease, false},
		{haNamespace, "list", "", false},
		{"gitops", "create", "", false},
		{"kube-system", "update", haLease, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s/%s", tt.verb, tt.namespace, tt.name), func(t *testing.T) {
			review, err := srv.Kube.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), &authorizationv1.SubjectAccessReview{
				Spec: authorizationv1.SubjectAccessReviewSpec{
					User:   "system:serviceaccount:" + haNamespace + ":" + haName,
					Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + haNamespace, "system:authenticated"},
					ResourceAttributes: &authorizationv1.ResourceAttributes{
						Namespace: tt.namespace, Verb: tt.verb, Group: "coordination.k8s.io", Resource: "leases", Name: tt.name,
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
}

// Three connector processes run as the release's replicas would: on one
// JetStream, in multiple-instances mode, authenticated as the release's
// ServiceAccount with only the RBAC the chart rendered, each with its pod's
// name and namespace. One holds the sweep's Lease; when it is killed its
// Lease expires and another takes over; when that one stops it releases the
// Lease and the last takes over.
func leaseFailover(t *testing.T, srv *apiserver.Server) {
	bin := filepath.Join(t.TempDir(), "gitops-connector")
	if err := hostproc.GoBuild(filepath.Join("..", "..", "..", "host", "cmd", "gitops-connector"), bin); err != nil {
		t.Fatal(err)
	}
	plugins := t.TempDir() // the election needs no plugin
	nats := natsserver.Single(t)
	kubeconfig := srv.KubeconfigFor(t, haNamespace, haName)
	// The release's settings the election depends on, from its ConfigMap;
	// the test's NATS needs no credential file and keeps one copy.
	cm, err := srv.Kube.CoreV1().ConfigMaps(haNamespace).Get(context.Background(), haName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const patience = 90 * time.Second
	hosts := map[string]*hostproc.Process{}
	for _, pod := range []string{"gitops-connector-a", "gitops-connector-b", "gitops-connector-c"} {
		hosts[pod] = hostproc.Start(t, hostproc.Options{
			Binary: bin, PluginDirs: []string{plugins}, Patience: patience,
			Args: []string{"--kubeconfig", kubeconfig, "--queue", nats.URL(), "--queue-replicas", "1"},
			Env: map[string]string{"CLUSTER_DOMAIN": cm.Data["CLUSTER_DOMAIN"], "GITOPS_CONNECTOR_QUEUE_NAME": cm.Data["GITOPS_CONNECTOR_QUEUE_NAME"],
				"POD_NAME": pod, "POD_NAMESPACE": haNamespace},
		})
	}
	leases := srv.Kube.CoordinationV1().Leases(haNamespace)
	// holder waits until the Lease is held by one of candidates, which
	// alone of them says it leads, and returns it.
	holder := func(candidates ...string) string {
		t.Helper()
		var got string
		hostproc.Eventually(t, patience, "one replica to hold the Lease", func() string {
			l, err := leases.Get(context.Background(), haLease, metav1.GetOptions{})
			if err != nil {
				return err.Error()
			}
			if l.Spec.HolderIdentity == nil || !slices.Contains(candidates, *l.Spec.HolderIdentity) {
				return fmt.Sprintf("holder %v, want one of %v", l.Spec.HolderIdentity, candidates)
			}
			got = *l.Spec.HolderIdentity
			if n := len(hosts[got].Log.Messages("this replica leads: it runs the periodic work")); n != 1 {
				return fmt.Sprintf("%s holds the Lease and said %d times that it leads", got, n)
			}
			return ""
		})
		for _, other := range candidates {
			if other != got && len(hosts[other].Log.Messages("this replica leads: it runs the periodic work")) != 0 {
				t.Errorf("%s says it leads while %s holds the Lease", other, got)
			}
		}
		return got
	}
	pods := []string{"gitops-connector-a", "gitops-connector-b", "gitops-connector-c"}
	first := holder(pods...)

	// Killed, it cannot release the Lease: the others wait for it to expire.
	if err := hosts[first].Kill(); err != nil {
		t.Fatal(err)
	}
	pods = slices.DeleteFunc(pods, func(p string) bool { return p == first })
	second := holder(pods...)

	// Stopped, it releases the Lease on its way out.
	if err := hosts[second].Stop(); err != nil {
		t.Fatal(err)
	}
	pods = slices.DeleteFunc(pods, func(p string) bool { return p == second })
	third := holder(pods...)

	l, err := leases.Get(context.Background(), haLease, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Spec.LeaseTransitions == nil || *l.Spec.LeaseTransitions < 2 {
		t.Errorf("lease transitions = %v after %s, %s and %s led in turn", l.Spec.LeaseTransitions, first, second, third)
	}
}
