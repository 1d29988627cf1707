package leader

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1 "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Lease is a Kubernetes Lease held with client-go's leader election, for
// replicas that run in Kubernetes mode (the chart grants the Role).
type Lease struct {
	// Client is the coordination/v1 client (kubesource.Source.Leases).
	Client coordinationv1.LeasesGetter
	// Namespace and Name name the Lease; Identity is this replica's (the
	// pod's name).
	Namespace, Name, Identity string
	Logger                    *slog.Logger

	leading atomic.Bool
}

// Leading reports whether this replica holds the Lease.
func (l *Lease) Leading() bool { return l.leading.Load() }

// Run campaigns for the Lease until ctx ends, campaigning again after a
// lost lead; it releases the Lease when ctx ends.
func (l *Lease) Run(ctx context.Context) {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: l.Namespace, Name: l.Name},
		Client:     l.Client,
		LockConfig: resourcelock.ResourceLockConfig{Identity: l.Identity},
	}
	log := l.Logger.With("lease", l.Namespace+"/"+l.Name, "identity", l.Identity)
	for ctx.Err() == nil {
		leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   15 * time.Second,
			RenewDeadline:   10 * time.Second,
			RetryPeriod:     2 * time.Second,
			ReleaseOnCancel: true,
			Name:            l.Name,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(context.Context) {
					l.leading.Store(true)
					log.Info("this replica leads: it runs the periodic work")
				},
				OnStoppedLeading: func() {
					if l.leading.Swap(false) {
						log.Warn("this replica lost the lead")
					}
				},
			},
		})
	}
}
