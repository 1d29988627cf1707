package fakegitea

import (
	"net/http"
	"strconv"
	"time"
)

// Fault is what the fake does instead of (or before) answering a request
// normally. The zero Fault answers normally.
type Fault struct {
	// Status is the HTTP status to answer with; 0 answers normally after
	// Delay.
	Status int
	// Header holds extra response headers, e.g. Retry-After.
	Header http.Header
	// Body is the JSON body of the answer; "" gives Gitea's
	// {"message": ...} with the status text.
	Body string
	// Delay holds the answer back. When the client gives up first, the
	// request is abandoned without effect.
	Delay time.Duration
	// Applied makes the fake carry the request out before it answers with
	// Status: the client sees a failure of a change that was made.
	Applied bool
}

// Call describes a request to an Injector.
type Call struct {
	// Operation is the operationId (OpCreateStatus, ...).
	Operation   string
	Owner, Repo string
	// Ref is the sha, basehead or workflow of the path.
	Ref string
}

// Injector chooses the fault for a valid, authenticated request, or nil
// for none. The fake calls injectors one at a time, in the order requests
// arrive.
type Injector func(Call) *Fault

// Fail makes fn choose the faults of later requests; nil stops injecting.
// Faults queued with FailNext come first.
func (s *Server) Fail(fn Injector) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.inject = fn
}

// FailNext queues faults for the next calls of one operation, in order.
func (s *Server) FailNext(operation string, faults ...Fault) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.queues[operation] = append(s.queues[operation], faults...)
}

func (s *Server) fault(c Call) *Fault {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	if q := s.queues[c.Operation]; len(q) > 0 {
		f := q[0]
		s.queues[c.Operation] = q[1:]
		return &f
	}
	if s.inject != nil {
		return s.inject(c)
	}
	return nil
}

// Error answers with a status and Gitea's error body.
func Error(status int, message string) Fault {
	return Fault{Status: status, Body: `{"message":` + strconv.Quote(message) + `,"url":"https://gitea.example/api/swagger"}`}
}

// RetryAfter answers with a status (429, 503, ...) and Retry-After in
// seconds, as Gitea's rate limiter and reverse proxies send it.
func RetryAfter(status int, after time.Duration) Fault {
	return Fault{Status: status, Header: http.Header{"Retry-After": {strconv.Itoa(int(after / time.Second))}}}
}

// Hang holds the answer until the client gives up or the fake closes: for
// client timeouts. The request has no effect.
func Hang() Fault { return Fault{Delay: 24 * time.Hour} }
