package jsstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/gitops-connector/gitops-connector/host/internal/pipeline"
	"github.com/gitops-connector/gitops-connector/host/internal/store"
	"github.com/nats-io/nats.go/jetstream"
)

// Consume pulls from every partition's consumer and calls add with the
// jobs of the partitions this replica is pinned to, until ctx ends. Then
// it hands the jobs it holds back.
func (s *Store) Consume(ctx context.Context, add func(pipeline.Record) bool) error {
	events, err := backoff.Retry(ctx, func() (jetstream.Stream, error) {
		events, _, err := s.ready()
		return events, err
	}, backoff.WithBackOff(backoff.NewExponentialBackOff()), backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(func(err error, next time.Duration) {
			s.opts.Logger.Warn("JetStream is not ready; this replica delivers nothing until it is", "error", err, "retry_in", next.Round(time.Second))
		}))
	if err != nil {
		return nil // ctx ended
	}
	var running []jetstream.ConsumeContext
	defer func() {
		for _, cc := range running {
			cc.Stop()
		}
		s.handBack()
	}()
	for p := range s.opts.Partitions {
		name := fmt.Sprintf("deliver-%d", p)
		cons, err := backoff.Retry(ctx, func() (jetstream.Consumer, error) {
			cctx, cancel := s.ctx()
			defer cancel()
			return events.CreateOrUpdateConsumer(cctx, jetstream.ConsumerConfig{
				Durable:        name,
				Description:    "gitops-connector: delivers the events of one partition, from one replica at a time",
				FilterSubject:  fmt.Sprintf("%s.%d.*", s.subject, p),
				AckPolicy:      jetstream.AckExplicitPolicy,
				AckWait:        s.opts.AckWait,
				MaxDeliver:     -1,
				MaxAckPending:  1000,
				PriorityPolicy: jetstream.PriorityPolicyPinned,
				PriorityGroups: []string{group},
				PinnedTTL:      s.opts.PinnedTTL,
			})
		}, backoff.WithBackOff(backoff.NewExponentialBackOff()), backoff.WithMaxElapsedTime(0))
		if err != nil {
			return nil
		}
		cc, err := cons.Consume(func(m jetstream.Msg) { s.take(m, add) },
			jetstream.PullPriorityGroup(group),
			jetstream.PullExpiry(s.opts.pullExpiry()),
			jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
				s.opts.Logger.Debug("pull from JetStream", "consumer", name, "error", err)
			}))
		if err != nil {
			return fmt.Errorf("consume %s: %w", name, err)
		}
		running = append(running, cc)
	}
	s.opts.Logger.Info("taking events from JetStream", "stream", s.stream, "partitions", s.opts.Partitions)
	t := time.NewTicker(max(s.opts.AckWait/3, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.renew()
		}
	}
}

// take hands a message to the pipeline, unless its job was finished
// before (a crash between the record and the acknowledgement) or this
// replica holds it already (a redelivery while it was being renewed).
func (s *Store) take(m jetstream.Msg, add func(pipeline.Record) bool) {
	log := s.opts.Logger
	meta, err := m.Metadata()
	if err != nil {
		log.Error("a JetStream message without metadata; terminated", "subject", m.Subject(), "error", err)
		_ = m.Term()
		return
	}
	seq := meta.Sequence.Stream
	r, err := store.DecodeJob(seq, m.Data())
	if err != nil {
		log.Error("a JetStream message that is no event; terminated", "sequence", seq, "error", err)
		_ = m.TermWithReason("not an event")
		return
	}
	s.mu.Lock()
	_, again := s.held[seq]
	s.held[seq] = m
	s.mu.Unlock()
	if again {
		return
	}
	events, states, err := s.ready()
	var e entry
	if err == nil {
		ctx, cancel := s.ctx()
		e, _, err = s.read(ctx, states, r.Key())
		cancel()
	}
	if err != nil {
		log.Warn("cannot read the delivery state of a job; it is handed out again", "event", r.ID, "error", err)
		s.release(seq, m)
		return
	}
	if e.Done >= seq {
		ctx, cancel := s.ctx()
		defer cancel()
		_ = m.DoubleAck(ctx)
		s.mu.Lock()
		delete(s.held, seq)
		s.mu.Unlock()
		return
	}
	ctx, cancel := s.ctx()
	older, err := s.olderElsewhere(ctx, events, seq, m.Subject(), e.Done)
	cancel()
	if err != nil {
		log.Warn("cannot tell whether an older event of the commit is still to be delivered; the job is handed out again", "event", r.ID, "error", err)
		s.release(seq, m)
		return
	}
	if older != 0 {
		log.Debug("an older event of the commit is still to be delivered; the job waits for it", "event", r.ID, "sequence", seq, "older", older)
		s.release(seq, m)
		return
	}
	if e.Job == seq {
		r.Next = e.Next
	}
	if !add(r) {
		s.release(seq, m)
	}
}

// olderElsewhere returns the sequence of an older job of the message's
// pair that is still in the stream and not held by this replica, or 0.
// Such a job is held by another replica (alive, cut off or dead, until
// AckWait hands it out again) or was handed back by one that stopped: the
// pair's jobs finish in stream order, so this one waits until that one is
// done. The stream is the truth here: work-queue retention removes a job
// once acknowledged, which is after its state was recorded, and a pair's
// jobs share one subject. The jobs up to done, the pair's last finished
// one, need not be read. The read goes to the stream's leader (the stream
// does not allow direct gets, which a lagging follower could answer).
func (s *Store) olderElsewhere(ctx context.Context, events jetstream.Stream, seq uint64, subject string, done uint64) (uint64, error) {
	from := done + 1
	for {
		m, err := events.GetMsg(ctx, from, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("read the older jobs of %s: %w", subject, err)
		}
		if m.Sequence >= seq {
			return 0, nil
		}
		s.mu.Lock()
		_, mine := s.held[m.Sequence]
		s.mu.Unlock()
		if !mine {
			return m.Sequence, nil
		}
		from = m.Sequence + 1 // queued here before this one
	}
}

// release hands a message back to JetStream for another delivery.
func (s *Store) release(seq uint64, m jetstream.Msg) {
	s.mu.Lock()
	delete(s.held, seq)
	s.mu.Unlock()
	_ = m.NakWithDelay(time.Second)
}

// renew tells JetStream that the jobs this replica holds are in progress,
// so they are not handed to another replica while this one is alive.
func (s *Store) renew() {
	s.mu.Lock()
	msgs := make([]jetstream.Msg, 0, len(s.held))
	for _, m := range s.held {
		msgs = append(msgs, m)
	}
	s.mu.Unlock()
	for _, m := range msgs {
		_ = m.InProgress()
	}
}

// handBack releases the jobs not done: they are redelivered at once to
// the replica pinned to their partition next, which delivers the newer
// jobs of their pairs only after them (olderElsewhere).
func (s *Store) handBack() {
	s.mu.Lock()
	held := s.held
	s.held = map[uint64]jetstream.Msg{}
	s.mu.Unlock()
	for _, m := range held {
		_ = m.Nak()
	}
}
