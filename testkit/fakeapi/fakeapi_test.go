package fakeapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

func TestSegmentsKeepAnEscapedSlashInItsSegment(t *testing.T) {
	seg, ok := Segments("/repos/o/r/compare/main%2Fx...feature")
	if !ok || !slices.Equal(seg, []string{"repos", "o", "r", "compare", "main/x...feature"}) {
		t.Errorf("Segments = %q, %v", seg, ok)
	}
	if _, ok := Segments("/repos/o/%zz"); ok {
		t.Error("a bad escape was accepted")
	}
}

func TestAuthorizedAcceptsTokenAndBearerOnly(t *testing.T) {
	for header, want := range map[string]bool{
		"token s3cret":  true,
		"Bearer s3cret": true,
		"bearer s3cret": true,
		"TOKEN s3cret":  true,
		"Basic s3cret":  false,
		"token other":   false,
		"token s3cre":   false,
		"s3cret":        false,
		"":              false,
	} {
		if got := Authorized(header, "s3cret"); got != want {
			t.Errorf("Authorized(%q) = %v, want %v", header, got, want)
		}
	}
	if !Authorized("", "") {
		t.Error("an empty token must authorize every request")
	}
}

func TestFaultsQueuedComeFirstThenTheInjector(t *testing.T) {
	var fs Faults[string, Call, Fault]
	if fs.Next("op", Call{}) != nil {
		t.Fatal("a fault without any queued or injected")
	}
	fs.Queue("op", Fault{Status: 500}, Fault{Status: 502})
	fs.Queue("op", Fault{Status: 503})
	var injected []Call
	fs.Inject(func(c Call) *Fault {
		injected = append(injected, c)
		return &Fault{Status: 429}
	})
	var got []int
	for n := 1; n <= 4; n++ {
		got = append(got, fs.Next("op", Call{Operation: "op", N: fs.Count("op")}).Status)
	}
	if !slices.Equal(got, []int{500, 502, 503, 429}) {
		t.Errorf("statuses %v, want the queue in order, then the injector's", got)
	}
	if len(injected) != 1 || injected[0].N != 4 {
		t.Errorf("injector saw %+v, want the 4th call only", injected)
	}
	if f := fs.Next("other", Call{Operation: "other"}); f == nil || f.Status != 429 {
		t.Errorf("another operation got %+v, want the injector's", f)
	}
	if n := fs.Count("other"); n != 1 {
		t.Errorf("Count of another operation = %d, want 1", n)
	}
	fs.Inject(nil)
	if f := fs.Next("op", Call{}); f != nil {
		t.Errorf("fault %+v after Inject(nil)", f)
	}
}

func TestRandomDependsOnlyOnTheSeed(t *testing.T) {
	faults := []Fault{{Status: 500}, {Status: 502}, {Status: 503}}
	run := func(seed uint64) []int {
		inject := Random[Call](seed, 0.5, faults...)
		var out []int
		for range 200 {
			s := 0
			if f := inject(Call{}); f != nil {
				s = f.Status
			}
			out = append(out, s)
		}
		return out
	}
	a, b := run(42), run(42)
	if !slices.Equal(a, b) {
		t.Error("the same seed chose different faults")
	}
	if slices.Equal(a, run(43)) {
		t.Error("another seed chose the same faults")
	}
	hits := 0
	for _, s := range a {
		if s != 0 {
			hits++
		}
	}
	if hits < 60 || hits > 140 {
		t.Errorf("%d of 200 calls failed at rate 0.5", hits)
	}
	if Random[Call, Fault](1, 1)(Call{}) != nil || Random[Call](1, 0, faults...)(Call{}) != nil {
		t.Error("a fault without faults to choose from or at rate 0")
	}
}

func TestApply(t *testing.T) {
	errorBody := func(status int) any { return map[string]any{"message": http.StatusText(status)} }
	handled := 0
	handle := func() Answer { handled++; return Answer{Status: http.StatusCreated} }
	ctx := context.Background()

	if a, ab := Apply(ctx, nil, nil, handle, errorBody); ab || a.Status != http.StatusCreated || handled != 1 {
		t.Errorf("no fault: %+v, abandoned %v, handled %d", a, ab, handled)
	}
	a, ab := Apply(ctx, nil, &Fault{Status: http.StatusBadGateway}, handle, errorBody)
	if ab || a.Status != http.StatusBadGateway || handled != 1 {
		t.Errorf("502: %+v, abandoned %v, handled %d (want not handled)", a, ab, handled)
	}
	if m, ok := a.Body.(map[string]any); !ok || m["message"] != "Bad Gateway" {
		t.Errorf("502 body %#v, want the API's error body", a.Body)
	}
	a, _ = Apply(ctx, nil, &Fault{Status: http.StatusBadGateway, Applied: true, Body: `{"x":1}`, Header: RetryAfter(3 * time.Second)}, handle, errorBody)
	if a.Status != http.StatusBadGateway || handled != 2 || a.Header.Get("Retry-After") != "3" {
		t.Errorf("applied 502: %+v, handled %d (want handled)", a, handled)
	}
	if raw, ok := a.Body.(interface{ MarshalJSON() ([]byte, error) }); !ok {
		t.Errorf("body %#v, want the fault's raw JSON", a.Body)
	} else if b, _ := raw.MarshalJSON(); string(b) != `{"x":1}` {
		t.Errorf("body %s", b)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, ab := Apply(cctx, nil, &Fault{Delay: time.Hour, Applied: true, Status: 500}, handle, errorBody); !ab || handled != 2 {
		t.Errorf("a delayed call whose client gave up: abandoned %v, handled %d (want no effect)", ab, handled)
	}
	closing := make(chan struct{})
	close(closing)
	if _, ab := Apply(ctx, closing, &Fault{Delay: time.Hour}, handle, errorBody); !ab || handled != 2 {
		t.Errorf("a delayed call of a closing fake: abandoned %v, handled %d", ab, handled)
	}
	if a, ab := Apply(ctx, nil, &Fault{Delay: time.Millisecond}, handle, errorBody); ab || a.Status != http.StatusCreated || handled != 3 {
		t.Errorf("a short delay: %+v, abandoned %v, handled %d", a, ab, handled)
	}
	if h := RetryAfter(0); h != nil {
		t.Errorf("RetryAfter(0) = %v, want no header", h)
	}
}

func TestWrite(t *testing.T) {
	w := httptest.NewRecorder()
	Write(w, "application/json;charset=utf-8", Answer{Status: 201, Header: http.Header{"Link": {"a", "b"}}, Body: map[string]int{"id": 1}})
	if w.Code != 201 || w.Header().Get("Content-Type") != "application/json;charset=utf-8" || w.Body.String() != `{"id":1}` || len(w.Header().Values("Link")) != 2 {
		t.Errorf("answer %d %v %q", w.Code, w.Header(), w.Body)
	}
	w = httptest.NewRecorder()
	Write(w, "application/json", Answer{Status: 204})
	if w.Code != 204 || w.Body.Len() != 0 || w.Header().Get("Content-Type") != "" {
		t.Errorf("no body: %d %v %q", w.Code, w.Header(), w.Body)
	}
}

func TestLog(t *testing.T) {
	var l Log[string]
	l.Add("GET a", nil)
	l.Add("POST b", errors.New("bad b"))
	l.AddError(errors.New("bad c"))
	l.Add("GET d", nil)
	if got := l.Requests(); !slices.Equal(got, []string{"GET a", "POST b", "GET d"}) {
		t.Errorf("Requests = %q", got)
	}
	if got := l.Filter(func(r string) bool { return r[0] == 'G' }); !slices.Equal(got, []string{"GET a", "GET d"}) {
		t.Errorf("Filter = %q", got)
	}
	if errs := l.Errors(); len(errs) != 2 || errs[0].Error() != "bad b" || errs[1].Error() != "bad c" {
		t.Errorf("Errors = %v", errs)
	}
	var rec recordingTB
	l.AssertValid(&rec, "fake: ")
	if !slices.Equal(rec.errors, []string{"fake: bad b", "fake: bad c"}) {
		t.Errorf("AssertValid reported %q", rec.errors)
	}
}

// recordingTB records the errors reported to it.
type recordingTB struct {
	testing.TB
	errors []string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
