package sdk

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func answer(code int, header http.Header) *http.Response {
	req, _ := http.NewRequest(http.MethodPost, "https://user:pw@git.example.com/api/v1/repos/o/r/statuses/abc?access_token=qs", nil)
	if header == nil {
		header = http.Header{}
	}
	return &http.Response{StatusCode: code, Header: header, Request: req}
}

func TestClassifyHTTPMapsAnswersToKindsAndWaits(t *testing.T) {
	now := time.Now()
	reset := func(d time.Duration, remaining string) http.Header {
		return http.Header{"X-Ratelimit-Remaining": {remaining}, "X-Ratelimit-Reset": {strconv.FormatInt(now.Add(d).Unix(), 10)}}
	}
	date := func(d time.Duration) http.Header {
		return http.Header{"Retry-After": {now.Add(d).UTC().Format(http.TimeFormat)}}
	}
	secs := func(v string) http.Header { return http.Header{"Retry-After": {v}} }
	cases := []struct {
		name     string
		code     int
		header   http.Header
		kind     ErrorKind
		min, max time.Duration
	}{
		{"500", 500, nil, KindRetryable, 0, 0},
		{"502 with Retry-After seconds", 502, secs("12"), KindRetryable, 12 * time.Second, 12 * time.Second},
		{"503 with Retry-After date (Azure DevOps)", 503, date(2 * time.Hour), KindRetryable, 2*time.Hour - time.Minute, 2 * time.Hour},
		{"429 with Retry-After seconds", 429, secs("30"), KindRetryable, 30 * time.Second, 30 * time.Second},
		{"429 with Retry-After date", 429, date(time.Hour), KindRetryable, time.Hour - time.Minute, time.Hour},
		{"429 with a past Retry-After date", 429, date(-time.Hour), KindRetryable, 0, 0},
		{"429 with unreadable Retry-After", 429, secs("soon"), KindRetryable, 0, 0},
		{"429 with a rate-limit reset", 429, reset(10*time.Minute, "0"), KindRetryable, 9 * time.Minute, 10 * time.Minute},
		{"429 with a huge Retry-After", 429, secs("999999999"), KindRetryable, MaxRetryAfter, MaxRetryAfter},
		{"429 with a negative Retry-After", 429, secs("-5"), KindRetryable, 0, 0},
		{"408", 408, nil, KindRetryable, 0, 0},
		{"403 with the primary rate limit used up (GitHub)", 403, reset(5*time.Minute, "0"), KindRetryable, 4 * time.Minute, 5 * time.Minute},
		{"403 with Retry-After (GitHub secondary limit)", 403, secs("60"), KindRetryable, time.Minute, time.Minute},
		{"403 with remaining calls", 403, reset(5*time.Minute, "4999"), KindPermissionDenied, 0, 0},
		{"403", 403, nil, KindPermissionDenied, 0, 0},
		{"401", 401, nil, KindPermissionDenied, 0, 0},
		{"404", 404, nil, KindNotFound, 0, 0},
		{"410", 410, nil, KindNotFound, 0, 0},
		{"422", 422, secs("10"), KindPermanent, 0, 0},
		{"400", 400, nil, KindPermanent, 0, 0},
		{"409", 409, nil, KindPermanent, 0, 0},
		{"302", 302, nil, KindPermanent, 0, 0},
		{"200", 200, nil, KindUnclassified, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kind, wait := ClassifyHTTP(answer(tc.code, tc.header))
			if kind != tc.kind || wait < tc.min || wait > tc.max {
				t.Errorf("ClassifyHTTP = %v, %v; want %v, %v..%v", kind, wait, tc.kind, tc.min, tc.max)
			}
			err := HTTPError(answer(tc.code, tc.header), nil)
			if got := RetryAfterOf(err); KindOf(err) != tc.kind || got < tc.min || got > tc.max {
				t.Errorf("HTTPError = %v, %v", KindOf(err), got)
			}
			if StatusOf(fmt.Errorf("wrapped: %w", err)) != tc.code {
				t.Errorf("StatusOf = %d, want %d", StatusOf(err), tc.code)
			}
		})
	}
}

func TestRetryAfterReadsSecondsOrADate(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		" 7 ":                           7 * time.Second,
		"0":                             0,
		"-3":                            0,
		"1.5":                           0,
		"Sun, 01 Mar 2026 12:01:30 GMT": 90 * time.Second,
		"Sun, 01 Mar 2026 11:00:00 GMT": 0,
		"Mon, 02 Mar 2026 13:00:00 GMT": MaxRetryAfter,
		"9223372036854775807":           MaxRetryAfter,
	} {
		if got := RetryAfter(v, now); got != want {
			t.Errorf("RetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestHTTPErrorNeverCarriesTheRequestsCredentials(t *testing.T) {
	const token = "ghp_0123456789abcdef"
	for _, auth := range []string{"Bearer " + token, "token " + token, "Basic " + base64.StdEncoding.EncodeToString([]byte("me:"+token))} {
		resp := answer(401, nil)
		resp.Request.Header.Set("Authorization", auth)
		body := []byte(`{"message":"Bad credentials","echo":"` + auth + `","again":"` + token + `"}`)
		err := HTTPError(resp, body, "other-secret")
		msg := fmt.Sprintf("%v %+v", err, err)
		if strings.Contains(msg, token) || strings.Contains(msg, strings.TrimPrefix(auth, "Basic ")) {
			t.Errorf("the credential of %q leaks: %s", auth[:5], msg)
		}
		if !strings.Contains(msg, "Bad credentials") || !strings.Contains(msg, "[redacted]") {
			t.Errorf("excerpt lost: %s", msg)
		}
		if strings.Contains(msg, "pw@") || strings.Contains(msg, "access_token") {
			t.Errorf("URL user info or query leaks: %s", msg)
		}
		if !strings.Contains(msg, "POST https://git.example.com/api/v1/repos/o/r/statuses/abc: HTTP 401 Unauthorized") {
			t.Errorf("message does not say which request: %s", msg)
		}
	}
	err := HTTPError(answer(500, nil), []byte("the key is other-secret"), "other-secret")
	if strings.Contains(err.Error(), "other-secret") {
		t.Errorf("a named secret leaks: %v", err)
	}
}

func TestHTTPErrorKeepsAShortOneLineExcerpt(t *testing.T) {
	const token = "secret-token-value"
	// The token straddles the excerpt's end: it must be redacted before the
	// cut, so not even its first half shows.
	body := strings.Repeat("é", 250) + "\n\t\x00" + strings.Repeat("x", MaxBodyExcerpt-505) + token + strings.Repeat("y", 1000)
	err := HTTPError(answer(502, nil), []byte(body), token)
	var re *ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("%T is not a ResponseError", err)
	}
	if len(re.Body) > MaxBodyExcerpt+len("…") || strings.ContainsAny(re.Body, "\n\t\x00") || !strings.HasSuffix(re.Body, "…") {
		t.Errorf("excerpt of %d bytes: %q", len(re.Body), re.Body)
	}
	if strings.Contains(re.Body, "secret-") {
		t.Errorf("part of the token shows: %q", re.Body)
	}
	if strings.ToValidUTF8(re.Body, "?") != re.Body {
		t.Error("the cut split a character")
	}
}

func TestCheckResponseOverARealServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusCreated)
		case "/limited":
			w.Header().Set("Retry-After", "42")
			http.Error(w, "slow down "+r.Header.Get("Authorization"), http.StatusTooManyRequests)
		case "/slow":
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	get := func(path string, timeout time.Duration) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "token abcdefgh12345")
		return (&http.Client{Timeout: timeout}).Do(req)
	}
	resp, err := get("/ok", time.Minute)
	if err != nil || CheckResponse(resp) != nil {
		t.Fatalf("201: %v %v", err, CheckResponse(resp))
	}
	resp, err = get("/limited", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	err = CheckResponse(resp)
	if KindOf(err) != KindRetryable || RetryAfterOf(err) != 42*time.Second || !strings.Contains(err.Error(), "slow down token [redacted]") {
		t.Errorf("429: %v (%v, %v)", err, KindOf(err), RetryAfterOf(err))
	}
	if _, rerr := resp.Body.Read(make([]byte, 1)); rerr == nil {
		t.Error("the body was left open")
	}
	_, err = get("/slow", 50*time.Millisecond)
	if err = RequestError(err); KindOf(err) != KindRetryable || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("time-out: %v", err)
	}
}

func TestRequestErrorClassifiesFailuresWithoutAnswer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	_, refused := http.Get("http://" + addr + "/x?token=sekrit-value")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr, nil)
	_, canceled := http.DefaultClient.Do(req)
	already := NotFound(errors.New("no such repository"))
	cases := []struct {
		name string
		err  error
		kind ErrorKind
	}{
		{"connection refused", refused, KindRetryable},
		{"deadline", fmt.Errorf("get: %w", context.DeadlineExceeded), KindRetryable},
		{"canceled", canceled, KindRetryable},
		{"already classified", already, KindNotFound},
		{"other", io.ErrUnexpectedEOF, KindUnclassified},
	}
	for _, tc := range cases {
		got := RequestError(tc.err, "sekrit-value")
		if KindOf(got) != tc.kind || !errors.Is(got, tc.err) {
			t.Errorf("%s: %v is %v, want %v wrapping the cause", tc.name, got, KindOf(got), tc.kind)
		}
		if strings.Contains(got.Error(), "sekrit-value") {
			t.Errorf("%s: secret leaks: %v", tc.name, got)
		}
	}
	if RequestError(nil) != nil {
		t.Error("nil classified")
	}
	if _, ok := errors.AsType[*url.Error](RequestError(refused)); !ok {
		t.Error("the *url.Error is not reachable")
	}
}
