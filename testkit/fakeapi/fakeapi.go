// Package fakeapi is what the in-process fakes of remote REST APIs
// (fakegithub, fakegitea, fakeazdo) have in common: validating each request
// against the API's official description (Spec), splitting a path into the
// segments a fake routes on (Segments), checking a token (Authorized),
// keeping the log of requests and of what was wrong with them (Log),
// choosing the fault a request meets (Faults, Random) and carrying a
// request out under it (Apply, Write).
//
// Each fake keeps its own routes, state and answers: this package holds
// only the plumbing that is the same whatever the API.
package fakeapi

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/gitops-connector/gitops-connector/testkit/apispec"
)

// Spec is an API description, loaded once per process on first use (loading
// takes a while) with its server set to Server. Requests are validated as
// if sent to Server, so one loaded description serves every fake of the
// process whatever its address.
type Spec struct {
	// Name names the API in errors ("GitHub").
	Name string
	// File is the description (apispec.GitHub, ...).
	File string
	// Server is the server URL, with any path prefix of the API, e.g.
	// http://api.fakegithub.invalid/api/v3.
	Server string

	once sync.Once
	v    *apispec.Validator
	err  error
}

// Load loads the description unless it is loaded already.
func (s *Spec) Load() error {
	s.once.Do(func() {
		s.v, s.err = apispec.Load(s.File, s.Server)
		if s.err != nil {
			s.err = fmt.Errorf("load the %s API description: %w", s.Name, s.err)
		}
	})
	return s.err
}

// Validate checks a request, whose body was read into body, against the
// description, as if it was sent to the Server's host. r is left as is.
func (s *Spec) Validate(r *http.Request, body []byte) error {
	if err := s.Load(); err != nil {
		return err
	}
	server, err := url.Parse(s.Server)
	if err != nil {
		return fmt.Errorf("the %s API description's server: %w", s.Name, err)
	}
	vr := r.Clone(r.Context())
	vr.URL.Scheme, vr.URL.Host, vr.Host = server.Scheme, server.Host, server.Host
	vr.Body = io.NopCloser(bytes.NewReader(body))
	return s.v.Validate(vr)
}

// Segments splits an escaped path into its unescaped segments (a leading
// "/" is dropped). Segments are unescaped one by one, so an escaped "/"
// stays inside its segment. ok is false when a segment is not validly
// escaped.
func Segments(escapedPath string) (seg []string, ok bool) {
	raw := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	seg = make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, false
		}
		seg[i] = u
	}
	return seg, true
}

// Authorized tells whether an Authorization header carries token with the
// scheme "token" or "Bearer" (in any case), as GitHub and Gitea accept
// both. An empty token authorizes every request.
func Authorized(header, token string) bool {
	if token == "" {
		return true
	}
	scheme, cred, ok := strings.Cut(header, " ")
	if !ok || !(strings.EqualFold(scheme, "token") || strings.EqualFold(scheme, "Bearer")) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(cred), []byte(token)) == 1
}

// Answer is a response a fake writes.
type Answer struct {
	Status int
	// Header holds headers to add.
	Header http.Header
	// Body is encoded as JSON; nil writes no body.
	Body any
}

// Write writes an answer; a body is sent with contentType (APIs spell
// "application/json; charset=utf-8" differently).
func Write(w http.ResponseWriter, contentType string, a Answer) {
	for k, vs := range a.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if a.Body == nil {
		w.WriteHeader(a.Status)
		return
	}
	b, err := json.Marshal(a.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(a.Status)
	_, _ = w.Write(b)
}
