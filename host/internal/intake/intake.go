// Package intake is the host's HTTP front: it receives Flux and Argo CD
// notifications on /gitopsphase, answers at once, and hands accepted work to
// the pipeline. It also serves the health endpoints.
//
// Answers: 202 with a short JSON summary when work was queued; 200 with the
// reason when the event is ignored; 400 with the reason when the body is
// not a JSON object or lacks what the operator needs; 413 when the body is
// too large; 503 while the host is not ready or a plugin does not answer.
// The body is never echoed.
package intake

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/pipeline"
	"github.com/gitops-connector/gitops-connector/host/internal/routing"
	"github.com/gorilla/mux"
)

// Router decides what to do with a notification.
type Router interface {
	Route(ctx context.Context, req routing.Request) (routing.Decision, error)
}

// Queue takes accepted work.
type Queue interface {
	Submit(job pipeline.Job) error
}

// Handler serves the HTTP endpoints.
type Handler struct {
	Router Router
	Queue  Queue
	Logger *slog.Logger
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
	// Status is accepted, ignored, rejected or unavailable.
	Status   string `json:"status"`
	Reason   string `json:"reason,omitempty"`
	Event    string `json:"event,omitempty"`
	Config   string `json:"config,omitempty"`
	Commit   string `json:"commit,omitempty"`
	Statuses int    `json:"statuses,omitempty"`
	Finished bool   `json:"finished,omitempty"`
}

// Routes returns the router with every endpoint.
func (h *Handler) Routes() http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/gitopsphase", h.phase).Methods(http.MethodPost)
	r.HandleFunc("/gitopsphase/{name}", h.phase).Methods(http.MethodPost)
	r.HandleFunc("/gitopsphase/{namespace}/{name}", h.phase).Methods(http.MethodPost)
	r.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}).Methods(http.MethodGet)
	r.HandleFunc("/readyz", h.readyz).Methods(http.MethodGet)
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, Response{Status: "rejected", Reason: "method not allowed"})
	})
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, Response{Status: "rejected", Reason: "no such endpoint; notifications go to POST /gitopsphase"})
	})
	return r
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

func (h *Handler) phase(w http.ResponseWriter, r *http.Request) {
	id := newEventID()
	vars := mux.Vars(r)
	log := h.Logger.With("event", id, "remote", r.RemoteAddr)
	if why := h.ready(); why != "" {
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, Response{Status: "unavailable", Reason: why, Event: id})
		return
	}
	limit := h.MaxBodyBytes
	if limit <= 0 {
		limit = 4 << 20
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			log.Warn("event rejected: body too large", "limit", limit)
			writeJSON(w, http.StatusRequestEntityTooLarge, Response{Status: "rejected", Event: id, Reason: fmt.Sprintf("body larger than %d bytes", limit)})
			return
		}
		log.Warn("event rejected: body not readable", "error", err)
		writeJSON(w, http.StatusBadRequest, Response{Status: "rejected", Event: id, Reason: "body could not be read"})
		return
	}
	if why := notJSONObject(body); why != "" {
		log.Warn("event rejected", "reason", why)
		writeJSON(w, http.StatusBadRequest, Response{Status: "rejected", Event: id, Reason: why})
		return
	}
	timeout := h.RouteTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	d, err := h.Router.Route(ctx, routing.Request{Body: body, Namespace: vars["namespace"], Name: vars["name"]})
	if err != nil {
		if errors.Is(err, routing.ErrBadInput) {
			log.Warn("event rejected", "reason", err.Error())
			writeJSON(w, http.StatusBadRequest, Response{Status: "rejected", Event: id, Reason: err.Error()})
			return
		}
		log.Error("event not accepted: the operator plugin did not answer", "error", err)
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, Response{Status: "unavailable", Event: id, Reason: "the operator plugin did not answer; send again"})
		return
	}
	log = log.With("config", d.Config.Key())
	if !d.Handled {
		log.Info("event ignored", "reason", d.Reason)
		writeJSON(w, http.StatusOK, Response{Status: "ignored", Event: id, Config: d.Config.Key(), Reason: d.Reason})
		return
	}
	job := pipeline.Job{
		ID: id, Config: d.Config, CommitID: d.Result.CommitID, Statuses: d.Result.Statuses,
		Finished: d.Result.Finished, Successful: d.Result.Successful, Received: time.Now(),
	}
	if err := h.Queue.Submit(job); err != nil {
		log.Warn("event not accepted", "error", err)
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, Response{Status: "unavailable", Event: id, Reason: err.Error()})
		return
	}
	log.Info("event accepted", "commit", job.CommitID, "statuses", len(job.Statuses), "finished", job.Finished, "successful", job.Successful)
	writeJSON(w, http.StatusAccepted, Response{
		Status: "accepted", Event: id, Config: d.Config.Key(), Commit: job.CommitID,
		Statuses: len(job.Statuses), Finished: job.Finished,
	})
}

// notJSONObject returns why body is not a JSON object, or "".
func notJSONObject(body []byte) string {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
		return "body must be a JSON object"
	}
	return ""
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
