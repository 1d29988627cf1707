package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gitops-connector/gitops-connector/testkit/events"
)

// series is one sample of the Prometheus text exposition.
type series struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape reads GET /metrics and returns its samples and raw text.
func (h *host) scrape(t *testing.T) ([]series, string) {
	t.Helper()
	resp, err := http.Get(h.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics answered %d", resp.StatusCode)
	}
	var out []series
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cut := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[cut+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		s := series{name: line[:cut], labels: map[string]string{}, value: v}
		if i := strings.IndexByte(s.name, '{'); i >= 0 {
			for _, pair := range strings.Split(strings.TrimSuffix(s.name[i+1:], "}"), ",") {
				k, val, _ := strings.Cut(pair, "=")
				s.labels[k] = strings.Trim(val, `"`)
			}
			s.name = s.name[:i]
		}
		out = append(out, s)
	}
	return out, string(raw)
}

// sample returns the value of the series of name whose labels include
// labels, or 0 when there is none.
func sample(all []series, name string, labels map[string]string) float64 {
	for _, s := range all {
		if s.name != name {
			continue
		}
		match := true
		for k, v := range labels {
			match = match && s.labels[k] == v
		}
		if match {
			return s.value
		}
	}
	return 0
}

func TestMetricsCountWhatTheHostDid(t *testing.T) {
	fake := newGitHub(t)
	env := githubEnv(fake, "FLUX")
	env[envHMAC] = fluxHMAC
	h := startHost(t, hostOptions{Env: env})
	signed := func(body []byte) map[string]string {
		return map[string]string{"X-Signature": signature(fluxHMAC, body)}
	}
	revision := "main@sha1:" + sha
	progressing := events.Flux("Kustomization", "Progressing", progressingMessage, revision, "")
	succeeded := events.Flux("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision, revision, "")
	artifact := events.Flux("GitRepository", "NewArtifact", "stored artifact", revision, "")
	for i, c := range []struct {
		body   []byte
		header map[string]string
		code   int
	}{
		{progressing, signed(progressing), 202},
		{succeeded, signed(succeeded), 202},
		{succeeded, signed(succeeded), 200}, // Flux repeats it, once the first was delivered: unchanged
		{succeeded, nil, 401},
		{artifact, signed(artifact), 200},
		{[]byte("revision=main"), signed([]byte("revision=main")), 400},
	} {
		if i == 2 {
			h.Settle(t, 2)
		}
		if a := h.PostWith(t, "", c.body, c.header); a.Code != c.code {
			t.Fatalf("answer %d %s, want %d", a.Code, a.Raw, c.code)
		}
	}
	h.Settle(t, 3)

	const p = "gitops_connector_"
	want := []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{p + "events_total", map[string]string{"operator": "flux", "outcome": "accepted"}, 2},
		{p + "events_total", map[string]string{"operator": "flux", "outcome": "unchanged"}, 1},
		{p + "events_total", map[string]string{"operator": "flux", "outcome": "unauthorized"}, 1},
		{p + "events_total", map[string]string{"operator": "flux", "outcome": "ignored"}, 1},
		{p + "events_total", map[string]string{"operator": "flux", "outcome": "rejected"}, 1},
		// Progressing posts 5, the first success 1, its repeat nothing.
		{p + "statuses_total", map[string]string{"repository": "github", "outcome": "posted"}, 6},
		{p + "statuses_total", map[string]string{"repository": "github", "outcome": "unchanged"}, 1},
		{p + "notifications_total", map[string]string{"orchestrator": "github", "outcome": "notified"}, 1},
		{p + "notifications_total", map[string]string{"orchestrator": "github", "outcome": "already_notified"}, 1},
		{p + "queue_depth", nil, 0},
		{p + "queue_oldest_age_seconds", nil, 0},
		{p + "plugin_call_duration_seconds_count", map[string]string{"capability": "repository", "method": "PostStatus", "type": "github", "outcome": "ok"}, 6},
		{p + "plugin_call_duration_seconds_count", map[string]string{"capability": "orchestrator", "method": "NotifyCompletion", "type": "github", "outcome": "ok"}, 1},
		// The unsigned event and the body that is not JSON never reached
		// the operator plugin.
		{p + "plugin_call_duration_seconds_count", map[string]string{"capability": "operator", "method": "ParseEvent", "type": "flux", "outcome": "ok"}, 4},
		{p + "http_request_duration_seconds_count", map[string]string{"route": "/gitopsphase", "method": "post", "code": "202"}, 2},
		{p + "http_request_duration_seconds_count", map[string]string{"route": "/gitopsphase", "method": "post", "code": "200"}, 2},
		{p + "http_request_duration_seconds_count", map[string]string{"route": "/gitopsphase", "method": "post", "code": "401"}, 1},
	}
	eventually(t, "the metrics to show what the host did", func() string {
		all, _ := h.scrape(t)
		for _, w := range want {
			if got := sample(all, w.name, w.labels); got != w.value {
				return fmt.Sprintf("%s%v = %v, want %v", w.name, w.labels, got, w.value)
			}
		}
		return ""
	})
	all, raw := h.scrape(t)
	if sample(all, "process_resident_memory_bytes", nil) <= 0 {
		t.Error("no process_resident_memory_bytes")
	}
	checkNoSecrets(t, "/metrics", raw)
	for _, s := range all {
		for k, v := range s.labels {
			if strings.Contains(v, sha[:7]) || strings.Contains(v, "127.0.0.1") || strings.Contains(v, "default") {
				t.Errorf("%s{%s=%q}: a commit, an address or a config name in a label", s.name, k, v)
			}
		}
	}

	// A plugin that dies is restarted, and counted.
	pid := githubPluginPID(t, h)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Until the host has restarted it, it is not ready and answers 503.
	eventually(t, "an event to be accepted after the kill", func() string {
		if a := h.PostWith(t, "", progressing, signed(progressing)); a.Code != http.StatusAccepted {
			return fmt.Sprintf("%d %s", a.Code, a.Raw)
		}
		return ""
	})
	h.Settle(t, 4)
	eventually(t, "the restart to be counted", func() string {
		all, _ := h.scrape(t)
		if got := sample(all, p+"plugin_restarts_total", map[string]string{"plugin": "github"}); got != 1 {
			return fmt.Sprintf("plugin_restarts_total{plugin=github} = %v, want 1", got)
		}
		return ""
	})
}

func TestEveryLogLineAboutAnEventNamesItsIDConfigAndCommit(t *testing.T) {
	fake := newGitHub(t)
	h := startHost(t, hostOptions{Env: githubEnv(fake, "FLUX"), Args: []string{"--dry-run"}})
	revision := "main@sha1:" + sha
	var ids []string
	for _, body := range [][]byte{
		events.Flux("Kustomization", "Progressing", progressingMessage, revision, ""),
		events.Flux("Kustomization", "ReconciliationSucceeded", "Applied revision: "+revision, revision, ""),
	} {
		a := h.Post(t, "", body)
		if a.Code != http.StatusAccepted {
			t.Fatalf("answer %d %s", a.Code, a.Raw)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(a.Raw), &m); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, fmt.Sprint(m["event"]))
	}
	h.Settle(t, 2)
	seen := map[string]int{}
	for _, l := range h.Log.Lines() {
		id, _ := l["event"].(string)
		if id == "" {
			if l["commit"] != nil {
				t.Errorf("a line about commit %v has no event id: %v", l["commit"], l)
			}
			continue
		}
		seen[id]++
		if l["config"] != "default" || l["commit"] != sha {
			t.Errorf("line %v lacks the config or the commit of its event", l)
		}
	}
	for _, id := range ids {
		// Accepted, each status the dry run would post, delivered.
		if seen[id] < 3 {
			t.Errorf("event %s: %d log lines, want its acceptance, its statuses and its delivery", id, seen[id])
		}
	}
}
