// Package natsserver runs NATS servers with JetStream inside a test, on
// loopback: one server, or a cluster whose nodes can be stopped and
// started again on their data, for the tests of the connector's JetStream
// queue.
package natsserver

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Node is one server of a cluster, or a lone server.
type Node struct {
	opts   *server.Options
	server *server.Server
}

// URL is the address clients connect to.
func (n *Node) URL() string { return n.server.ClientURL() }

// Stop shuts the server down as a killed one would leave its peers: its
// clients lose their connection at once.
func (n *Node) Stop() {
	n.server.Shutdown()
	n.server.WaitForShutdown()
}

// Start starts a stopped node again on its data and ports.
func (n *Node) Start(t testing.TB) {
	t.Helper()
	n.server = start(t, n.opts)
}

// Running reports whether the node serves clients.
func (n *Node) Running() bool { return n.server.Running() }

func start(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	s, err := startQuiet(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func startQuiet(opts *server.Options) (*server.Server, error) {
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server %s: %w", opts.ServerName, err)
	}
	log := &errorLog{fatal: make(chan struct{})}
	s.SetLogger(log, false, false)
	go s.Start()
	// A loaded machine may take long to start a server; a listener that
	// failed (its port taken) never recovers, so that one is not waited on.
	for deadline := time.Now().Add(30 * time.Second); !s.ReadyForConnections(100 * time.Millisecond); {
		select {
		case <-log.fatal:
			s.Shutdown()
			return nil, fmt.Errorf("%w: %s: %s", errFailed, opts.ServerName, log)
		default:
		}
		if time.Now().After(deadline) {
			s.Shutdown()
			return nil, fmt.Errorf("nats server %s did not start in 30 s: %s", opts.ServerName, log)
		}
	}
	return s, nil
}

// errFailed: the server logged a fatal error while starting, such as a
// port it could not listen on.
var errFailed = errors.New("nats server failed to start")

// errorLog keeps the errors a server logs (it logs nothing else in a
// test), so that a server that does not start says why: a listener that
// failed is only logged.
type errorLog struct {
	mu    sync.Mutex
	lines []string
	fatal chan struct{} // closed on the first fatal error
}

func (l *errorLog) keep(format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) < 20 {
		l.lines = append(l.lines, fmt.Sprintf(format, v...))
	}
}

func (l *errorLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 0 {
		return "it logged no error"
	}
	return strings.Join(l.lines, "; ")
}

func (l *errorLog) Fatalf(format string, v ...any) {
	l.keep(format, v...)
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.fatal:
	default:
		close(l.fatal)
	}
}

func (l *errorLog) Errorf(format string, v ...any) { l.keep(format, v...) }
func (*errorLog) Warnf(string, ...any)             {}
func (*errorLog) Noticef(string, ...any)           {}
func (*errorLog) Debugf(string, ...any)            {}
func (*errorLog) Tracef(string, ...any)            {}

func options(dir, name string) *server.Options {
	return &server.Options{
		ServerName: name, Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		JetStream: true, StoreDir: filepath.Join(dir, name),
		JetStreamMaxMemory: 64 << 20, JetStreamMaxStore: 1 << 30,
	}
}

// Single starts one server with JetStream, changed by tune (e.g. to require
// a token), stopped when the test ends.
func Single(t testing.TB, tune ...func(*server.Options)) *Node {
	t.Helper()
	n := &Node{opts: options(t.TempDir(), "nats-0")}
	for _, f := range tune {
		f(n.opts)
	}
	n.Start(t)
	n.opts.Port = n.server.Addr().(*net.TCPAddr).Port // the same after a restart
	t.Cleanup(func() {
		if n.Running() {
			n.Stop()
		}
	})
	return n
}

// Cluster is a JetStream cluster of nodes on loopback.
type Cluster struct {
	Nodes []*Node
}

// URLs is every node's client address, comma-separated, as a client is
// given them.
func (c *Cluster) URLs() string {
	var urls []string
	for _, n := range c.Nodes {
		urls = append(urls, net.JoinHostPort(n.opts.Host, strconv.Itoa(n.opts.Port)))
	}
	return "nats://" + strings.Join(urls, ",nats://")
}

// NewCluster starts size nodes (3 for streams with 3 replicas) with their
// routes to each other and waits until JetStream is ready on every one.
// They are stopped when the test ends.
func NewCluster(t testing.TB, size int) *Cluster {
	t.Helper()
	c, err := StartCluster(t.TempDir(), size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

// StartCluster starts size nodes on loopback, each storing its JetStream
// files under dir, and waits until JetStream is ready on every one; Stop
// stops them. It is NewCluster outside a test (the load benchmark runs a
// cluster of its own).
func StartCluster(dir string, size int) (*Cluster, error) {
	// The nodes' ports must be known before any starts (each routes to
	// all), so they are picked free and released, and another process may
	// bind one before its node does: then the cluster starts again on
	// other ports.
	var errs []error
	for attempt := range 3 {
		c, err := startCluster(filepath.Join(dir, strconv.Itoa(attempt)), size)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if !errors.Is(err, errFailed) {
			break
		}
	}
	return nil, errors.Join(errs...)
}

func startCluster(dir string, size int) (*Cluster, error) {
	ports, err := freePorts(2 * size)
	if err != nil {
		return nil, err
	}
	client, routes := ports[:size], ports[size:]
	var urls []*url.URL
	for _, p := range routes {
		urls = append(urls, &url.URL{Scheme: "nats-route", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(p))})
	}
	c := &Cluster{}
	for i := range size {
		opts := options(dir, fmt.Sprintf("nats-%d", i))
		opts.Port = client[i]
		opts.Cluster = server.ClusterOpts{Name: "gitops-connector-test", Host: "127.0.0.1", Port: routes[i]}
		opts.Routes = urls
		c.Nodes = append(c.Nodes, &Node{opts: opts})
	}
	var wg sync.WaitGroup
	servers := make([]*server.Server, size)
	errs := make([]error, size)
	for i, n := range c.Nodes {
		wg.Go(func() { servers[i], errs[i] = startQuiet(n.opts) })
	}
	wg.Wait()
	for i, n := range c.Nodes {
		n.server = servers[i]
	}
	if err := errors.Join(errs...); err != nil {
		c.Stop()
		return nil, err
	}
	if err := c.waitReady(60 * time.Second); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// Stop stops every node that runs.
func (c *Cluster) Stop() {
	for _, n := range c.Nodes {
		if n.server != nil && n.Running() {
			n.Stop()
		}
	}
}

// WaitReady waits until every node runs and is current with JetStream's
// meta leader, which has them all as peers.
func (c *Cluster) WaitReady(t testing.TB) {
	t.Helper()
	if err := c.waitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
}

func (c *Cluster) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !c.ready() {
		if time.Now().After(deadline) {
			return errors.New("the JetStream cluster did not form")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// ready reports whether a node leads JetStream's meta group with every node
// as its peer and every node is current with it.
func (c *Cluster) ready() bool {
	led := false
	for _, n := range c.Nodes {
		if !n.Running() || !n.server.JetStreamIsCurrent() {
			return false
		}
		if n.server.JetStreamIsLeader() && len(n.server.JetStreamClusterPeers()) == len(c.Nodes) {
			led = true
		}
	}
	return led
}

// freePorts returns n ports free on loopback now.
func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
