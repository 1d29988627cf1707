package store

import (
	"errors"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// maxGroup bounds the writes committed in one transaction (bbolt's own
// default for DB.Batch), so one commit does not grow without limit under a
// flood of writes.
const maxGroup = 1000

// errClosed is returned by writes made after the store was closed.
var errClosed = errors.New("the store is closed")

// committer group-commits a store's writes without waiting for company:
// one goroutine commits; a write that finds it idle is committed at once,
// and the writes that arrive while a commit is in progress share the next
// one (one transaction, one fsync). Under load the number of commits, not
// the number of writes, bounds throughput; a lone write pays one commit and
// no delay.
//
// bbolt's DB.Batch does the same but holds every batch open for
// MaxBatchDelay (10 ms) after its first write, which is the latency of
// every lone event.
type committer struct {
	db *bolt.DB
	// calls is unbuffered: a write is handed over only when the committer
	// takes it, so none can be left behind when it stops.
	calls chan *call
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// call is one write waiting for its commit.
type call struct {
	fn  func(*bolt.Tx) error
	err chan error
}

func newCommitter(db *bolt.DB) *committer {
	c := &committer{db: db, calls: make(chan *call), stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

// write runs fn in a transaction and returns once it is committed and
// synced, or with fn's or the commit's error. Like DB.Batch, fn may run
// more than once (a group is retried without a write that failed), so it
// must not have effects outside the transaction other than setting its own
// results.
func (c *committer) write(fn func(*bolt.Tx) error) error {
	cl := &call{fn: fn, err: make(chan error, 1)}
	select {
	case c.calls <- cl:
		return <-cl.err
	case <-c.stop:
		return errClosed
	}
}

// close stops the committer after the commit in progress; writes made
// after it fail with errClosed.
func (c *committer) close() {
	c.once.Do(func() { close(c.stop) })
	<-c.done
}

func (c *committer) run() {
	defer close(c.done)
	group := make([]*call, 0, 16)
	for {
		select {
		case cl := <-c.calls:
			group = append(group[:0], cl)
		case <-c.stop:
			return
		}
		// Take every write that arrived during the last commit.
	gather:
		for len(group) < maxGroup {
			select {
			case cl := <-c.calls:
				group = append(group, cl)
			default:
				break gather
			}
		}
		c.commit(group)
		clear(group)
	}
}

// commit commits a group in one transaction. A write whose function fails
// is taken out and run alone, so its error is its own and the others are
// committed without it.
func (c *committer) commit(group []*call) {
	for len(group) > 0 {
		failed := -1
		err := c.db.Update(func(tx *bolt.Tx) error {
			for i, cl := range group {
				if err := safely(cl.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, cl := range group {
				cl.err <- err
			}
			return
		}
		alone := group[failed]
		group = append(group[:failed:failed], group[failed+1:]...)
		alone.err <- c.db.Update(func(tx *bolt.Tx) error { return safely(alone.fn, tx) })
	}
}

// safely runs fn, turning a panic into an error so that one bad write
// cannot take the committer, and every write waiting on it, down.
func safely(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write panicked: %v", p)
		}
	}()
	return fn(tx)
}
