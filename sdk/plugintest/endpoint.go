package plugintest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Request is one request the kit's endpoint received.
type Request struct {
	Method string
	// URI is the request target as sent: escaped path and query.
	URI  string
	Body string
}

// answer is how the endpoint answers: a status with headers, or, when
// hangUp is set, closing the connection without an answer, or, when stall
// is set, no answer until the request is abandoned.
type answer struct {
	status        int
	header        map[string]string
	body          string // "" echoes the request's credential
	hangUp, stall bool
}

// endpoint is the recording HTTP server the plugin under test calls instead
// of its remote API. By default it serves Suite.Fixtures (GET), answers
// 201 "{}" to any other method, and 404 to an unknown GET; a check may set
// one answer for every request instead.
type endpoint struct {
	srv      *httptest.Server
	fixtures map[string]string
	stop     chan struct{}

	mu    sync.Mutex
	reqs  []Request
	fault *answer
}

func newEndpoint(t *testing.T, fixtures map[string]string) *endpoint {
	e := &endpoint{fixtures: fixtures, stop: make(chan struct{})}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.srv.Close)
	t.Cleanup(func() { close(e.stop) }) // runs first: releases stalled requests
	return e
}

// URL is the endpoint's base URL, e.g. http://127.0.0.1:41234.
func (e *endpoint) URL() string { return e.srv.URL }

// answerWith makes every request get a; nil restores the default answers.
// It forgets the requests received so far.
func (e *endpoint) answerWith(a *answer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fault, e.reqs = a, nil
}

// received returns the requests since the last answerWith or reset.
func (e *endpoint) received() []Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Request(nil), e.reqs...)
}

func (e *endpoint) reset() { e.answerWith(nil) }

func (e *endpoint) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	e.mu.Lock()
	e.reqs = append(e.reqs, Request{Method: r.Method, URI: r.RequestURI, Body: string(body)})
	fault := e.fault
	e.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	switch {
	case fault == nil:
		if fx, ok := e.fixtures[r.Method+" "+r.URL.Path]; ok {
			_, _ = io.WriteString(w, fx)
			return
		}
		if r.Method == http.MethodGet {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"message":"Not Found"}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "{}")
	case fault.hangUp:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
			}
		}
	case fault.stall:
		select {
		case <-r.Context().Done():
		case <-e.stop:
		}
	default:
		for k, v := range fault.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(fault.status)
		if fault.body != "" {
			_, _ = io.WriteString(w, fault.body)
			return
		}
		// Echo the credential, as a careless server or proxy might: the
		// plugin's error must not carry it on.
		_, _ = io.WriteString(w, `{"message":"answer of plugintest","echo":"`+strings.ReplaceAll(r.Header.Get("Authorization"), `"`, "")+`"}`)
	}
}
