package fakegitea

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gitops-connector/gitops-connector/testkit/fakeapi"
)

// Fault is what the fake does instead of (or before) answering a request
// normally: an HTTP status (with Gitea's {"message": ...} body unless Body
// says otherwise), a delay, or a lost answer (Applied: the change is made,
// the client sees a failure). The zero Fault answers normally.
type Fault = fakeapi.Fault

// Call describes a request to an Injector: its operation (OpCreateStatus,
// ...), method, path, owner and repository, ref (the sha, basehead or
// workflow of the path) and N, the count of the operation's calls from 1.
type Call = fakeapi.Call

// Injector chooses the fault for a valid, authenticated request, or nil
// for none. The fake calls injectors one at a time, in the order requests
// arrive.
type Injector = fakeapi.Injector

// Fail makes fn choose the faults of later requests; nil stops injecting.
// Faults queued with FailNext come first.
func (s *Server) Fail(fn Injector) { s.faults.Inject(fn) }

// FailNext queues faults for the next calls of one operation, in order.
func (s *Server) FailNext(operation string, faults ...Fault) {
	s.faults.Queue(operation, faults...)
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
func Hang() Fault { return fakeapi.Hang() }
