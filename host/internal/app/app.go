// Package app wires the host together: plugins, config source, routing,
// pipeline, sweeps and the HTTP server, and runs them until shutdown.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/host/internal/configset"
	"github.com/gitops-connector/gitops-connector/host/internal/dryrun"
	"github.com/gitops-connector/gitops-connector/host/internal/inflight"
	"github.com/gitops-connector/gitops-connector/host/internal/intake"
	"github.com/gitops-connector/gitops-connector/host/internal/jsstore"
	"github.com/gitops-connector/gitops-connector/host/internal/memlimit"
	"github.com/gitops-connector/gitops-connector/host/internal/metrics"
	"github.com/gitops-connector/gitops-connector/host/internal/pipeline"
	"github.com/gitops-connector/gitops-connector/host/internal/pluginhost"
	"github.com/gitops-connector/gitops-connector/host/internal/pluginpin"
	"github.com/gitops-connector/gitops-connector/host/internal/routing"
	"github.com/gitops-connector/gitops-connector/host/internal/store"
	"github.com/gitops-connector/gitops-connector/host/internal/subscriber"
	"github.com/gitops-connector/gitops-connector/host/internal/sweep"
	"github.com/gitops-connector/gitops-connector/host/internal/webhookauth"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// Options configure the host.
type Options struct {
	// ConfigPath is a GitOpsConfig file or directory (--config).
	ConfigPath string
	// Kubeconfig and Namespaces select the Kubernetes source.
	Kubeconfig string
	Namespaces []string
	// Group is the GitOpsConfig API group (CLUSTER_DOMAIN).
	Group string
	// PluginDirs are searched for plugin binaries.
	PluginDirs []string
	// PluginChecksums is the file that pins plugin binaries to SHA-256
	// checksums (--plugin-checksums; pluginpin); "" pins nothing.
	PluginChecksums string
	SubscribersDir  string
	Listen          string
	DryRun          bool
	MaxBodyBytes    int64
	// MaxInFlight bounds the notifications worked on at once (package
	// inflight); 0 is no bound.
	MaxInFlight   int
	ShutdownGrace time.Duration
	SweepInterval time.Duration
	Getenv        func(string) string
	Logger        *slog.Logger
	// OnListen, when set, is told the address the server listens on.
	OnListen func(net.Addr)
	// DataDir holds the event store; empty keeps accepted events in memory
	// only.
	DataDir string
	// MaxAge is how long an event's work is retried before it is given up;
	// default 24 h.
	MaxAge time.Duration
	// WebhookHMACSecretFile and WebhookBearerTokenFile name files holding
	// the global webhook credentials, instead of their environment
	// variables (package webhookauth).
	WebhookHMACSecretFile  string
	WebhookBearerTokenFile string
	// PprofAddress, when set, serves Go's profiles there (--pprof-address).
	PprofAddress string
	// Queue, when its URL is set (--queue), is the NATS JetStream that
	// several replicas share instead of a data directory; QueueCredentials
	// authenticate to it.
	Queue            jsstore.Options
	QueueCredentials jsstore.Credentials
}

// getenv returns Getenv, or os.Getenv when it is not set.
func (o Options) getenv() func(string) string {
	if o.Getenv == nil {
		return os.Getenv
	}
	return o.Getenv
}

// discoverPlugins finds the plugins of opts' directories, refusing the
// binaries its checksum file does not allow.
func discoverPlugins(ctx context.Context, opts Options, log *slog.Logger) (*pluginhost.Manager, error) {
	pins, err := pluginpin.Load(opts.PluginChecksums)
	if err != nil {
		return nil, err
	}
	return pluginhost.Discover(ctx, opts.PluginDirs, pins, log)
}

// DefaultPluginDir is the plugins directory beside the running binary.
func DefaultPluginDir() string {
	exe, err := os.Executable()
	if err != nil {
		return "plugins"
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	return filepath.Join(filepath.Dir(exe), "plugins")
}

// host is one running connector.
type host struct {
	opts    Options
	log     *slog.Logger
	plugins *pluginhost.Manager
	configs atomic.Pointer[configset.Set]
	loaded  atomic.Bool
	stopped atomic.Bool
	sweeps  *sweep.Runner
	pipe    *pipeline.Pipeline
	single  bool
	source  config.Source
	auth    *webhookauth.Policy
}

// Serve runs the connector until ctx ends, then shuts down gracefully.
func Serve(ctx context.Context, opts Options) error {
	log := opts.Logger
	source, single, err := chooseSource(opts)
	if err != nil {
		return err
	}
	auth, err := webhookAuth(opts)
	if err != nil {
		return err
	}
	if opts.PprofAddress != "" {
		if _, err := servePprof(ctx, opts.PprofAddress, log); err != nil {
			return err
		}
	}
	measures := metrics.New()
	plugins, err := discoverPlugins(ctx, opts, log)
	if err != nil {
		return err
	}
	defer plugins.Close()
	if err := memlimit.Apply(opts.getenv(), len(plugins.Descriptions()), log); err != nil {
		return err
	}
	plugins.Observe(measures)
	measures.Plugins(plugins.Running)
	plugins.Start(ctx)
	h := &host{opts: opts, log: log, plugins: plugins, single: single, source: source, auth: auth}
	h.configs.Store(&configset.Set{})

	var delivery pipeline.Plugins = plugins
	if opts.DryRun {
		log.Warn("dry run: commit statuses and pipeline notifications are logged, not sent")
		delivery = dryrun.Plugins{Real: plugins, Logger: log}
	}
	subs, err := subscriber.Load(opts.SubscribersDir)
	if err != nil {
		return err
	}
	if len(subs) > 0 {
		log.Info("raw subscribers loaded", "count", len(subs))
	}
	events, closeStore, err := openStore(opts, log)
	if err != nil {
		return err
	}
	defer closeStore()
	pipe, err := pipeline.New(pipeline.Options{
		Plugins: delivery, Logger: log, Store: events, Resolve: h.configByKey, MaxAge: opts.MaxAge,
		SubscriberList: subs, SubscriberClient: subscriber.NewClient(30 * time.Second),
		OnGiveUp: h.gaveUp(measures.GaveUp), Observer: measures,
	})
	if err != nil {
		return err
	}
	h.pipe = pipe
	measures.Queue(pipe.Pending, pipe.OldestAge)
	measures.Gates(pipe.OpenGates)
	lead, stopElection, err := elect(opts, source, events, log)
	if err != nil {
		return err
	}
	defer stopElection()
	h.sweeps = &sweep.Runner{Plugins: delivery, Interval: opts.SweepInterval, Logger: log, Leader: lead}
	defer h.sweeps.Stop()

	srcCtx, stopSource := context.WithCancel(context.Background())
	defer stopSource()
	srcErr := make(chan error, 1)
	go func() {
		srcErr <- source.Run(srcCtx, func(s config.Snapshot) {
			h.apply(srcCtx, s)
			pipe.Start() // once the configs are loaded: resumed events need them
		})
	}()

	handler := &intake.Handler{
		Router: &routing.Router{
			Operators: plugins,
			Configs:   h.configs.Load,
		},
		Queue:          pipe,
		Logger:         log,
		Auth:           auth,
		Metrics:        measures,
		MetricsHandler: measures.Handler(),
		MaxBodyBytes:   opts.MaxBodyBytes,
		Ready:          h.notReady,
	}
	srv := &http.Server{
		Handler:           inflight.New(opts.MaxInFlight, inflight.DefaultWait, log).Wrap(handler.Routes()),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if opts.OnListen != nil {
		opts.OnListen(ln.Addr())
	}
	log.Info("gitops-connector listening", "addr", ln.Addr().String(), "plugins", len(plugins.Descriptions()))
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	case err := <-srcErr:
		if err != nil {
			return fmt.Errorf("config source: %w", err)
		}
	}
	return h.shutdown(srv, pipe)
}

// shutdown stops intake, gives deliveries in flight the grace period, then
// stops the plugins.
func (h *host) shutdown(srv *http.Server, pipe *pipeline.Pipeline) error {
	h.stopped.Store(true)
	grace := h.opts.ShutdownGrace
	if grace <= 0 {
		grace = 25 * time.Second
	}
	h.log.Info("shutting down", "grace", grace, "pending", pipe.Pending())
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	var errs []error
	if err := srv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop http server: %w", err))
	}
	if err := pipe.Close(ctx); err != nil {
		h.log.Error("shutdown incomplete", "error", err)
		errs = append(errs, err)
	}
	h.log.Info("stopped")
	return errors.Join(errs...)
}

// openStore opens the event store: the JetStream queue the replicas share,
// the store in the data directory, or a memory store when there is
// neither. It returns it with its close function.
func openStore(opts Options, log *slog.Logger) (pipeline.Store, func(), error) {
	dataDir := opts.DataDir
	if opts.Queue.URL != "" {
		if dataDir != "" {
			return nil, nil, errors.New("--queue and --data-dir: choose one (replicas share the queue; one replica keeps a data directory)")
		}
		return openQueue(opts, log)
	}
	if dataDir == "" {
		log.Warn("no data directory (--data-dir): accepted events are kept in memory only and lost if the host stops before delivering them")
		return pipeline.NewMemoryStore(), func() {}, nil
	}
	s, err := store.Open(dataDir, store.Options{})
	if err != nil {
		return nil, nil, err
	}
	log.Info("event store opened", "path", s.Path())
	return s, func() {
		if err := s.Close(); err != nil {
			log.Error("cannot close the event store", "error", err)
		}
	}, nil
}

// gaveUp counts work given up and, when the config source can show it (a
// GitOpsConfig resource), records it there as a Delivered=False condition.
// It never blocks the pipeline.
func (h *host) gaveUp(count func(pipeline.GiveUp)) func(pipeline.GiveUp) {
	reporter, ok := h.source.(config.DeliveryReporter)
	return func(g pipeline.GiveUp) {
		count(g)
		if !ok || !strings.Contains(g.ConfigKey, "/") {
			return
		}
		what := g.Step
		if g.Status != "" {
			what += " " + g.Status
		}
		msg := fmt.Sprintf("commit %s: %s given up: %v", g.CommitID, what, g.Err)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := reporter.ReportGiveUp(ctx, g.ConfigKey, g.Reason, msg); err != nil {
				h.log.Warn("cannot record the give-up on the GitOpsConfig", "config", g.ConfigKey, "error", err)
			}
		}()
	}
}

// configByKey returns the current config of a key ("namespace/name" or
// "name") for the pipeline.
func (h *host) configByKey(key string) (config.Config, error) {
	namespace, name, ok := strings.Cut(key, "/")
	if !ok {
		namespace, name = "", key
	}
	return h.configs.Load().Lookup(namespace, name)
}

func (h *host) notReady() string {
	switch {
	case h.stopped.Load():
		return "shutting down"
	case !h.loaded.Load():
		return "configuration not loaded yet"
	case !h.plugins.Ready():
		return "a plugin is not running"
	}
	if err := h.pipe.Health(); err != nil {
		return err.Error()
	}
	return ""
}

// apply validates a new snapshot and makes it the current config set. The
// plugins its configs use are started first (validation calls them), and
// those no config uses any more are stopped once the new set serves.
func (h *host) apply(ctx context.Context, snap config.Snapshot) {
	needs := pluginNeeds(snap)
	if err := h.plugins.Use(ctx, needs); err != nil {
		h.log.Error("some plugins did not start; they are started again with backoff", "error", err)
	}
	set, results := configset.Build(ctx, snap, h.plugins, h.single)
	h.configs.Store(set)
	h.plugins.Keep(needs)
	configs := set.Valid()
	h.sweeps.Reconcile(configs)
	h.loaded.Store(true)
	reporter, _ := h.source.(config.StatusReporter)
	var wg sync.WaitGroup
	valid := map[string]config.Config{}
	for _, c := range configs {
		valid[c.Key()] = c
	}
	for _, r := range results {
		if r.Valid {
			h.log.Info("config loaded", "config", r.Key, "webhook_auth", h.auth.Scheme(valid[r.Key]))
		} else {
			h.log.Error("config invalid; it receives no events", "config", r.Key, "reason", r.Reason, "message", r.Message)
		}
		if reporter != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := reporter.ReportStatus(ctx, r.Key, r.Generation, r.Valid, r.Reason, r.Message); err != nil {
					h.log.Warn("cannot write config status", "config", r.Key, "error", err)
				}
			}()
		}
	}
	wg.Wait()
}

// pluginNeeds lists the plugin types the configs of a snapshot use, valid
// or not: validating a config calls its plugins.
func pluginNeeds(snap config.Snapshot) []pluginhost.Need {
	needs := make([]pluginhost.Need, 0, 3*len(snap.Configs))
	for _, c := range snap.Configs {
		needs = append(needs,
			pluginhost.Need{Capability: sdk.CapabilityOperator, Type: c.OperatorType},
			pluginhost.Need{Capability: sdk.CapabilityRepository, Type: c.RepositoryType},
			pluginhost.Need{Capability: sdk.CapabilityOrchestrator, Type: c.OrchestratorType})
	}
	return needs
}

// webhookAuth reads the global webhook credentials and says at start
// whether the connector authenticates its senders.
func webhookAuth(opts Options) (*webhookauth.Policy, error) {
	getenv := opts.getenv()
	creds, err := webhookauth.FromEnvironment(getenv, opts.WebhookHMACSecretFile, opts.WebhookBearerTokenFile)
	if err != nil {
		return nil, fmt.Errorf("webhook authentication: %w", err)
	}
	if creds.Enabled() {
		opts.Logger.Info("webhook authentication on", "accepts", creds.Methods())
	} else {
		opts.Logger.Warn("webhook authentication is off: anyone who can reach the connector can report deployment results " +
			"for configs without their own webhookSecretRef; set " + webhookauth.EnvHMACSecret + " (Flux generic-hmac) and/or " +
			webhookauth.EnvBearerToken + " (Argo CD)")
	}
	return &webhookauth.Policy{Global: creds}, nil
}

// chooseSource picks the config source: files, the single-instance
// environment, or Kubernetes.
func chooseSource(opts Options) (config.Source, bool, error) {
	getenv := opts.getenv()
	switch {
	case opts.ConfigPath != "":
		return config.FileSource{Path: opts.ConfigPath, Getenv: getenv,
			OnError: func(err error) { opts.Logger.Error("config files not reloaded", "error", err) }}, false, nil
	case config.SingleInstanceEnabled(getenv):
		return config.EnvSource{Getenv: getenv}, true, nil
	}
	return kubeSource(opts, getenv)
}

// operatorTypes lists every operator type the plugins offer.
func operatorTypes(m *pluginhost.Manager) func() []string {
	return func() []string { return m.Types(sdk.CapabilityOperator) }
}

// openQueue connects to the JetStream queue of --queue.
func openQueue(opts Options, log *slog.Logger) (pipeline.Store, func(), error) {
	if err := jsstore.CheckURL(opts.Queue.URL); err != nil {
		return nil, nil, fmt.Errorf("--queue: %w", err)
	}
	if opts.Queue.Name != "" {
		if err := jsstore.CheckName(opts.Queue.Name); err != nil {
			return nil, nil, fmt.Errorf("--queue-name: %w", err)
		}
	}
	connect, err := opts.QueueCredentials.Options()
	if err != nil {
		return nil, nil, fmt.Errorf("--queue: %w", err)
	}
	q := opts.Queue
	q.Connect = append(q.Connect, connect...)
	q.Logger = log
	s, err := jsstore.Open(q)
	if err != nil {
		return nil, nil, err
	}
	log.Info("event queue on NATS JetStream: replicas share the accepted events and deliver them together", "replicas", s.Replicas())
	return s, func() { _ = s.Close() }, nil
}
