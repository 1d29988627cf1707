package intake

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/host/internal/routing"
	"github.com/gitops-connector/gitops-connector/host/internal/webhookauth"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/gitops-connector/gitops-connector/testkit/hostproc"
)

const (
	globalKey  = "global-hmac-key-81d2"
	teamSecret = "team-a-webhook-secret-4c7e"
)

// A Flux event as the notification-controller posts it.
const fluxEvent = `{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"apps"},` +
	`"severity":"info","reason":"ReconciliationSucceeded","message":"Applied revision: main@sha1:` + sha + `",` +
	`"metadata":{"revision":"main@sha1:` + sha + `","gitops_connector_config_name":"team-a"}}`

func sign(key, body string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// recorder is a Metrics that remembers the events counted.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) Event(operator, outcome string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, operator+"/"+outcome)
}

func (r *recorder) Instrument(_ string, h http.Handler) http.Handler { return h }

func TestWebhookAuthentication(t *testing.T) {
	teamA := config.Config{Name: "team-a", Namespace: "apps", OperatorType: "FLUX", WebhookSecret: teamSecret}
	plain := config.Config{Name: "plain", Namespace: "apps", OperatorType: "ARGOCD"}
	handledFor := func(c config.Config) routing.Decision {
		d := handled()
		d.Config, d.Operator = c, c.OperatorType
		return d
	}
	ignored := routing.Decision{Operator: "FLUX", Reason: `no config named "other"`}
	badInput := fmt.Errorf("%w: flux: involvedObject must be an object", routing.ErrBadInput)
	global := &webhookauth.Policy{Global: webhookauth.Credentials{HMACKey: globalKey, BearerToken: "global-bearer"}}
	none := &webhookauth.Policy{}
	tests := []struct {
		name   string
		policy *webhookauth.Policy
		router *fakeRouter
		path   string
		body   string
		header map[string]string
		code   int
		// routed is whether an operator plugin saw the body.
		routed bool
		// event is what the metrics counted: operator/outcome ("" operator:
		// not known).
		event string
	}{
		// A config named by the path is checked before any plugin parses.
		{"path config, its own secret signs", global, &fakeRouter{target: &teamA, decision: handledFor(teamA)}, "/gitopsphase/apps/team-a", fluxEvent,
			map[string]string{"X-Signature": sign(teamSecret, fluxEvent)}, 202, true, "FLUX/accepted"},
		{"path config, unsigned", global, &fakeRouter{target: &teamA, decision: handledFor(teamA)}, "/gitopsphase/apps/team-a", fluxEvent,
			nil, 401, false, "FLUX/unauthorized"},
		{"path config, signed with the global key", global, &fakeRouter{target: &teamA, decision: handledFor(teamA)}, "/gitopsphase/apps/team-a", fluxEvent,
			map[string]string{"X-Signature": sign(globalKey, fluxEvent)}, 401, false, "FLUX/unauthorized"},
		{"path config, unsigned garbage gets 401, not 400", global, &fakeRouter{target: &teamA}, "/gitopsphase/apps/team-a", "commitid=1",
			nil, 401, false, "FLUX/unauthorized"},
		{"path config, signed garbage gets 400", global, &fakeRouter{target: &teamA}, "/gitopsphase/apps/team-a", "commitid=1",
			map[string]string{"X-Signature": sign(teamSecret, "commitid=1")}, 400, false, "FLUX/rejected"},
		{"path config, signed, the operator finds it wrong", global, &fakeRouter{target: &teamA, decision: routing.Decision{Config: teamA, Operator: "FLUX"}, err: badInput}, "/gitopsphase/apps/team-a", fluxEvent,
			map[string]string{"X-Signature": sign(teamSecret, fluxEvent)}, 400, true, "FLUX/rejected"},
		{"path config without a secret, global bearer", global, &fakeRouter{target: &plain, decision: handledFor(plain)}, "/gitopsphase/apps/plain", fluxEvent,
			map[string]string{"Authorization": "Bearer global-bearer"}, 202, true, "ARGOCD/accepted"},

		// A config named by the payload is checked after the parse, before
		// anything is queued.
		{"payload config, its own secret as bearer", global, &fakeRouter{decision: handledFor(teamA)}, "/gitopsphase", fluxEvent,
			map[string]string{"Authorization": "Bearer " + teamSecret}, 202, true, "FLUX/accepted"},
		{"payload config, unsigned", none, &fakeRouter{decision: handledFor(teamA)}, "/gitopsphase", fluxEvent,
			nil, 401, true, "FLUX/unauthorized"},
		{"payload config, the global key does not open it", global, &fakeRouter{decision: handledFor(teamA)}, "/gitopsphase", fluxEvent,
			map[string]string{"X-Signature": sign(globalKey, fluxEvent)}, 401, true, "FLUX/unauthorized"},
		{"payload config without a secret, global signature", global, &fakeRouter{decision: handledFor(plain)}, "/gitopsphase", fluxEvent,
			map[string]string{"X-Hub-Signature-256": sign(globalKey, fluxEvent)}, 202, true, "ARGOCD/accepted"},

		// Without a config, the global credentials decide what the sender
		// may learn.
		{"no config, unsigned: 401, not the reason", global, &fakeRouter{decision: ignored}, "/gitopsphase", fluxEvent,
			nil, 401, true, "FLUX/unauthorized"},
		{"no config, globally signed: the reason", global, &fakeRouter{decision: ignored}, "/gitopsphase", fluxEvent,
			map[string]string{"X-Signature": sign(globalKey, fluxEvent)}, 200, true, "FLUX/ignored"},
		{"no config, unsigned bad input", global, &fakeRouter{decision: routing.Decision{Operator: "FLUX"}, err: badInput}, "/gitopsphase", fluxEvent,
			nil, 401, true, "FLUX/unauthorized"},
		{"no config, unsigned not JSON", global, &fakeRouter{}, "/gitopsphase", "[1]",
			nil, 401, false, "/unauthorized"},
		{"no global credentials: answered as without authentication", none, &fakeRouter{decision: ignored}, "/gitopsphase", fluxEvent,
			nil, 200, true, "FLUX/ignored"},
		{"operator plugin down: 503 needs no proof, so the sender retries", global, &fakeRouter{err: sdk.Retryable(errors.New("plugin flux is restarting"), 0)}, "/gitopsphase", fluxEvent,
			nil, 503, true, "/unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &fakeQueue{}
			rec := &recorder{}
			logs := &hostproc.Log{}
			s := serve(t, &Handler{Router: tt.router, Queue: q, Auth: tt.policy, Metrics: rec,
				Logger: slog.New(slog.NewJSONHandler(logs, nil))})
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, s.URL+tt.path, strings.NewReader(tt.body))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.code {
				t.Fatalf("answer %d %s, want %d", resp.StatusCode, raw, tt.code)
			}
			if routed := tt.router.routed > 0; routed != tt.routed {
				t.Errorf("an operator plugin saw the body: %v, want %v", routed, tt.routed)
			}
			if wantJobs := map[bool]int{true: 1}[tt.code == 202]; len(q.jobs) != wantJobs {
				t.Errorf("%d jobs queued, want %d", len(q.jobs), wantJobs)
			}
			if !slices.Equal(rec.events, []string{tt.event}) {
				t.Errorf("metrics counted %v, want [%s]", rec.events, tt.event)
			}
			if tt.code == 401 {
				var answer map[string]any
				if err := json.Unmarshal(raw, &answer); err != nil || len(answer) != 2 || answer["status"] != "unauthorized" || answer["event"] == "" {
					t.Errorf("401 answer %s, want only the status and the event id", raw)
				}
				refused := false
				for _, l := range logs.Lines() {
					if l["msg"] == "event refused: the sender is not authenticated" && l["event"] == answer["event"] && l["reason"] != "" {
						refused = true
					}
				}
				if !refused {
					t.Errorf("no log line says why event %v was refused", answer["event"])
				}
			}
			for _, secret := range []string{globalKey, teamSecret, "global-bearer"} {
				if strings.Contains(logs.String(), secret) || strings.Contains(string(raw), secret) {
					t.Fatalf("a secret is in the log or the answer")
				}
			}
		})
	}
}

func TestEveryLogLineAboutAnAcceptedEventNamesTheEventConfigAndCommit(t *testing.T) {
	cfg := config.Config{Name: "team-a", Namespace: "apps", OperatorType: "FLUX"}
	for name, router := range map[string]*fakeRouter{
		"routed by path":    {target: &cfg, decision: routing.Decision{Handled: true, Config: cfg, Operator: "FLUX", Result: handled().Result}},
		"routed by payload": {decision: routing.Decision{Handled: true, Config: cfg, Operator: "FLUX", Result: handled().Result}},
		"ignored": {target: &cfg, decision: routing.Decision{Config: cfg, Operator: "FLUX", Reason: "Progressing is not acted on",
			Result: sdk.ParseResult{CommitID: strings.ToUpper(sha)}}},
		"not accepted": {target: &cfg, decision: routing.Decision{Handled: true, Config: cfg, Operator: "FLUX", Result: handled().Result}},
	} {
		t.Run(name, func(t *testing.T) {
			logs := &hostproc.Log{}
			q := &fakeQueue{}
			if name == "not accepted" {
				q.err = errors.New("cannot record the event: disk full")
			}
			s := serve(t, &Handler{Router: router, Queue: q, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
			_, answer, _ := post(t, s.URL+"/gitopsphase/apps/team-a", fluxEvent)
			lines := logs.Lines()
			if len(lines) == 0 {
				t.Fatal("nothing logged")
			}
			for _, l := range lines {
				if l["event"] != answer.Event || l["config"] != "apps/team-a" || l["commit"] != sha {
					t.Errorf("log line %v lacks event %s, config apps/team-a or commit %s", l, answer.Event, sha)
				}
			}
		})
	}
}
