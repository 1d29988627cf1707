package ghapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/plugins/github/internal/settings"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/google/go-github/v60/github"
)

func TestCommitIDAcceptsHexIDsOnly(t *testing.T) {
	for _, id := range []string{"abcdef0", "9f2c1e4b7a3d5f60812e4c9b0a7d3f1e2c4b6a80", "9F2C1E4B7A3D5F60812E4C9B0A7D3F1E2C4B6A80", strings.Repeat("0", 64)} {
		got, err := CommitID(id)
		if err != nil || got != id {
			t.Errorf("CommitID(%q) = %q, %v", id, got, err)
		}
	}
	for _, id := range []string{"", "abcdef", strings.Repeat("0", 65), "main@sha1:../../x/commits/abcdef0", "abcdef0/", "abcdef0 ", "g000000", "%61bcdef0"} {
		if _, err := CommitID(id); sdk.KindOf(err) != sdk.KindInvalidInput {
			t.Errorf("CommitID(%q) = %v, want invalid input", id, err)
		}
	}
	_, err := CommitID(strings.Repeat("x", 10000))
	if len(err.Error()) > 300 {
		t.Errorf("a long id is echoed whole: %d bytes", len(err.Error()))
	}
}

func TestClientsAreCachedPerConfigAndRevision(t *testing.T) {
	c := NewClients(time.Second)
	s := settings.Settings{BaseURL: &url.URL{Scheme: "https", Host: "ghe.example.com", Path: "/api/v3/"}}
	cfg := sdk.Config{Name: "prod", Namespace: "team-a", Token: "t1", Revision: "1"}
	get := func(cfg sdk.Config) *github.Client {
		t.Helper()
		cl, err := c.For(cfg, s)
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	first := get(cfg)
	if first.BaseURL.String() != "https://ghe.example.com/api/v3/" {
		t.Errorf("base URL %s", first.BaseURL)
	}
	if get(cfg) != first {
		t.Error("same revision built a new client")
	}
	other := cfg
	other.Namespace = "team-b"
	if get(other) == first {
		t.Error("another config shares the client")
	}
	next := cfg
	next.Token, next.Revision = "t2", "2"
	second := get(next)
	if second == first || get(next) != second {
		t.Error("a new revision did not replace the client")
	}
	noRev := cfg
	noRev.Revision = ""
	if get(noRev) == get(noRev) {
		t.Error("a config without revision was cached")
	}
}

func TestClientSendsTheTokenAsBearer(t *testing.T) {
	got := make(chan string, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Authorization") + " | " + r.Header.Get("User-Agent")
		w.WriteHeader(http.StatusNoContent)
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	cl, err := NewClients(time.Second).For(sdk.Config{Name: "x", Token: "ghp_abc"}, settings.Settings{BaseURL: &url.URL{Scheme: "http", Host: l.Addr().String(), Path: "/"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cl.Repositories.Dispatch(context.Background(), "o", "r", github.DispatchRequestOptions{EventType: "x"}); err != nil {
		t.Fatal(err)
	}
	if h := <-got; h != "Bearer ghp_abc | "+userAgent {
		t.Errorf("headers %q", h)
	}
}

func answer(code int, header http.Header, message string) error {
	req, _ := http.NewRequest(http.MethodPost, "https://api.github.com/repos/o/r/dispatches", nil)
	if header == nil {
		header = http.Header{}
	}
	return &github.ErrorResponse{Response: &http.Response{StatusCode: code, Header: header, Request: req}, Message: message}
}

func TestClassification(t *testing.T) {
	resetIn := func(d time.Duration) http.Header {
		return http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {strconv.FormatInt(time.Now().Add(d).Unix(), 10)}}
	}
	httpDate := time.Now().Add(2 * time.Hour).UTC().Format(http.TimeFormat)
	cases := []struct {
		name     string
		err      error
		kind     sdk.ErrorKind
		minAfter time.Duration
		maxAfter time.Duration
	}{
		{"500", answer(500, nil, "Server Error"), sdk.KindRetryable, 0, 0},
		{"503 with Retry-After date", answer(503, http.Header{"Retry-After": {httpDate}}, ""), sdk.KindRetryable, time.Hour, 2 * time.Hour},
		{"429 with reset", answer(429, resetIn(10*time.Minute), ""), sdk.KindRetryable, 8 * time.Minute, 10 * time.Minute},
		{"429 with unparsable Retry-After", answer(429, http.Header{"Retry-After": {"soon"}}, ""), sdk.KindRetryable, time.Minute, time.Minute},
		{"403 rate limit message", answer(403, nil, "You have exceeded a secondary rate limit"), sdk.KindRetryable, time.Minute, time.Minute},
		{"403", answer(403, nil, "Must have admin rights to Repository."), sdk.KindPermissionDenied, 0, 0},
		{"401", answer(401, nil, "Bad credentials"), sdk.KindPermissionDenied, 0, 0},
		{"404", answer(404, nil, "Not Found"), sdk.KindNotFound, 0, 0},
		{"409", answer(409, nil, "Git Repository is empty."), sdk.KindPermanent, 0, 0},
		{"422", answer(422, nil, "Validation Failed"), sdk.KindPermanent, 0, 0},
		{"400", answer(400, nil, "Problems parsing JSON"), sdk.KindPermanent, 0, 0},
		{"deadline", fmt.Errorf("post: %w", context.DeadlineExceeded), sdk.KindRetryable, 0, 0},
		{"canceled", context.Canceled, sdk.KindRetryable, 0, 0},
		{"connection refused", &url.Error{Op: "Post", URL: "https://api.github.com/x", Err: errors.New("dial tcp: connection refused")}, sdk.KindRetryable, 0, 0},
		{"something else", errors.New("invalid character '<' looking for beginning of value"), sdk.KindUnclassified, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Classify(tc.err, Call{Action: "send", Repo: "o/r", RepoField: settings.GitOpsRepo, Needs: NeedsDispatch}, "ghp_secret")
			if sdk.KindOf(err) != tc.kind {
				t.Errorf("kind %v, want %v (%v)", sdk.KindOf(err), tc.kind, err)
			}
			if got := sdk.RetryAfterOf(err); got < tc.minAfter || got > tc.maxAfter {
				t.Errorf("retry after %v, want %v..%v", got, tc.minAfter, tc.maxAfter)
			}
			if !errors.Is(err, tc.err) {
				t.Error("the cause is not wrapped")
			}
			if !strings.HasPrefix(err.Error(), "send: ") {
				t.Errorf("message %q does not say what was attempted", err)
			}
		})
	}
	if Classify(nil, Call{}, "x") != nil {
		t.Error("nil error classified")
	}
}
