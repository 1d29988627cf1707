// Command gitops-connector closes the loop of a GitOps deployment: it
// receives Flux and Argo CD notifications, posts the deployment's progress as
// commit statuses and tells the waiting CI/CD pipeline when it finished.
//
// Usage:
//
//	gitops-connector [serve] [flags]          serve (the default)
//	gitops-connector replay [flags] FILE...   parse event files, print results
//	gitops-connector version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/app"
	"github.com/gitops-connector/gitops-connector/host/internal/inflight"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "gitops-connector:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve", "replay":
	case "version":
		fmt.Fprintln(stdout, version)
		return nil
	default:
		return fmt.Errorf("unknown command %q; commands: serve, replay, version", cmd)
	}

	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := app.Options{Getenv: getenv}
	var pluginDirs, namespaces, logLevel string
	fs.StringVar(&opts.ConfigPath, "config", getenv("GITOPS_CONNECTOR_CONFIG"), "GitOpsConfig YAML file or directory (several configs without Kubernetes)")
	fs.StringVar(&pluginDirs, "plugin-dir", envOr(getenv, "GITOPS_CONNECTOR_PLUGIN_DIR", app.DefaultPluginDir()), "plugin directories, ':'-separated")
	fs.StringVar(&opts.PluginChecksums, "plugin-checksums", getenv("GITOPS_CONNECTOR_PLUGIN_CHECKSUMS"), "file of SHA-256 checksums of plugin binaries, as sha256sum prints them: a binary listed runs only with that checksum, and an unlisted binary in a directory it lists does not run")
	fs.StringVar(&logLevel, "log-level", envOr(getenv, "GITOPS_CONNECTOR_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	if cmd == "serve" {
		port := envOr(getenv, "PREDICTIVE_UNIT_SERVICE_PORT", "8080")
		fs.StringVar(&opts.Listen, "listen", ":"+port, "listen address")
		fs.StringVar(&opts.SubscribersDir, "subscribers-dir", envOr(getenv, "GITOPS_CONNECTOR_SUBSCRIBERS_DIR", "/subscribers"), "directory of raw subscribers (one file each, first line the URL)")
		fs.BoolVar(&opts.DryRun, "dry-run", envBool(getenv, "GITOPS_CONNECTOR_DRY_RUN"), "log repository and orchestrator actions instead of performing them")
		fs.StringVar(&opts.Kubeconfig, "kubeconfig", getenv("KUBECONFIG"), "kubeconfig for watching GitOpsConfig resources outside a cluster")
		fs.StringVar(&namespaces, "namespaces", getenv("GITOPS_CONNECTOR_NAMESPACES"), "namespaces to watch for GitOpsConfig resources, ','-separated (default all)")
		fs.Int64Var(&opts.MaxBodyBytes, "max-body-bytes", 4<<20, "largest notification body accepted")
		fs.IntVar(&opts.MaxInFlight, "max-in-flight", inflight.DefaultMax, "notifications worked on at once; others wait, body unread, up to 10s for a turn, else 503 (0: no bound)")
		fs.DurationVar(&opts.ShutdownGrace, "shutdown-grace", envDuration(getenv, "GITOPS_CONNECTOR_SHUTDOWN_GRACE", 25*time.Second), "time given to deliveries in flight at shutdown")
		fs.DurationVar(&opts.SweepInterval, "sweep-interval", envDuration(getenv, "GITOPS_CONNECTOR_SWEEP_INTERVAL", 30*time.Second), "interval of the orchestrators' periodic sweep")
		fs.StringVar(&opts.DataDir, "data-dir", getenv("GITOPS_CONNECTOR_DATA_DIR"), "directory of the event store, so accepted events survive restarts (default none: in memory only)")
		fs.DurationVar(&opts.MaxAge, "max-age", envDuration(getenv, "GITOPS_CONNECTOR_MAX_AGE", 24*time.Hour), "how long an event's deliveries are retried before they are given up")
		fs.StringVar(&opts.WebhookHMACSecretFile, "webhook-hmac-secret-file", getenv("GITOPS_CONNECTOR_WEBHOOK_HMAC_SECRET_FILE"), "file holding the key of the body signature senders must send (Flux generic-hmac); instead of GITOPS_CONNECTOR_WEBHOOK_HMAC_SECRET")
		fs.StringVar(&opts.PprofAddress, "pprof-address", getenv("GITOPS_CONNECTOR_PPROF_ADDRESS"), "address serving Go's profiles under /debug/pprof/, e.g. 127.0.0.1:6060 (default off; never expose it)")
		fs.StringVar(&opts.Queue.URL, "queue", getenv("GITOPS_CONNECTOR_QUEUE"), "NATS JetStream server(s), nats://host:4222[,...], that replicas share accepted events and delivery state through (instead of --data-dir)")
		fs.StringVar(&opts.Queue.Name, "queue-name", getenv("GITOPS_CONNECTOR_QUEUE_NAME"), "name of the queue's stream, buckets and subjects in NATS and of the sweep's Lease (<name>-sweep): connectors with different names share nothing (default gitops-connector)")
		fs.IntVar(&opts.Queue.Replicas, "queue-replicas", envInt(getenv, "GITOPS_CONNECTOR_QUEUE_REPLICAS", 3), "copies JetStream keeps of the events and states (the JetStream cluster's size, at most 5)")
		fs.DurationVar(&opts.Queue.AckWait, "queue-ack-wait", envDuration(getenv, "GITOPS_CONNECTOR_QUEUE_ACK_WAIT", 30*time.Second), "how long the events a dead replica held wait before another replica delivers them")
		fs.StringVar(&opts.QueueCredentials.CredsFile, "queue-creds-file", getenv("GITOPS_CONNECTOR_QUEUE_CREDS_FILE"), "NATS credentials file (user JWT and nkey seed)")
		fs.StringVar(&opts.QueueCredentials.NkeyFile, "queue-nkey-file", getenv("GITOPS_CONNECTOR_QUEUE_NKEY_FILE"), "file holding a NATS nkey seed")
		fs.StringVar(&opts.QueueCredentials.TokenFile, "queue-token-file", getenv("GITOPS_CONNECTOR_QUEUE_TOKEN_FILE"), "file holding a NATS token; instead of GITOPS_CONNECTOR_QUEUE_TOKEN")
		fs.StringVar(&opts.QueueCredentials.CAFile, "queue-tls-ca-file", getenv("GITOPS_CONNECTOR_QUEUE_TLS_CA_FILE"), "CA certificate verifying the NATS servers")
		fs.StringVar(&opts.QueueCredentials.CertFile, "queue-tls-cert-file", getenv("GITOPS_CONNECTOR_QUEUE_TLS_CERT_FILE"), "client certificate for NATS servers that require one")
		fs.StringVar(&opts.QueueCredentials.KeyFile, "queue-tls-key-file", getenv("GITOPS_CONNECTOR_QUEUE_TLS_KEY_FILE"), "key of --queue-tls-cert-file")
		opts.QueueCredentials.Token = getenv("GITOPS_CONNECTOR_QUEUE_TOKEN")
		fs.StringVar(&opts.WebhookBearerTokenFile, "webhook-bearer-token-file", getenv("GITOPS_CONNECTOR_WEBHOOK_BEARER_TOKEN_FILE"), "file holding the token senders must send as Authorization: Bearer (Argo CD); instead of GITOPS_CONNECTOR_WEBHOOK_BEARER_TOKEN")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	level := slog.LevelInfo
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	opts.Logger = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	opts.PluginDirs = splitList(pluginDirs, ":")
	opts.Namespaces = splitList(namespaces, ",")
	opts.Group = envOr(getenv, "CLUSTER_DOMAIN", "example.com")

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if cmd == "replay" {
		if fs.NArg() == 0 {
			return errors.New("replay: name at least one event file")
		}
		return app.Replay(ctx, opts, fs.Args(), stdout)
	}
	opts.Logger.Info("gitops-connector starting", "version", version)
	return app.Serve(ctx, opts)
}

func envInt(getenv func(string) string, key string, def int) int {
	if n, err := strconv.Atoi(strings.TrimSpace(getenv(key))); err == nil {
		return n
	}
	return def
}

func envOr(getenv func(string) string, key, def string) string {
	if v := strings.TrimSpace(getenv(key)); v != "" {
		return v
	}
	return def
}

func envBool(getenv func(string) string, key string) bool {
	b, _ := strconv.ParseBool(strings.TrimSpace(getenv(key)))
	return b
}

func envDuration(getenv func(string) string, key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(strings.TrimSpace(getenv(key))); err == nil {
		return d
	}
	return def
}

func splitList(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
