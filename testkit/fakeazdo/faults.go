package fakeazdo

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gitops-connector/gitops-connector/testkit/fakeapi"
)

// Fault is what an injected failure does to one request. Faults apply only
// to requests that are valid and authenticated.
type Fault struct {
	// Status answers the request with this HTTP status (e.g. 503, 429)
	// and an Azure DevOps error document instead of handling it. Zero
	// handles the request normally, after Delay.
	Status int
	// RetryAfter, when positive, sets the Retry-After header (whole
	// seconds, at least one).
	RetryAfter time.Duration
	// Delay holds the answer back; it ends early when the client gives up.
	Delay time.Duration
	// Applied handles the request (its effect happens) and then answers
	// with Status anyway: a response lost on the way back.
	Applied bool
}

// RandomFaults injects faults at random, reproducibly: for a given Seed
// and the same order of requests, the same requests fail the same way.
type RandomFaults struct {
	Seed uint64
	// Probability (0 to 1) that one request gets a fault.
	Probability float64
	// Routes are the operations that may fail; none means every operation
	// except location and resource-area discovery.
	Routes []Route
	// Faults to choose from, uniformly.
	Faults []Fault
}

// Fail makes the next n requests to route fail with f (after any faults
// already queued for the route).
func (s *Server) Fail(route Route, n int, f Fault) {
	for range n {
		s.faults.Queue(route, f)
	}
}

// FailRandomly injects faults at random from now on; it replaces an
// earlier FailRandomly. Queued faults (Fail) take precedence.
func (s *Server) FailRandomly(r RandomFaults) {
	r.Routes = slices.Clone(r.Routes)
	random := fakeapi.Random[Route](r.Seed, r.Probability, slices.Clone(r.Faults)...)
	s.faults.Inject(func(route Route) *Fault {
		if !r.covers(route) {
			return nil
		}
		return random(route)
	})
}

func (r *RandomFaults) covers(route Route) bool {
	if len(r.Routes) == 0 {
		return route != RouteLocations && route != RouteResourceAreas
	}
	for _, want := range r.Routes {
		if want == route {
			return true
		}
	}
	return false
}

// writeFault answers with an injected failure.
func writeFault(w http.ResponseWriter, f Fault) {
	if f.RetryAfter > 0 {
		secs := int((f.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	}
	writeError(w, f.Status, "fakeazdo: injected fault")
}

// hold holds a request of route back for d, counting it as held; false
// when the client gave up first.
func (s *Server) hold(ctx context.Context, route Route, d time.Duration) bool {
	s.mu.Lock()
	if s.held == nil {
		s.held = map[Route]int{}
	}
	s.held[route]++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.held[route]--
		s.mu.Unlock()
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// Held returns how many requests of route a fault's Delay holds back now:
// a test waits for a client to be in the middle of a call.
func (s *Server) Held(route Route) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held[route]
}
