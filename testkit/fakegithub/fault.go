package fakegithub

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gitops-connector/gitops-connector/testkit/fakeapi"
)

// Fault is what the fake does instead of (or before) answering a request
// normally: an HTTP status (with GitHub's {"message": ...} body unless Body
// says otherwise), a delay, or a lost response (Applied). The zero Fault
// answers normally.
type Fault = fakeapi.Fault

// Call describes a request to an Injector: its operation (OpCreateStatus,
// ...), method, path, owner and repository, ref (the sha, ref or basehead
// of the path) and N, the count of the operation's calls from 1.
type Call = fakeapi.Call

// Injector chooses the fault for a valid, authenticated request, or nil for
// none. The fake calls injectors one at a time, in the order requests
// arrive; an injector may call the Server's methods.
type Injector = fakeapi.Injector

// Fail makes fn choose the faults of later requests; nil stops injecting.
// Faults queued with FailNext come first.
func (s *Server) Fail(fn Injector) { s.faults.Inject(fn) }

// FailNext queues faults for the next calls of one operation: the first
// fault answers the next call, and so on. Queued faults come before Fail's.
func (s *Server) FailNext(operation string, faults ...Fault) {
	s.faults.Queue(operation, faults...)
}

// Random returns an Injector that answers a share rate (0..1) of the calls
// with one of faults, chosen at random. The choices depend only on seed and
// the order of the calls, so a failing run is repeated with its seed.
func Random(seed uint64, rate float64, faults ...Fault) Injector {
	return fakeapi.Random[Call](seed, rate, faults...)
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
	f.Header = fakeapi.RetryAfter(retryAfter)
	return f
}

// TooManyRequests answers 429 with Retry-After (omitted when retryAfter is 0).
func TooManyRequests(retryAfter time.Duration) Fault {
	f := Fault{Status: http.StatusTooManyRequests}
	f.Header = fakeapi.RetryAfter(retryAfter)
	return f
}

// errorJSON is GitHub's error body as JSON text.
func errorJSON(message, docURL string) string {
	b, _ := json.Marshal(errorBody(message, docURL)) // a map of strings always encodes
	return string(b)
}

// Hang holds the answer until the client gives up or the fake closes: for
// client timeouts. The request has no effect.
func Hang() Fault { return fakeapi.Hang() }
