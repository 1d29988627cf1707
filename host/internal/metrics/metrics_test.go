package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/host/internal/intake"
	"github.com/gitops-connector/gitops-connector/host/internal/metrics"
	"github.com/gitops-connector/gitops-connector/host/internal/pipeline"
	"github.com/gitops-connector/gitops-connector/host/internal/routing"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// value returns the value of the series of family name with exactly the
// labels given, or -1 when there is none.
func value(t *testing.T, m *metrics.Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, s := range f.GetMetric() {
			if len(s.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range s.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue series
				}
			}
			switch {
			case s.Counter != nil:
				return s.GetCounter().GetValue()
			case s.Gauge != nil:
				return s.GetGauge().GetValue()
			case s.Histogram != nil:
				return float64(s.GetHistogram().GetSampleCount())
			}
		}
	}
	return -1
}

func TestCountersFollowWhatHappens(t *testing.T) {
	m := metrics.New()
	m.Event("FLUX", "accepted")
	m.Event("FLUX", "accepted")
	m.Event("", "unauthorized")
	m.StatusDone("GITHUB", pipeline.StatusPosted)
	m.StatusDone("GITHUB", pipeline.StatusPosted)
	m.StatusDone("GITHUB", pipeline.StatusSuperseded)
	m.NotificationDone("AZDO", pipeline.NotifyNotified)
	m.SkippedNotificationDone("AZDO", pipeline.NotifyNotified)
	m.SkippedNotificationDone("AZDO", pipeline.NotifyNotified)
	m.SkippedNotificationDone("AZDO", pipeline.NotifyKeptOwnOutcome)
	m.SkippedWalk(pipeline.WalkFound)
	m.SkippedWalk(pipeline.WalkNotAncestor)
	m.Retrying(pipeline.StepSkipped, "AZDO")
	m.Retrying(pipeline.StepStatus, "GITHUB")
	m.Retrying(pipeline.StepNotify, "GITHUB")
	m.GaveUp(pipeline.GiveUp{Step: pipeline.StepEvent, Reason: pipeline.ReasonConfigUnavailable, ConfigKey: "apps/team-a", CommitID: "4b5a2e1f"})
	m.GaveUp(pipeline.GiveUp{Step: pipeline.StepStatus, Reason: pipeline.ReasonMaxAge, Status: "dev/Health"})
	m.GaveUp(pipeline.GiveUp{Step: pipeline.StepGate, Reason: pipeline.ReasonMaxAge})
	m.PluginRestarted("github")
	m.PluginCall(sdk.CapabilityRepository, "PostStatus", "GITHUB", 20*time.Millisecond, nil)
	m.PluginCall(sdk.CapabilityRepository, "PostStatus", "GITHUB", time.Second, sdk.Retryable(errors.New("502"), 0))
	m.PluginCall(sdk.CapabilityRepository, "PostStatus", "GITHUB", time.Second, errors.New("connection reset"))
	m.PluginCall(sdk.CapabilityOrchestrator, "NotifyCompletion", "GITHUB", time.Second, sdk.PermissionDenied(errors.New("401")))
	depth, oldest := 3, 90*time.Second
	m.Queue(func() int { return depth }, func() time.Duration { return oldest })
	gates := 2
	m.Gates(func() int { return gates })

	const p = "gitops_connector_"
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{p + "events_total", map[string]string{"operator": "flux", "outcome": "accepted"}, 2},
		{p + "events_total", map[string]string{"operator": "unknown", "outcome": "unauthorized"}, 1},
		{p + "statuses_total", map[string]string{"repository": "github", "outcome": "posted"}, 2},
		{p + "statuses_total", map[string]string{"repository": "github", "outcome": "superseded"}, 1},
		{p + "notifications_total", map[string]string{"orchestrator": "azdo", "outcome": "notified"}, 1},
		{p + "skipped_notifications_total", map[string]string{"orchestrator": "azdo", "outcome": "notified"}, 2},
		{p + "skipped_notifications_total", map[string]string{"orchestrator": "azdo", "outcome": "kept_own_outcome"}, 1},
		{p + "skipped_walks_total", map[string]string{"result": "found"}, 1},
		{p + "skipped_walks_total", map[string]string{"result": "not_ancestor"}, 1},
		{p + "retries_total", map[string]string{"step": "skipped", "type": "azdo"}, 1},
		{p + "retries_total", map[string]string{"step": "status", "type": "github"}, 1},
		{p + "retries_total", map[string]string{"step": "notification", "type": "github"}, 1},
		{p + "given_up_total", map[string]string{"step": "event", "reason": "ConfigUnavailable"}, 1},
		{p + "given_up_total", map[string]string{"step": "status", "reason": "MaxAgeExceeded"}, 1},
		{p + "plugin_restarts_total", map[string]string{"plugin": "github"}, 1},
		{p + "plugin_call_duration_seconds", map[string]string{"capability": "repository", "method": "PostStatus", "type": "github", "outcome": "ok"}, 1},
		{p + "plugin_call_duration_seconds", map[string]string{"capability": "repository", "method": "PostStatus", "type": "github", "outcome": "retryable"}, 2},
		{p + "plugin_call_duration_seconds", map[string]string{"capability": "orchestrator", "method": "NotifyCompletion", "type": "github", "outcome": "permanent"}, 1},
		{p + "queue_depth", map[string]string{}, 3},
		{p + "queue_oldest_age_seconds", map[string]string{}, 90},
		{p + "given_up_total", map[string]string{"step": "gate", "reason": "MaxAgeExceeded"}, 1},
		{p + "gates_open", map[string]string{}, 2},
	} {
		if got := value(t, m, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// The gauges are read at each scrape.
	depth, oldest = 0, 0
	if got := value(t, m, p+"queue_depth", map[string]string{}); got != 0 {
		t.Errorf("queue_depth after draining = %v, want 0", got)
	}
	if got := value(t, m, p+"queue_oldest_age_seconds", map[string]string{}); got != 0 {
		t.Errorf("queue_oldest_age_seconds after draining = %v, want 0", got)
	}
	if n := testutil.CollectAndCount(m.Registry(), "go_goroutines", "process_resident_memory_bytes"); n != 2 {
		t.Errorf("%d of the Go and process metrics, want go_goroutines and process_resident_memory_bytes", n)
	}
}

// pathRouter routes every request to a config named by its path, for the
// commit in the body, as a host with many configs would.
type pathRouter struct{}

func (pathRouter) Target(req routing.Request) (config.Config, bool) {
	return config.Config{Namespace: req.Namespace, Name: req.Name, OperatorType: "FLUX"}, req.Name != ""
}

func (pathRouter) Route(_ context.Context, req routing.Request) (routing.Decision, error) {
	commit := strings.Trim(string(req.Body), `{}"commit:`)
	cfg := config.Config{Namespace: req.Namespace, Name: req.Name, OperatorType: "FLUX"}
	return routing.Decision{Handled: true, Config: cfg, Operator: "FLUX", Result: sdk.ParseResult{
		Handled: true, CommitID: commit, Statuses: []sdk.Status{{Name: req.Name + "/Status"}},
	}}, nil
}

type nopQueue struct{}

func (nopQueue) Submit(pipeline.Job) (pipeline.Submitted, error) { return pipeline.Recorded, nil }

// serveIntake serves the host's endpoints, measured by m, until the test
// ends.
func serveIntake(t *testing.T, m *metrics.Metrics) *httptest.Server {
	t.Helper()
	h := &intake.Handler{Router: pathRouter{}, Queue: nopQueue{}, Metrics: m, MetricsHandler: m.Handler(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv := httptest.NewServer(h.Routes())
	t.Cleanup(srv.Close)
	return srv
}

func TestLabelValuesStayBoundedWhateverTheTraffic(t *testing.T) {
	m := metrics.New()
	srv := serveIntake(t, m)

	var configs, commits []string
	traffic := func(from, to int) {
		for i := from; i < to; i++ {
			ns, name, commit := fmt.Sprintf("tenant-%03d", i), fmt.Sprintf("app-%03d", i), fmt.Sprintf("%040x", 0xc0ffee000+i)
			configs, commits = append(configs, ns, name), append(commits, commit)
			for _, r := range []struct{ method, path string }{
				{http.MethodPost, "/gitopsphase/" + ns + "/" + name},
				{http.MethodPost, "/gitopsphase/" + name},
				{http.MethodPost, "/unknown/" + name},                        // 404
				{http.MethodGet, "/gitopsphase/" + ns + "/" + name},          // 405
				{"PROPFIND-" + name, "/gitopsphase/" + ns + "/" + name},      // a made-up method
				{http.MethodGet, "/gitopsphase/" + ns + "/" + name + "?x=1"}, // a query
			} {
				req, _ := http.NewRequest(r.method, srv.URL+r.path, strings.NewReader(`{"commit":"`+commit+`"}`))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			// What the pipeline and the plugin host report about the event.
			m.StatusDone("GITHUB", pipeline.StatusPosted)
			m.GaveUp(pipeline.GiveUp{Event: "e" + commit, ConfigKey: ns + "/" + name, CommitID: commit, Step: pipeline.StepStatus,
				Status: name + "/Status", Reason: pipeline.ReasonPermanent, Err: errors.New("404 for " + commit)})
			m.PluginCall(sdk.CapabilityRepository, "PostStatus", "GITHUB", time.Millisecond, fmt.Errorf("commit %s: %w", commit, sdk.NotFound(errors.New("no such commit"))))
		}
	}
	series := func() int {
		families, err := m.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, f := range families {
			if !strings.HasPrefix(f.GetName(), "gitops_connector_") {
				continue
			}
			for _, s := range f.GetMetric() {
				n++
				checkLabels(t, f.GetName(), s.GetLabel(), configs, commits)
			}
		}
		return n
	}
	traffic(0, 20)
	before := series()
	traffic(20, 200)
	if after := series(); after != before {
		t.Fatalf("%d series after 20 configs and commits, %d after 200: a label takes values from the traffic", before, after)
	}
	if value(t, m, "gitops_connector_events_total", map[string]string{"operator": "flux", "outcome": "accepted"}) != 400 {
		t.Error("the accepted events were not all counted")
	}
}

func checkLabels(t *testing.T, family string, labels []*dto.LabelPair, configs, commits []string) {
	t.Helper()
	for _, l := range labels {
		v := l.GetValue()
		if strings.ContainsAny(v, "/?") && !(l.GetName() == "route" && strings.HasPrefix(v, "/")) {
			t.Errorf("%s{%s=%q}: a path or URL in a label", family, l.GetName(), v)
		}
		for _, s := range append(append([]string{}, configs...), commits...) {
			if strings.Contains(v, s) {
				t.Fatalf("%s{%s=%q} carries a config name or commit id", family, l.GetName(), v)
			}
		}
	}
}

func TestPluginRunningFollowsThePluginHostAtEveryScrape(t *testing.T) {
	m := metrics.New()
	running := map[string]bool{"flux": true, "argocd": false}
	m.Plugins(func() map[string]bool { return running })
	if f, a := value(t, m, "gitops_connector_plugin_running", map[string]string{"plugin": "flux"}),
		value(t, m, "gitops_connector_plugin_running", map[string]string{"plugin": "argocd"}); f != 1 || a != 0 {
		t.Fatalf("flux %v, argocd %v; want 1 and 0", f, a)
	}
	running = map[string]bool{"flux": false, "argocd": true}
	if f, a := value(t, m, "gitops_connector_plugin_running", map[string]string{"plugin": "flux"}),
		value(t, m, "gitops_connector_plugin_running", map[string]string{"plugin": "argocd"}); f != 0 || a != 1 {
		t.Fatalf("after a config change: flux %v, argocd %v; want 0 and 1", f, a)
	}
}

func TestRequestsAreTimedByRouteMethodAndCode(t *testing.T) {
	m := metrics.New()
	srv := serveIntake(t, m)
	commit := fmt.Sprintf("%040x", 0xc0ffee)
	for _, r := range []struct{ method, path string }{
		{http.MethodPost, "/gitopsphase/apps/web"},
		{http.MethodPost, "/gitopsphase/apps/web"},
		{"post", "/gitopsphase/apps/web"},
		{http.MethodGet, "/gitopsphase/apps/web"},
		{"PROPFIND", "/gitopsphase/apps/web"},
		{http.MethodGet, "/healthz"},
		{http.MethodGet, "/nowhere"},
	} {
		req, _ := http.NewRequest(r.method, srv.URL+r.path, strings.NewReader(`{"commit":"`+commit+`"}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	const name = "gitops_connector_http_request_duration_seconds"
	for _, c := range []struct {
		route, method, code string
		want                float64
	}{
		{"/gitopsphase/{namespace}/{name}", "post", "202", 2},
		{"other", "post", "405", 1}, // mux takes methods in upper case only
		{"other", "get", "405", 1},
		{"other", "unknown", "405", 1},
		{"/healthz", "get", "200", 1},
		{"other", "get", "404", 1},
	} {
		labels := map[string]string{"route": c.route, "method": c.method, "code": c.code}
		if got := value(t, m, name, labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", name, labels, got, c.want)
		}
	}
}
