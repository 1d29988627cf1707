package fakegithub

import (
	"encoding/json"
	"math/rand/v2"
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
	// Body is the JSON body of the answer; "" gives GitHub's
	// {"message": ...} with the status text.
	Body string
	// Delay holds the answer back. When the client gives up first (its
	// timeout or context), the request is abandoned without effect.
	Delay time.Duration
	// Applied makes the fake carry the request out before it answers with
	// Status: the status is stored or the event dispatched, but the client
	// sees a failure (a lost response).
	Applied bool
}

// Call describes a request to an Injector.
type Call struct {
	// Operation is the operationId (OpCreateStatus, ...).
	Operation   string
	Method      string
	Path        string
	Owner, Repo string
	// N counts the calls of this operation, from 1 (this call included).
	N int
}

// Injector chooses the fault for a valid, authenticated request, or nil for
// none. The fake calls injectors one at a time, in the order requests
// arrive; an injector may call the Server's methods.
type Injector func(Call) *Fault

// Fail makes fn choose the faults of later requests; nil stops injecting.
// Faults queued with FailNext come first.
func (s *Server) Fail(fn Injector) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.inject = fn
}

// FailNext queues faults for the next calls of one operation: the first
// fault answers the next call, and so on. Queued faults come before Fail's.
func (s *Server) FailNext(operation string, faults ...Fault) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.queues[operation] = append(s.queues[operation], faults...)
}

// fault picks the fault of one call, or nil.
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

// Random returns an Injector that answers a share rate (0..1) of the calls
// with one of faults, chosen at random. The choices depend only on seed and
// the order of the calls, so a failing run is repeated with its seed.
func Random(seed uint64, rate float64, faults ...Fault) Injector {
	rnd := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func(Call) *Fault {
		hit := rnd.Float64() < rate
		if !hit || len(faults) == 0 {
			return nil
		}
		f := faults[rnd.IntN(len(faults))]
		return &f
	}
}

// ServerError answers with a 5xx status (500, 502, 503, ...).
func ServerError(status int) Fault {
	return Fault{Status: status}
}

// Error answers with any status and a GitHub error message, e.g.
// Error(422, "No commit found for SHA: ...").
func Error(status int, message string) Fault {
	return Fault{Status: status, Body: errorJSON(message, "https://docs.github.com/rest")}
}

// RateLimit answers like GitHub when the primary rate limit is used up: 403
// with X-RateLimit-Remaining: 0 and X-RateLimit-Reset at reset.
func RateLimit(reset time.Time) Fault {
	h := http.Header{}
	h.Set("X-RateLimit-Limit", "5000")
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Used", "5000")
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
	return Fault{
		Status: http.StatusForbidden,
		Header: h,
		Body: errorJSON("API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.",
			"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits"),
	}
}

// SecondaryRateLimit answers like GitHub when a secondary rate limit is hit:
// 403 with Retry-After (omitted when retryAfter is 0; clients should then wait
// a minute) and a message and documentation URL naming the secondary limit.
func SecondaryRateLimit(retryAfter time.Duration) Fault {
	f := Fault{
		Status: http.StatusForbidden,
		Body: errorJSON("You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.",
			"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"),
	}
	if retryAfter > 0 {
		f.Header = http.Header{"Retry-After": {strconv.Itoa(int(retryAfter / time.Second))}}
	}
	return f
}

// TooManyRequests answers 429 with Retry-After (omitted when retryAfter is 0).
func TooManyRequests(retryAfter time.Duration) Fault {
	f := Fault{Status: http.StatusTooManyRequests}
	if retryAfter > 0 {
		f.Header = http.Header{"Retry-After": {strconv.Itoa(int(retryAfter / time.Second))}}
	}
	return f
}

// errorJSON is GitHub's error body as JSON text.
func errorJSON(message, docURL string) string {
	b, _ := json.Marshal(errorBody(message, docURL)) // a map of strings always encodes
	return string(b)
}

// Hang holds the answer until the client gives up or the fake closes: for
// client timeouts. The request has no effect.
func Hang() Fault { return Fault{Delay: 24 * time.Hour} }
