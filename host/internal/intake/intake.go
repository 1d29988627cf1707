// Package intake is the host's HTTP front: it receives Flux and Argo CD
// notifications on /gitopsphase, answers at once, and hands accepted work to
// the pipeline. It also serves the health endpoints.
//
// Answers: 202 with a short JSON summary when work was queued; 200 with the
// reason when the event is ignored; 400 with the reason when the body is
// not a JSON object or lacks what the operator needs; 401 without detail
// when webhook authentication is on and the sender did not prove it knows
// the secret (package webhookauth); 413 when the body is too large; 503
// while the host is not ready or a plugin does not answer. The body is
// never echoed. Every answer to a notification carries the event id that
// the host's log lines about the request carry.
package intake

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/host/internal/pipeline"
	"github.com/gitops-connector/gitops-connector/host/internal/routing"
	"github.com/gitops-connector/gitops-connector/host/internal/webhookauth"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// Router decides what to do with a notification.
type Router interface {
	// Target returns the config a request is for when it is known before
	// the body is parsed (URL path, single instance).
	Target(req routing.Request) (config.Config, bool)
	Route(ctx context.Context, req routing.Request) (routing.Decision, error)
}

// Queue takes accepted work. It answers pipeline.Unchanged, without
// recording the job, when delivering it would change nothing.
type Queue interface {
	Submit(job pipeline.Job) (pipeline.Submitted, error)
}

// Metrics counts the outcome of every notification and times every
// request; package metrics implements it.
type Metrics interface {
	// Event counts a notification by its config's operator type ("" when
	// not known) and outcome.
	Event(operatorType, outcome string)
	// Instrument times the requests of a route.
	Instrument(route string, h http.Handler) http.Handler
}

// Handler serves the HTTP endpoints.
type Handler struct {
	Router Router
	Queue  Queue
	Logger *slog.Logger
	// Auth decides which credentials a notification must carry; nil means
	// none (authentication off).
	Auth *webhookauth.Policy
	// Metrics, when set, counts and times requests.
	Metrics Metrics
	// MetricsHandler, when set, is served on GET /metrics.
	MetricsHandler http.Handler
	// MaxBodyBytes limits a notification's size; default 4 MiB.
	MaxBodyBytes int64
	// Ready reports whether the host serves events; "" means ready, else
	// the reason it is not.
	Ready func() string
	// RouteTimeout bounds routing one event (operator parse); default 10 s.
	RouteTimeout time.Duration
}

// Response is the JSON answer to a notification.
type Response struct {
	// Status is accepted, ignored, rejected, unauthorized or unavailable.
	Status   string `json:"status"`
	Reason   string `json:"reason,omitempty"`
	Event    string `json:"event,omitempty"`
	Config   string `json:"config,omitempty"`
	Commit   string `json:"commit,omitempty"`
	Statuses int    `json:"statuses,omitempty"`
	Finished bool   `json:"finished,omitempty"`
}

// Routes returns the router with every endpoint. A path that is not one
// is answered 404 with the reason, also when it only becomes one once
// cleaned (see cleanPaths); a method an endpoint does not take, 405.
//
// It is net/http's ServeMux, which sets the path's values on the request
// itself: gorilla/mux, used before, copied every request to carry them in
// its context and matched each route with regular expressions.
func (h *Handler) Routes() http.Handler {
	mux := http.NewServeMux()
	methodNotAllowed := h.instrument("other", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, Response{Status: outcomeRejected, Reason: "method not allowed"})
	})
	notFound := h.instrument("other", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, Response{Status: outcomeRejected, Reason: "no such endpoint; notifications go to POST /gitopsphase"})
	})
	// The patterns take every method and the handler checks it, so that a
	// wrong method is answered in JSON and timed as "other", as an unknown
	// path is, rather than by ServeMux's own 405.
	handle := func(route string, f http.HandlerFunc, method string) {
		timed := h.instrument(route, f)
		mux.Handle(route, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != method {
				methodNotAllowed.ServeHTTP(w, r)
				return
			}
			timed.ServeHTTP(w, r)
		}))
	}
	handle("/gitopsphase", h.phase, http.MethodPost)
	handle("/gitopsphase/{name}", h.phase, http.MethodPost)
	handle("/gitopsphase/{namespace}/{name}", h.phase, http.MethodPost)
	handle("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}, http.MethodGet)
	handle("/readyz", h.readyz, http.MethodGet)
	if h.MetricsHandler != nil {
		handle("/metrics", h.MetricsHandler.ServeHTTP, http.MethodGet)
	}
	mux.Handle("/", notFound)
	return cleanPaths(mux, notFound)
}

// cleanPaths hands notFound every request whose path is not in its clean
// form (path.Clean): "." or ".." segments, repeated slashes, a trailing
// slash. A ServeMux would answer it 301 with the cleaned path, so that
// "/gitopsphase/../admin" becomes a hop to another path, and a redirected
// POST is sent again as a GET by most clients: the sender learns nothing
// of why its notification was lost. The path checked is the decoded one,
// so "%2e%2e" is a ".." too. A path not from the root ("*") is no
// endpoint either: ServeMux would answer it 400 without a body.
func cleanPaths(next, notFound http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == "" || p[0] != '/' || path.Clean(p) != p {
			notFound.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (h *Handler) instrument(route string, f http.HandlerFunc) http.Handler {
	if h.Metrics == nil {
		return f
	}
	return h.Metrics.Instrument(route, f)
}

func (h *Handler) readyz(w http.ResponseWriter, _ *http.Request) {
	if why := h.ready(); why != "" {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": why})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (h *Handler) ready() string {
	if h.Ready == nil {
		return ""
	}
	return h.Ready()
}

func newEventID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// dedupID identifies a notification by its config and body: a sender that
// retries sends the same body (Flux and Argo CD put the time of the event
// in it, so two notifications of one state differ), and a store shared by
// replicas records it once.
func dedupID(configKey string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(configKey))
	h.Write([]byte{0})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Outcomes of a notification, in Response.Status and the metrics.
const (
	outcomeAccepted     = "accepted"     // 202: recorded for delivery
	outcomeIgnored      = "ignored"      // 200: nothing to do
	outcomeUnchanged    = "unchanged"    // 200: the commit is in that state already
	outcomeRejected     = "rejected"     // 400, 413: the body is wrong
	outcomeUnauthorized = "unauthorized" // 401
	outcomeUnavailable  = "unavailable"  // 503: not ready, plugin or store failing
)

// exchange is one notification being answered: its id, body and what is
// known of its config and sender so far.
type exchange struct {
	h    *Handler
	w    http.ResponseWriter
	r    *http.Request
	id   string
	body []byte
	// operator, config and commit are what is known of the event, for its
	// log lines and metrics.
	operator, config, commit string
	// proven are the credentials the request proved it knows.
	proven []webhookauth.Credentials
}

// log writes one line about the request at level, when the logger takes
// that level: each carries the event id and, once known, the config and the
// commit. Attributes rather than a logger With them: a logger per request
// would format them again for each request, and every event logs a line.
func (x *exchange) log(level slog.Level, msg string, attrs ...slog.Attr) {
	ctx := x.r.Context()
	if !x.h.Logger.Enabled(ctx, level) {
		return
	}
	all := make([]slog.Attr, 0, 4+len(attrs))
	all = append(all, slog.String("event", x.id), slog.String("remote", x.r.RemoteAddr))
	if x.config != "" {
		all = append(all, slog.String("config", x.config))
	}
	if x.commit != "" {
		all = append(all, slog.String("commit", x.commit))
	}
	x.h.Logger.LogAttrs(ctx, level, msg, append(all, attrs...)...)
}

// answer writes the JSON answer and counts it.
func (x *exchange) answer(code int, resp Response) {
	resp.Event = x.id
	if resp.Status == outcomeUnavailable {
		x.w.Header().Set("Retry-After", "5")
	}
	if x.h.Metrics != nil {
		x.h.Metrics.Event(x.operator, resp.Status)
	}
	writeJSON(x.w, code, resp)
}

// authorize checks the request against the credentials of cfg unless it
// proved them already. cfg nil means the config is not known: a request
// that proved the credentials of the config it names may then hear about
// its body, any other must prove the global credentials. On failure it
// logs why, answers 401 without detail and returns false.
func (x *exchange) authorize(cfg *config.Config) bool {
	if cfg == nil && len(x.proven) > 0 {
		return true
	}
	creds := x.h.Auth.For(cfg)
	// Compares the host's own secrets with each other, nothing a request
	// sent: no timing to hide.
	if slices.Contains(x.proven, creds) {
		return true
	}
	if err := creds.Check(x.r.Header, x.body); err != nil {
		x.log(slog.LevelWarn, "event refused: the sender is not authenticated", slog.String("reason", err.Error()))
		x.answer(http.StatusUnauthorized, Response{Status: outcomeUnauthorized})
		return false
	}
	x.proven = append(x.proven, creds)
	return true
}

// phase answers a notification. Authentication comes before any answer
// that says something about the body or the configs: for a config known
// from the path or single-instance mode, before any plugin sees the body;
// for a config the payload names, after the operator parsed it and before
// anything is recorded.
func (h *Handler) phase(w http.ResponseWriter, r *http.Request) {
	x := &exchange{h: h, w: w, r: r, id: newEventID()}
	if why := h.ready(); why != "" {
		x.answer(http.StatusServiceUnavailable, Response{Status: outcomeUnavailable, Reason: why})
		return
	}
	limit := h.MaxBodyBytes
	if limit <= 0 {
		limit = 4 << 20
	}
	body, err := readBody(http.MaxBytesReader(w, r.Body, limit), r.ContentLength)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			x.log(slog.LevelWarn, "event rejected: body too large", slog.Int64("limit", limit))
			x.answer(http.StatusRequestEntityTooLarge, Response{Status: outcomeRejected, Reason: fmt.Sprintf("body larger than %d bytes", limit)})
			return
		}
		x.log(slog.LevelWarn, "event rejected: body not readable", slog.Any("error", err))
		x.answer(http.StatusBadRequest, Response{Status: outcomeRejected, Reason: "body could not be read"})
		return
	}
	x.body = body
	req := routing.Request{Body: body, Namespace: r.PathValue("namespace"), Name: r.PathValue("name")}
	if cfg, ok := h.Router.Target(req); ok {
		x.operator, x.config = cfg.OperatorType, cfg.Key()
		if !x.authorize(&cfg) {
			return
		}
		req.Config = &cfg
	}
	if why := notJSONObject(body); why != "" {
		if x.authorize(nil) {
			x.log(slog.LevelWarn, "event rejected", slog.String("reason", why))
			x.answer(http.StatusBadRequest, Response{Status: outcomeRejected, Reason: why})
		}
		return
	}
	timeout := h.RouteTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	d, err := h.Router.Route(ctx, req)
	if d.Operator != "" {
		x.operator = d.Operator
	}
	var cfg *config.Config
	if d.Config.Name != "" {
		cfg = &d.Config
		x.config = cfg.Key()
	}
	switch {
	case err == nil:
	case errors.Is(err, routing.ErrBadInput):
		if x.authorize(cfg) {
			x.log(slog.LevelWarn, "event rejected", slog.String("reason", err.Error()))
			x.answer(http.StatusBadRequest, Response{Status: outcomeRejected, Reason: err.Error()})
		}
		return
	default:
		// Says nothing about the body or the configs, so it needs no
		// authentication: the sender is to send again.
		x.log(slog.LevelError, "event not accepted: the operator plugin did not answer", slog.Any("error", err))
		x.answer(http.StatusServiceUnavailable, Response{Status: outcomeUnavailable, Reason: "the operator plugin did not answer; send again"})
		return
	}
	if !x.authorize(cfg) {
		return
	}
	if sdk.ValidCommitID(d.Result.CommitID) {
		x.commit = strings.ToLower(d.Result.CommitID)
	}
	if !d.Handled {
		x.log(slog.LevelInfo, "event ignored", slog.String("reason", d.Reason))
		x.answer(http.StatusOK, Response{Status: outcomeIgnored, Config: d.Config.Key(), Reason: d.Reason})
		return
	}
	job := pipeline.Job{
		ID: x.id, Config: d.Config, CommitID: d.Result.CommitID, Statuses: d.Result.Statuses, DedupID: dedupID(d.Config.Key(), body),
		Finished: d.Result.Finished, Successful: d.Result.Successful, Received: time.Now(),
	}
	submitted, err := h.Queue.Submit(job)
	switch {
	case err != nil:
		x.log(slog.LevelWarn, "event not accepted", slog.Any("error", err))
		x.answer(http.StatusServiceUnavailable, Response{Status: outcomeUnavailable, Reason: err.Error()})
		return
	case submitted == pipeline.Unchanged:
		x.log(slog.LevelInfo, "event changes nothing: every status and the outcome were delivered already",
			slog.Int("statuses", len(job.Statuses)), slog.Bool("finished", job.Finished))
		x.answer(http.StatusOK, Response{
			Status: outcomeUnchanged, Config: d.Config.Key(), Commit: job.CommitID,
			Statuses: len(job.Statuses), Finished: job.Finished,
		})
		return
	}
	x.log(slog.LevelInfo, "event accepted",
		slog.Int("statuses", len(job.Statuses)), slog.Bool("finished", job.Finished), slog.Bool("successful", job.Successful))
	x.answer(http.StatusAccepted, Response{
		Status: outcomeAccepted, Config: d.Config.Key(), Commit: job.CommitID,
		Statuses: len(job.Statuses), Finished: job.Finished,
	})
}

// readBody reads a request's body: into one buffer of its Content-Length
// when the sender gave one up to preallocated bytes (io.ReadAll starts at
// 512 bytes and copies at each step, twice for a Flux event), else with
// io.ReadAll, so a sender cannot make the host allocate more than that
// before it sent the bytes. net/http's body ends after Content-Length
// bytes; one sent short is an error.
func readBody(body io.Reader, length int64) ([]byte, error) {
	if length < 0 || length > preallocated {
		return io.ReadAll(body)
	}
	buf := make([]byte, length)
	if _, err := io.ReadFull(body, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// preallocated bounds the buffer readBody makes from a Content-Length:
// more than any Flux or Argo CD notification but a change set of
// hundreds of objects.
const preallocated = 64 << 10

// notJSONObject returns why body is not a JSON object, or "".
func notJSONObject(body []byte) string {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
		return "body must be a JSON object"
	}
	return ""
}

// The header values of every JSON answer, shared by all answers rather
// than made for each (Header.Set would): net/http only reads them, and
// Header.Add appends to a full slice, so into a new one.
var (
	contentTypeJSON = []string{"application/json"}
	noSniff         = []string{"nosniff"}
)

func writeJSON(w http.ResponseWriter, code int, v any) {
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["X-Content-Type-Options"] = noSniff
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
