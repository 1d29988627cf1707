// Package metrics is the host's Prometheus instrumentation, served on
// GET /metrics from its own registry.
//
// Every label value comes from a small fixed set (outcomes, steps, reasons,
// HTTP routes and codes) or from the plugins installed (operator,
// repository and orchestrator types, plugin names): never a commit id, a
// config name, a URL or a credential, so the number of series does not grow
// with the traffic. Types are lower-cased (flux, github, ...); "unknown"
// stands for an event whose operator could not be told.
//
// Metrics (all prefixed gitops_connector_):
//
//	events_total{operator,outcome}                   notifications received, by answer
//	statuses_total{repository,outcome}               statuses of accepted events
//	notifications_total{orchestrator,outcome}        orchestrator notifications of finished events
//	skipped_notifications_total{orchestrator,outcome} notifications of commits the operator skipped
//	skipped_walks_total{result}                      looks for the commits a deployment skipped
//	retries_total{step,type}                         failed plugin calls retried
//	given_up_total{step,reason}                      work given up (see docs/reliability.md)
//	queue_depth                                      events accepted and not yet delivered
//	queue_oldest_age_seconds                         age of the oldest of them
//	gates_open                                       commits waiting for their required environments
//	plugin_restarts_total{plugin}                    plugin processes started again after exiting
//	plugin_running{plugin}                           1 while a plugin's process runs (a loaded config uses it), else 0
//	plugin_call_duration_seconds{capability,method,type,outcome}
//	http_request_duration_seconds{route,method,code}
//
// plus the Go runtime's and the process's standard metrics (go_*,
// process_*).
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/pipeline"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "gitops_connector"

// unknown is the label value of a type the host could not tell.
const unknown = "unknown"

// Metrics holds the host's collectors. Its methods are safe for concurrent
// use and do not block.
type Metrics struct {
	registry      *prometheus.Registry
	events        *prometheus.CounterVec
	statuses      *prometheus.CounterVec
	notifications *prometheus.CounterVec
	skippedNotes  *prometheus.CounterVec
	skippedWalks  *prometheus.CounterVec
	retries       *prometheus.CounterVec
	givenUp       *prometheus.CounterVec
	restarts      *prometheus.CounterVec
	pluginCalls   *prometheus.HistogramVec
	httpRequests  *prometheus.HistogramVec
}

// New returns the host's metrics in a registry of their own, with the Go
// runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		events: counterVec("events_total",
			"Notifications received on /gitopsphase, by operator type and outcome (accepted, ignored, rejected, unauthorized, unavailable).",
			"operator", "outcome"),
		statuses: counterVec("statuses_total",
			"Commit statuses of accepted events, by repository type and outcome (posted, unchanged, superseded, failed, expired).",
			"repository", "outcome"),
		notifications: counterVec("notifications_total",
			"Orchestrator notifications of finished deployments, by orchestrator type and outcome (notified, nothing_to_notify, already_notified, failed, expired, no_plugin).",
			"orchestrator", "outcome"),
		skippedNotes: counterVec("skipped_notifications_total",
			"Orchestrator notifications of commits the operator skipped, told the outcome of the deployment that contained them, by orchestrator type and outcome (as notifications_total, plus kept_own_outcome).",
			"orchestrator", "outcome"),
		skippedWalks: counterVec("skipped_walks_total",
			"Looks for the commits a finished deployment skipped, by result (found, none, base_unknown, older, not_ancestor, too_many, unsupported, failed).",
			"result"),
		retries: counterVec("retries_total",
			"Failed plugin calls that are retried, by step (status, notification, skipped) and plugin type.",
			"step", "type"),
		givenUp: counterVec("given_up_total",
			"Work given up, by step (event, status, notification, gate, skipped) and reason (MaxAgeExceeded, PermanentError, ConfigUnavailable, PluginUnavailable).",
			"step", "reason"),
		restarts: counterVec("plugin_restarts_total",
			"Plugin processes started again after they exited, by plugin name.",
			"plugin"),
		pluginCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "plugin_call_duration_seconds",
			Help:    "Duration of calls to plugins, by capability, method, plugin type and outcome (ok, retryable, permanent).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"capability", "method", "type", "outcome"}),
		httpRequests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Duration of HTTP requests until the answer is written, by route, method and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "code"}),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.events, m.statuses, m.notifications, m.skippedNotes, m.skippedWalks, m.retries, m.givenUp, m.restarts, m.pluginCalls, m.httpRequests,
	)
	return m
}

// counterVec returns a counter of the host's namespace with the given
// labels.
func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
}

// Registry returns the registry the metrics are in.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Queue registers the queue gauges: depth returns the number of events
// accepted and not yet delivered, oldest the age of the oldest of them.
// They are read on every scrape. Call it once.
func (m *Metrics) Queue(depth func() int, oldest func() time.Duration) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "queue_depth",
			Help: "Events accepted and not yet delivered, in flight included.",
		}, func() float64 { return float64(depth()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "queue_oldest_age_seconds",
			Help: "Age of the oldest event accepted and not yet delivered; 0 when none is.",
		}, func() float64 { return oldest().Seconds() }),
	)
}

// Gates registers the gauge of open gates: open returns the number of
// finished deployments whose pipeline waits for the config's other
// required environments (package gate). It is read on every scrape. Call
// it once.
func (m *Metrics) Gates(open func() int) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "gates_open",
		Help: "Finished deployments whose pipeline waits until every required environment deployed the commit.",
	}, func() float64 { return float64(open()) }))
}

// Plugins registers the gauge plugin_running{plugin}: running returns, by
// plugin name, whether each discovered plugin's process runs. It is read on
// every scrape. Call it once.
func (m *Metrics) Plugins(running func() map[string]bool) {
	m.registry.MustRegister(pluginsRunning{running})
}

var pluginRunningDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "plugin_running"),
	"1 while the process of a plugin runs, 0 while it does not: a plugin runs only when a loaded config uses one of its types.",
	[]string{"plugin"}, nil)

// pluginsRunning collects plugin_running from the plugin host's state.
type pluginsRunning struct{ running func() map[string]bool }

func (c pluginsRunning) Describe(ch chan<- *prometheus.Desc) { ch <- pluginRunningDesc }

func (c pluginsRunning) Collect(ch chan<- prometheus.Metric) {
	for name, up := range c.running() {
		v := 0.0
		if up {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(pluginRunningDesc, prometheus.GaugeValue, v, name)
	}
}

// Event counts a notification received, by the operator type of its config
// ("" when not known) and its outcome (the status intake answered:
// accepted, ignored, rejected, unauthorized or unavailable).
func (m *Metrics) Event(operatorType, outcome string) {
	m.events.WithLabelValues(typeLabel(operatorType), outcome).Inc()
}

// Instrument times the requests h serves under the route's name (its path
// template, e.g. /gitopsphase/{name}), with the labels
// promhttp.InstrumentHandlerDuration gives (method lower-cased, "unknown"
// for a method outside the standard ones; the status code, 200 when h
// wrote none). It is written out rather than taken from promhttp, which
// builds a label map and a response writer of several interfaces for every
// request: every notification passes here.
func (m *Metrics) Instrument(route string, h http.Handler) http.Handler {
	obs := m.httpRequests.MustCurryWith(prometheus.Labels{"route": route})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		obs.WithLabelValues(methodLabel(r.Method), codeLabel(sw.code)).Observe(time.Since(start).Seconds())
	})
}

// statusWriter remembers the status code of the answer.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// methodLabel is the method label of http_request_duration_seconds, as
// promhttp gives it: a standard method lower-cased (sent upper- or
// lower-case), any other "unknown", so a client cannot make series of its
// own.
func methodLabel(method string) string {
	switch method {
	case "GET", "get":
		return "get"
	case "PUT", "put":
		return "put"
	case "HEAD", "head":
		return "head"
	case "POST", "post":
		return "post"
	case "DELETE", "delete":
		return "delete"
	case "CONNECT", "connect":
		return "connect"
	case "OPTIONS", "options":
		return "options"
	case "NOTIFY", "notify":
		return "notify"
	case "TRACE", "trace":
		return "trace"
	case "PATCH", "patch":
		return "patch"
	}
	return unknown
}

// codeLabels are the code label's values, 100 to 599.
var codeLabels = func() []string {
	labels := make([]string, 600)
	for c := 100; c < len(labels); c++ {
		labels[c] = strconv.Itoa(c)
	}
	return labels
}()

// codeLabel is the code label of http_request_duration_seconds: 200 when
// the handler wrote no status, "unknown" outside 100–599.
func codeLabel(code int) string {
	switch {
	case code == 0:
		return "200"
	case code >= 100 && code < len(codeLabels):
		return codeLabels[code]
	}
	return unknown
}

// StatusDone implements pipeline.Observer.
func (m *Metrics) StatusDone(repositoryType, outcome string) {
	m.statuses.WithLabelValues(typeLabel(repositoryType), outcome).Inc()
}

// NotificationDone implements pipeline.Observer.
func (m *Metrics) NotificationDone(orchestratorType, outcome string) {
	m.notifications.WithLabelValues(typeLabel(orchestratorType), outcome).Inc()
}

// SkippedNotificationDone implements pipeline.Observer.
func (m *Metrics) SkippedNotificationDone(orchestratorType, outcome string) {
	m.skippedNotes.WithLabelValues(typeLabel(orchestratorType), outcome).Inc()
}

// SkippedWalk implements pipeline.Observer.
func (m *Metrics) SkippedWalk(result string) {
	m.skippedWalks.WithLabelValues(result).Inc()
}

// Retrying implements pipeline.Observer.
func (m *Metrics) Retrying(step, pluginType string) {
	m.retries.WithLabelValues(stepLabel(step), typeLabel(pluginType)).Inc()
}

// GaveUp counts work the pipeline gave up; it is the pipeline's OnGiveUp.
func (m *Metrics) GaveUp(g pipeline.GiveUp) {
	m.givenUp.WithLabelValues(stepLabel(g.Step), g.Reason).Inc()
}

// PluginRestarted implements pluginhost.Observer.
func (m *Metrics) PluginRestarted(plugin string) {
	m.restarts.WithLabelValues(plugin).Inc()
}

// PluginCall implements pluginhost.Observer.
func (m *Metrics) PluginCall(c sdk.Capability, method, typ string, took time.Duration, err error) {
	m.pluginCalls.WithLabelValues(string(c), method, typeLabel(typ), callOutcome(err)).Observe(took.Seconds())
}

// typeLabel is the label value of a plugin type: lower-cased, "unknown"
// when empty. Types are upper-case in configs (FLUX, GITHUB) and labelled
// on every event, status and plugin call, so the values are kept rather
// than lower-cased again each time.
func typeLabel(typ string) string {
	if l, ok := typeLabels.Load(typ); ok {
		return l.(string)
	}
	l := strings.ToLower(strings.TrimSpace(typ))
	if l == "" {
		l = unknown
	}
	// Types come from the plugins installed and the configs loaded: a few.
	// The bound only guards against a caller that passes something else.
	if typeLabelsKept.Add(1) <= maxTypeLabels {
		typeLabels.Store(typ, l)
	}
	return l
}

// typeLabels maps a type as given to its label value; typeLabelsKept
// counts the entries stored, at most maxTypeLabels.
var (
	typeLabels     sync.Map
	typeLabelsKept atomic.Int64
)

const maxTypeLabels = 256

// stepLabel names the pipeline's steps in label form.
func stepLabel(step string) string {
	switch step {
	case pipeline.StepEvent:
		return "event"
	case pipeline.StepStatus:
		return "status"
	case pipeline.StepNotify:
		return "notification"
	case pipeline.StepGate:
		return "gate"
	case pipeline.StepSkipped:
		return "skipped"
	}
	return unknown
}

func callOutcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case sdk.IsRetryable(err):
		return "retryable"
	}
	return "permanent"
}
