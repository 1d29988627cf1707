package app

import (
	"context"
	"log/slog"
	"os"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/host/internal/jsstore"
	"github.com/gitops-connector/gitops-connector/host/internal/kubesource"
	"github.com/gitops-connector/gitops-connector/host/internal/leader"
	"github.com/gitops-connector/gitops-connector/host/internal/pipeline"
)

// elect starts the election of the replica that runs the periodic work
// when replicas share a JetStream queue: a Kubernetes Lease in Kubernetes
// mode (POD_NAMESPACE and POD_NAME set, as the chart does), a JetStream
// lock otherwise. With any other store there is one replica, which leads
// (nil). It returns the election and the function that ends it.
func elect(opts Options, source config.Source, events pipeline.Store, log *slog.Logger) (interface{ Leading() bool }, func(), error) {
	queue, ok := events.(*jsstore.Store)
	if !ok {
		return nil, func() {}, nil
	}
	getenv := opts.getenv()
	identity := getenv("POD_NAME")
	if identity == "" {
		identity, _ = os.Hostname()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	stop := func() { cancel(); <-done }
	if kube, ok := source.(*kubesource.Source); ok && getenv("POD_NAMESPACE") != "" {
		client, err := kube.Leases()
		if err != nil {
			cancel()
			return nil, nil, err
		}
		lease := &leader.Lease{Client: client, Namespace: getenv("POD_NAMESPACE"), Name: queue.Name() + "-sweep",
			Identity: identity, Logger: log}
		go func() { defer close(done); lease.Run(ctx) }()
		return lease, stop, nil
	}
	lock := &leader.KV{JetStream: queue.JetStream(), Bucket: queue.Name() + "-leader", Key: "sweep",
		Identity: identity, Replicas: queue.Replicas(), Logger: log}
	go func() { defer close(done); lock.Run(ctx) }()
	return lock, stop, nil
}
