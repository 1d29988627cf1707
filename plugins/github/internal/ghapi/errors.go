package ghapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/google/go-github/v60/github"
)

// What a token needs for each kind of call, for the messages of 401, 403 and
// 404 answers.
const (
	NeedsStatuses = "the repo:status scope (repo for a private repository) on a classic token, or Commit statuses: read and write on a fine-grained token"
	NeedsContents = "the repo scope for a private repository on a classic token, or Contents: read on a fine-grained token"
	NeedsPulls    = "the repo scope for a private repository on a classic token, or Pull requests: read on a fine-grained token"
	NeedsDispatch = "the repo scope on a classic token, or Contents: read and write on a fine-grained token (repository_dispatch)"
)

// defaultRateLimitWait is how long GitHub asks clients to wait after a
// secondary rate limit or a 429 that says nothing more.
const defaultRateLimitWait = time.Minute

// Call describes one API call for the messages of its errors.
type Call struct {
	// Action says what was attempted, e.g. `post status "Health" on
	// acme/manifests@0123456`.
	Action string
	// Repo is the repository as owner/name; RepoField the config field that
	// names it.
	Repo, RepoField string
	// Needs is the token permission the call needs (NeedsStatuses, ...).
	Needs string
	// Unprocessable names the usual cause of a 422 answer, if any.
	Unprocessable string
}

// Classify wraps an error of go-github for the host's retry policy:
//
//   - 5xx, timeouts, connection failures: retryable (after Retry-After when
//     GitHub sends it);
//   - primary rate limit (403/429 with X-RateLimit-Remaining: 0): retryable
//     after Retry-After, else when X-RateLimit-Reset is reached;
//   - secondary rate limit, 403 with Retry-After, 429: retryable after
//     Retry-After, else after a minute;
//   - 401 and other 403: permission denied; 404: not found; 422 and other
//     4xx: permanent; each with a message that says what to check.
//
// The token never appears in the message: every occurrence is redacted, in
// case an answer or a proxy echoes it.
func Classify(err error, c Call, token string) error {
	if err == nil {
		return nil
	}
	var (
		app   *AppError
		limit *github.RateLimitError
		abuse *github.AbuseRateLimitError
		resp  *github.ErrorResponse
		uerr  *url.Error
	)
	switch {
	case errors.As(err, &app) && app.Retryable():
		return retryable(0, token, "%s: %w", c.Action, app)
	case errors.As(err, &app):
		return kind(sdk.PermissionDenied, token, "%s: %w", c.Action, app)
	case errors.As(err, &limit):
		var after time.Duration
		if limit.Response != nil {
			after = sdk.RetryAfter(limit.Response.Header.Get("Retry-After"), time.Now())
		}
		if after <= 0 {
			after = max(0, time.Until(limit.Rate.Reset.Time))
		}
		return retryable(after, token, "%s: the token's GitHub API rate limit is used up until %s: %w",
			c.Action, limit.Rate.Reset.UTC().Format(time.RFC3339), err)
	case errors.As(err, &abuse):
		after := defaultRateLimitWait
		if abuse.RetryAfter != nil && *abuse.RetryAfter > 0 {
			after = *abuse.RetryAfter
		}
		return retryable(after, token, "%s: GitHub's secondary rate limit was hit, retry after %s: %w", c.Action, after, err)
	case errors.As(err, &resp) && resp.Response != nil:
		return classifyAnswer(resp.Response, err, c, token)
	case isTimeout(err):
		return retryable(0, token, "%s: GitHub did not answer in time: %w", c.Action, err)
	case errors.Is(err, context.Canceled):
		return retryable(0, token, "%s: canceled: %w", c.Action, err)
	case errors.As(err, &uerr):
		return retryable(0, token, "%s: cannot reach GitHub: %w", c.Action, err)
	}
	return sdk.RedactError(fmt.Errorf("%s: %w", c.Action, err), token)
}

// classifyAnswer classifies an error answer that is not a rate limit
// go-github recognized: the SDK's classification, with GitHub's own
// rate-limit rules (a minute when a limited answer says nothing more; a 403
// whose message says "rate limit") and messages that say what to check.
func classifyAnswer(r *http.Response, err error, c Call, token string) error {
	code := r.StatusCode
	k, after := sdk.ClassifyHTTP(r)
	limited := code == http.StatusTooManyRequests || code == http.StatusForbidden
	if code == http.StatusForbidden && k != sdk.KindRetryable && strings.Contains(strings.ToLower(errorMessage(err)), "rate limit") {
		k = sdk.KindRetryable
	}
	if k == sdk.KindRetryable && limited && after <= 0 {
		after = defaultRateLimitWait
	}
	switch {
	case k == sdk.KindRetryable && limited:
		return retryable(after, token, "%s: GitHub rate-limits the token (%d), retry after %s: %w", c.Action, code, after, err)
	case k == sdk.KindRetryable:
		return retryable(after, token, "%s: GitHub failed (%d): %w", c.Action, code, err)
	case code == http.StatusUnauthorized:
		return kind(sdk.PermissionDenied, token, "%s: GitHub refused the token (401): check that the PAT is valid and not expired or revoked: %w", c.Action, err)
	case code == http.StatusForbidden:
		return kind(sdk.PermissionDenied, token, "%s: GitHub forbids it (403): the token needs %s, and SSO authorization if the organization enforces SAML: %w", c.Action, c.Needs, err)
	case code == http.StatusNotFound:
		return kind(sdk.NotFound, token, "%s: not found (404): check that repository %s (%s, owner from gitHubOrgUrl) exists and that the token can see it; it needs %s: %w", c.Action, c.Repo, c.RepoField, c.Needs, err)
	case code == http.StatusUnprocessableEntity && c.Unprocessable != "":
		return kind(sdk.Permanent, token, "%s: GitHub refused the request (422): %s: %w", c.Action, c.Unprocessable, err)
	}
	return kind(sdk.Permanent, token, "%s: GitHub refused the request (%d): %w", c.Action, code, err)
}

func errorMessage(err error) string {
	var resp *github.ErrorResponse
	if errors.As(err, &resp) {
		return resp.Message
	}
	return ""
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func retryable(after time.Duration, token, format string, args ...any) error {
	return sdk.Retryable(sdk.RedactError(fmt.Errorf(format, args...), token), after)
}

func kind(mark func(error) error, token, format string, args ...any) error {
	return mark(sdk.RedactError(fmt.Errorf(format, args...), token))
}
