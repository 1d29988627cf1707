// Package leader elects the one replica that runs the periodic work (the
// orchestrators' sweep) when several replicas run: a Kubernetes Lease in
// Kubernetes mode, a lock in a JetStream key-value bucket otherwise.
//
// Neither is a fence: a leader that stalls past its lease may still finish
// a sweep it began while another has taken over, so the work a leader does
// must stay idempotent (a sweep completes only tasks still waiting).
package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Elector tells whether this replica leads now.
type Elector interface {
	Leading() bool
}

// KV is a lock in a JetStream key-value bucket whose entries expire TTL
// after their last write: the holder rewrites its entry every TTL/3 with
// compare-and-swap; the others try to create it, which succeeds once the
// holder stopped writing for TTL (it died or lost NATS).
type KV struct {
	JetStream jetstream.JetStream
	// Bucket and Key name the lock; Identity is this replica's (its host
	// name).
	Bucket, Key, Identity string
	// TTL is how long a dead leader holds the lock; default 15 s.
	TTL time.Duration
	// Replicas is the bucket's number of copies.
	Replicas int
	Logger   *slog.Logger

	leading atomic.Bool
}

// Leading reports whether this replica holds the lock.
func (k *KV) Leading() bool { return k.leading.Load() }

// Run campaigns for the lock and keeps it while it can, until ctx ends;
// then it releases it.
func (k *KV) Run(ctx context.Context) {
	if k.TTL <= 0 {
		k.TTL = 15 * time.Second
	}
	log := k.Logger.With("lock", k.Bucket+"/"+k.Key, "identity", k.Identity)
	var bucket jetstream.KeyValue
	var rev uint64
	t := time.NewTicker(k.TTL / 3)
	defer t.Stop()
	for {
		step, cancel := context.WithTimeout(ctx, k.TTL/3)
		var err error
		if bucket == nil {
			bucket, err = k.JetStream.CreateOrUpdateKeyValue(step, jetstream.KeyValueConfig{
				Bucket: k.Bucket, Description: "gitops-connector: the replica that runs the periodic work",
				History: 1, TTL: k.TTL, Storage: jetstream.FileStorage, Replicas: k.Replicas,
			})
			if err != nil {
				bucket = nil
				log.Debug("cannot create the lock's bucket", "error", err)
			}
		}
		if bucket != nil {
			was := k.leading.Load()
			if was {
				rev, err = bucket.Update(step, k.Key, []byte(k.Identity), rev)
			} else {
				rev, err = bucket.Create(step, k.Key, []byte(k.Identity))
			}
			now := err == nil
			k.leading.Store(now)
			switch {
			case now && !was:
				log.Info("this replica leads: it runs the periodic work")
			case was && !now:
				log.Warn("this replica lost the lead", "error", err)
			case err != nil && !errors.Is(err, jetstream.ErrKeyExists):
				log.Debug("cannot take the lock", "error", err)
			}
		}
		cancel()
		select {
		case <-ctx.Done():
			k.release(bucket, rev)
			return
		case <-t.C:
		}
	}
}

// release deletes the lock when this replica holds it, so another takes
// over at once.
func (k *KV) release(bucket jetstream.KeyValue, rev uint64) {
	if !k.leading.Swap(false) || bucket == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := bucket.Purge(ctx, k.Key, jetstream.LastRevision(rev)); err != nil {
		k.Logger.Warn("cannot release the lead; another replica takes it when it expires", "error", fmt.Errorf("purge %s: %w", k.Key, err))
	}
}
