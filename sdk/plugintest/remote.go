package plugintest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// kitToken is the credential the kit gives a config without one; no error
// may carry it.
const kitToken = "plugintest-token-7f3a9c"

// remote runs the checks of what a repository or orchestrator plugin sends
// to its remote API and reports back.
type remote struct {
	c  *Client
	s  Suite
	ep *endpoint
	n  int
}

// config returns a fresh config for the endpoint and the secrets it holds.
func (k *remote) config() (sdk.Config, []string) {
	k.n++
	cfg := k.s.Config(k.ep.URL())
	if cfg.Name == "" {
		cfg.Name = "plugintest"
	}
	cfg.Name = fmt.Sprintf("%s-%d", cfg.Name, k.n)
	cfg.Revision = strconv.Itoa(k.n)
	if cfg.Token == "" && cfg.Credential.Kind == "" {
		cfg.Token = kitToken
		cfg.Credential = sdk.Credential{Kind: sdk.CredentialToken, Values: map[string]string{"token": kitToken}}
	}
	secrets := []string{cfg.Token}
	for _, v := range cfg.Credential.Values {
		secrets = append(secrets, v)
	}
	return cfg, slices.DeleteFunc(secrets, func(s string) bool { return len(s) < 4 })
}

var testStatus = sdk.Status{Name: "plugintest", State: sdk.StatePending, RawState: "Progressing",
	Description: "checked by plugintest", Genre: "Kustomization", Operator: "Flux"}

const validCommit = "0123456789abcdef0123456789abcdef01234567"

// BadCommitIDs are commit ids no request may go out for.
var BadCommitIDs = []string{
	"",
	"main",
	"abcdef",
	"../../other/commits/" + validCommit,
	"main@sha1:../../x/commits/abcdef0",
	validCommit + "/../../../other",
	"%2e%2e%2fabcdef0",
	"abcdef0?x=1",
	"abcdef0\n",
	"g" + validCommit[1:],
}

// call is one plugin call of the remote checks.
type call struct {
	name string
	// do calls the plugin with a commit id; notified is false for calls
	// that say nothing of having sent a notification.
	do func(ctx context.Context, cfg sdk.Config, id string) (notified bool, err error)
}

func (k *remote) calls() []call {
	var out []call
	if r := k.c.Repository; r != nil {
		out = append(out,
			call{"PostStatus", func(ctx context.Context, cfg sdk.Config, id string) (bool, error) {
				return false, r.PostStatus(ctx, sdk.PostStatusRequest{Config: cfg, CommitID: id, Status: testStatus})
			}},
			call{"GetCommit", func(ctx context.Context, cfg sdk.Config, id string) (bool, error) {
				_, err := r.GetCommit(ctx, sdk.GetCommitRequest{Config: cfg, CommitID: id})
				return false, err
			}},
			call{"FindPullRequests", func(ctx context.Context, cfg sdk.Config, id string) (bool, error) {
				_, err := r.FindPullRequests(ctx, sdk.FindPullRequestsRequest{Config: cfg, CommitID: id})
				return false, err
			}},
			call{"ListCommits(base)", func(ctx context.Context, cfg sdk.Config, id string) (bool, error) {
				_, err := r.ListCommits(ctx, sdk.ListCommitsRequest{Config: cfg, BaseCommitID: id, HeadCommitID: validCommit})
				return false, err
			}},
			call{"ListCommits(head)", func(ctx context.Context, cfg sdk.Config, id string) (bool, error) {
				_, err := r.ListCommits(ctx, sdk.ListCommitsRequest{Config: cfg, BaseCommitID: validCommit, HeadCommitID: id})
				return false, err
			}},
			call{"ListStatuses", func(ctx context.Context, cfg sdk.Config, id string) (bool, error) {
				_, err := r.ListStatuses(ctx, sdk.ListStatusesRequest{Config: cfg, CommitID: id})
				return false, err
			}},
		)
	}
	if o := k.c.Orchestrator; o != nil {
		out = append(out,
			call{"NotifyCompletion", func(ctx context.Context, cfg sdk.Config, id string) (bool, error) {
				res, err := o.NotifyCompletion(ctx, sdk.Completion{Config: cfg, CommitID: id, Successful: true, Statuses: []sdk.Status{testStatus}}, hostRepository{})
				return res.Notified, err
			}},
			call{"NotifyCompletion(deployed with)", func(ctx context.Context, cfg sdk.Config, id string) (bool, error) {
				if id == "" {
					id = "-" // "" is a direct completion
				}
				res, err := o.NotifyCompletion(ctx, sdk.Completion{Config: cfg, CommitID: validCommit, DeployedWith: id, Successful: true, Statuses: []sdk.Status{testStatus}}, hostRepository{})
				return res.Notified, err
			}},
		)
	}
	return out
}

func (k *remote) run(ctx context.Context, t *testing.T) {
	t.Run("remote/bad-commit-id", func(t *testing.T) { k.badCommitIDs(ctx, t) })
	t.Run("remote/retryable", func(t *testing.T) { k.retryable(ctx, t) })
	t.Run("remote/permanent", func(t *testing.T) { k.permanent(ctx, t) })
	if k.c.Repository != nil {
		t.Run("repository/repeat", func(t *testing.T) { k.repeat(ctx, t) })
		t.Run("repository/shapes", func(t *testing.T) { k.shapes(ctx, t) })
	}
	k.ep.reset()
}

// classified are the calls the classification checks make: PostStatus
// of a repository, NotifyCompletion of an orchestrator.
func (k *remote) classified() []call {
	var out []call
	for _, c := range k.calls() {
		if c.name == "PostStatus" || c.name == "NotifyCompletion" {
			out = append(out, c)
		}
	}
	return out
}

// silent reports that c sent no request: an error for PostStatus (the
// config does not point at the endpoint), a note for an orchestrator that
// had nothing to notify.
func silent(t *testing.T, c call, answer string) {
	t.Helper()
	if c.name == "PostStatus" {
		t.Errorf("%s: %s sent no request to the kit's endpoint: does Suite.Config point the plugin at it?", answer, c.name)
		return
	}
	t.Logf("%s: %s sent no request; nothing to check", answer, c.name)
}

func (k *remote) badCommitIDs(ctx context.Context, t *testing.T) {
	for _, c := range k.calls() {
		for _, id := range BadCommitIDs {
			cfg, secrets := k.config()
			k.ep.reset()
			notified, err := c.do(ctx, cfg, id)
			if reqs := k.ep.received(); len(reqs) > 0 {
				t.Errorf("%s(commit %q) sent %s %s: no request may go out for an invalid commit id", c.name, id, reqs[0].Method, reqs[0].URI)
			}
			switch {
			case err == nil && notified:
				t.Errorf("%s(commit %q) notified", c.name, id)
			case sdk.IsRetryable(err):
				t.Errorf("%s(commit %q) = retryable %v, want a permanent error", c.name, id, err)
			}
			k.noLeak(t, c.name, err, secrets)
		}
	}
}

// retryableAnswers are answers the host must retry, with the wait each asks
// for (at least min, at most max).
func retryableAnswers() []struct {
	name     string
	a        answer
	min, max time.Duration
} {
	date := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	return []struct {
		name     string
		a        answer
		min, max time.Duration
	}{
		{"500", answer{status: 500}, 0, 0},
		{"502 with Retry-After 7", answer{status: 502, header: map[string]string{"Retry-After": "7"}}, 7 * time.Second, 7 * time.Second},
		{"503 with Retry-After as a date", answer{status: 503, header: map[string]string{"Retry-After": date}}, time.Hour - 2*time.Minute, time.Hour},
		{"429 with Retry-After 30", answer{status: 429, header: map[string]string{"Retry-After": "30"}}, 30 * time.Second, 30 * time.Second},
		{"no answer (connection closed)", answer{hangUp: true}, 0, time.Hour},
		{"time-out", answer{stall: true}, 0, time.Hour},
	}
}

func (k *remote) retryable(ctx context.Context, t *testing.T) {
	for _, c := range k.classified() {
		k.retryableOf(ctx, t, c)
	}
}

func (k *remote) retryableOf(ctx context.Context, t *testing.T, c call) {
	for _, tc := range retryableAnswers() {
		cfg, secrets := k.config()
		k.ep.answerWith(&tc.a)
		cctx, cancel := ctx, context.CancelFunc(func() {})
		if tc.a.stall {
			cctx, cancel = context.WithTimeout(ctx, 3*time.Second)
		}
		_, err := c.do(cctx, cfg, validCommit)
		cancel()
		if len(k.ep.received()) == 0 {
			silent(t, c, tc.name)
			continue
		}
		if !sdk.IsRetryable(err) {
			t.Errorf("%s: %s = %v (%v), want a retryable error", tc.name, c.name, err, sdk.KindOf(err))
		} else if got := sdk.RetryAfterOf(err); got < tc.min || got > tc.max {
			t.Errorf("%s: %s asks to retry after %v, want %v..%v (the answer's Retry-After)", tc.name, c.name, got, tc.min, tc.max)
		}
		k.noLeak(t, c.name, err, secrets)
	}
}

func (k *remote) permanent(ctx context.Context, t *testing.T) {
	for _, c := range k.classified() {
		k.permanentOf(ctx, t, c)
	}
}

func (k *remote) permanentOf(ctx context.Context, t *testing.T, c call) {
	for _, code := range []int{401, 403, 404, 422} {
		cfg, secrets := k.config()
		k.ep.answerWith(&answer{status: code})
		_, err := c.do(ctx, cfg, validCommit)
		reqs := k.ep.received()
		if len(reqs) == 0 {
			silent(t, c, strconv.Itoa(code))
			continue
		}
		if err == nil || sdk.IsRetryable(err) {
			t.Errorf("%d: %s = %v (%v), want a permanent error: the host would retry it for a day", code, c.name, err, sdk.KindOf(err))
		}
		for i, r := range reqs {
			if slices.Contains(reqs[:i], r) {
				t.Errorf("%d: %s sent %s %s again: a permanent answer is not retried", code, c.name, r.Method, r.URI)
				break
			}
		}
		k.noLeak(t, c.name, err, secrets)
	}
}

// repeat checks that PostStatus is safe to repeat: after a success and
// after a retryable failure, the same call succeeds and writes the same
// (reads, such as API discovery, may be cached).
func (k *remote) repeat(ctx context.Context, t *testing.T) {
	r := k.c.Repository
	cfg, _ := k.config()
	req := sdk.PostStatusRequest{Config: cfg, CommitID: validCommit, Status: testStatus}
	k.ep.reset()
	if err := r.PostStatus(ctx, req); err != nil {
		t.Fatalf("PostStatus against the endpoint's 201 answers: %v", err)
	}
	first := writes(k.ep.received())
	for _, after := range []string{"a success", "a 503"} {
		if after == "a 503" {
			k.ep.answerWith(&answer{status: 503})
			_ = r.PostStatus(ctx, req)
		}
		k.ep.reset()
		if err := r.PostStatus(ctx, req); err != nil {
			t.Errorf("PostStatus repeated after %s = %v: every call may be repeated and must succeed again", after, err)
			continue
		}
		if again := writes(k.ep.received()); !slices.Equal(again, first) {
			t.Errorf("PostStatus repeated after %s wrote %v, the first call %v: a repeat must have the same effect", after, again, first)
		}
	}
}

// shapes checks the answers of GetCommit, ListCommits and ListStatuses
// from the fixtures, and that garbage answers give an error, not a
// malformed result or a panic.
func (k *remote) shapes(ctx context.Context, t *testing.T) {
	r := k.c.Repository
	head, base := k.s.Commit, k.s.BaseCommit
	if head == "" {
		head = validCommit
	}
	if base == "" {
		base = strings.Repeat("b", len(head))
	}
	type check struct {
		name string
		do   func(cfg sdk.Config) (string, error) // what is wrong, and the call's error
	}
	checks := []check{
		{"GetCommit", func(cfg sdk.Config) (string, error) {
			c, err := r.GetCommit(ctx, sdk.GetCommitRequest{Config: cfg, CommitID: head})
			if err != nil {
				return "", err
			}
			if !strings.EqualFold(c.ID, head) && !strings.HasPrefix(strings.ToLower(c.ID), strings.ToLower(head)) {
				return fmt.Sprintf("commit id %q, want %q", c.ID, head), nil
			}
			return badParents(c), nil
		}},
		{"ListCommits", func(cfg sdk.Config) (string, error) {
			list, err := r.ListCommits(ctx, sdk.ListCommitsRequest{Config: cfg, BaseCommitID: base, HeadCommitID: head, MaxCommits: 10})
			if err != nil {
				return "", err
			}
			if len(list.Commits) > 10 {
				return fmt.Sprintf("%d commits, more than the 10 asked for", len(list.Commits)), nil
			}
			for i, c := range list.Commits {
				if !sdk.ValidCommitID(c.ID) || strings.EqualFold(c.ID, base) {
					return fmt.Sprintf("commit #%d has id %q (base %s is not listed)", i, c.ID, base), nil
				}
				if msg := badParents(c); msg != "" || len(c.ParentIDs) == 0 {
					return fmt.Sprintf("commit #%d %s: %s (every listed commit has its parents)", i, c.ID, msg), nil
				}
			}
			if len(list.Commits) > 0 && !strings.EqualFold(list.Commits[0].ID, head) {
				return fmt.Sprintf("first commit %s, want the head %s (newest first)", list.Commits[0].ID, head), nil
			}
			return "", nil
		}},
		{"ListStatuses", func(cfg sdk.Config) (string, error) {
			sts, err := r.ListStatuses(ctx, sdk.ListStatusesRequest{Config: cfg, CommitID: head})
			if err != nil {
				return "", err
			}
			for _, st := range sts {
				if st.Name == "" || st.State == sdk.StateUnspecified {
					return fmt.Sprintf("status %+v lacks a name or a state", st), nil
				}
			}
			return "", nil
		}},
	}
	garbage := []string{"", "null", "{", "[]", "{}", `{"sha":1,"commit":[]}`, `[null,1,"x",{}]`, "<html>Bad Gateway</html>"}
	for _, c := range checks {
		cfg, _ := k.config()
		k.ep.reset()
		msg, err := c.do(cfg)
		switch {
		case sdk.KindOf(err) == sdk.KindUnimplemented:
			continue
		case panicked(err):
			t.Errorf("%s: a panic escaped: %v", c.name, err)
		case err != nil && len(k.s.Fixtures) == 0:
			t.Errorf("%s is implemented (%v): give Suite.Fixtures the API's answers for Suite.Commit so the kit can check what it returns", c.name, err)
		case err != nil:
			t.Errorf("%s with Suite.Fixtures: %v (requests: %v)", c.name, err, k.ep.received())
		case msg != "":
			t.Errorf("%s: %s", c.name, msg)
		}
		for _, body := range garbage {
			k.ep.answerWith(&answer{status: 200, body: body})
			msg, err := c.do(cfg)
			switch {
			case panicked(err):
				t.Errorf("%s of an answer %q: a panic escaped: %v", c.name, body, err)
			case err == nil && msg != "":
				t.Errorf("%s of an answer %q: no error, and %s", c.name, body, msg)
			}
		}
	}
}

// writes returns the requests that may change something: all but GET, HEAD
// and OPTIONS.
func writes(reqs []Request) []Request {
	return slices.DeleteFunc(reqs, func(r Request) bool {
		return r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions
	})
}

func badParents(c sdk.Commit) string {
	for _, p := range c.ParentIDs {
		if !sdk.ValidCommitID(p) {
			return fmt.Sprintf("parent %q is not a commit id", p)
		}
	}
	return ""
}

func panicked(err error) bool { return err != nil && strings.Contains(err.Error(), "plugin panicked") }

// noLeak fails when an error carries a secret, or a panic escaped.
func (k *remote) noLeak(t *testing.T, name string, err error, secrets []string) {
	t.Helper()
	if err == nil {
		return
	}
	if panicked(err) {
		t.Errorf("%s: a panic escaped: %v", name, err)
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("%s: the error carries the config's credential: %v", name, sdk.Redact(err.Error(), s))
		}
	}
}

// sameUnderProtocol1 checks that NotifyCompletion does under protocol 1,
// where the host's repository reaches the plugin on a connection per call,
// what it does under the negotiated version, where it shares one.
func (k *remote) sameUnderProtocol1(ctx context.Context, t *testing.T) {
	old := StartProtocol(t, k.s.Binary, sdk.ProtocolVersion)
	type outcome struct {
		notified bool
		err      string
		requests int
	}
	notify := func(o sdk.Orchestrator) outcome {
		cfg, _ := k.config()
		k.ep.reset()
		res, err := o.NotifyCompletion(ctx, sdk.Completion{Config: cfg, CommitID: validCommit, Successful: true, Statuses: []sdk.Status{testStatus}}, hostRepository{})
		out := outcome{notified: res.Notified, requests: len(k.ep.received())}
		if err != nil {
			out.err = sdk.KindOf(err).String()
		}
		return out
	}
	if now, then := notify(k.c.Orchestrator), notify(old.Orchestrator); now != then {
		t.Errorf("NotifyCompletion under protocol %d: %+v; under protocol 1: %+v: the versions differ only in how the host's repository is reached", k.c.Protocol, now, then)
	}
}

// hostRepository is the repository the kit offers an orchestrator: a merge
// commit with GitHub's and Azure DevOps' merge messages, no pull requests.
type hostRepository struct{ sdk.UnimplementedRepository }

func (hostRepository) GetCommit(_ context.Context, req sdk.GetCommitRequest) (sdk.Commit, error) {
	if !sdk.ValidCommitID(req.CommitID) {
		return sdk.Commit{}, errors.New("plugintest: the orchestrator asked for an invalid commit id")
	}
	return sdk.Commit{ID: req.CommitID, ParentIDs: []string{strings.Repeat("b", 40)},
		Message: "Merge pull request #12 from org/deploy/4711/" + validCommit}, nil
}

func (hostRepository) FindPullRequests(context.Context, sdk.FindPullRequestsRequest) ([]sdk.PullRequest, error) {
	return nil, nil
}

func (hostRepository) ListPullRequests(context.Context, sdk.ListPullRequestsRequest) ([]sdk.PullRequest, error) {
	return nil, nil
}

// checkServedCapabilities fails when describe does not match the services
// the process serves: a described capability must answer ValidateConfig,
// one not described must not be served.
func checkServedCapabilities(ctx context.Context, t *testing.T, c *Client) {
	rpc, err := c.client.Client()
	if err != nil {
		t.Fatalf("plugintest: %v", err)
	}
	for _, capability := range []sdk.Capability{sdk.CapabilityOperator, sdk.CapabilityRepository, sdk.CapabilityOrchestrator} {
		caps, err := sdk.Dispense(rpc, []sdk.Capability{capability})
		if err != nil {
			t.Errorf("dispense %s: %v", capability, err)
			continue
		}
		var v interface {
			ValidateConfig(context.Context, sdk.Config) ([]sdk.FieldError, error)
		}
		switch {
		case caps.Operator != nil:
			v = caps.Operator
		case caps.Repository != nil:
			v = caps.Repository
		default:
			v = caps.Orchestrator
		}
		_, err = v.ValidateConfig(ctx, sdk.Config{Name: "plugintest"})
		served := sdk.KindOf(err) != sdk.KindUnimplemented
		switch described := c.Description.Has(capability); {
		case described && !served:
			t.Errorf("describe lists %s, but the plugin does not serve it: %v", capability, err)
		case !described && served:
			t.Errorf("the plugin serves %s, but describe does not list it: the host would never use it", capability)
		}
	}
}
