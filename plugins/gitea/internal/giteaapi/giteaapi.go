// Package giteaapi makes the plugin's calls to the Gitea (or Forgejo) REST
// API: token authentication, escaped request paths, JSON in and out, and
// every failure classified for the host's retry policy by the SDK.
//
// It is a few lines over net/http rather than code.gitea.io/sdk/gitea: that
// client asks the server for its version before version-gated calls (the
// compare and dispatch endpoints), takes no context per call, and hides the
// response the SDK classifies.
package giteaapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// DefaultTimeout bounds every HTTP call, connection and body included. The
// host's context may end a call earlier.
const DefaultTimeout = 30 * time.Second

// maxAnswerBytes bounds the JSON body read of one answer.
const maxAnswerBytes = 32 << 20

// userAgent identifies the connector in the server's logs.
const userAgent = "gitops-connector-gitea-plugin"

// What a token needs for each kind of call, for the messages of 401, 403 and
// 404 answers.
const (
	NeedsRead     = "the read:repository scope"
	NeedsStatuses = "the write:repository scope (commit statuses)"
	NeedsDispatch = "the write:repository scope, and Actions enabled on the repository (workflow dispatch)"
)

// Client calls the API of any config; it holds no credential of its own.
type Client struct {
	http *http.Client
}

// New returns a client whose calls time out after timeout. Its connections
// are pooled across configs.
func New(timeout time.Duration) *Client {
	return &Client{http: &http.Client{Timeout: timeout, Transport: sdk.NewHTTPTransport()}}
}

// Call is one API call.
type Call struct {
	// API is the config's API root (settings.Settings.API); Token its
	// credential, sent as "Authorization: token <Token>".
	API   *url.URL
	Token string
	// Method and Path: the path's segments below the API root, each
	// escaped by sdk.JoinPath (which refuses "", "." and ".."), e.g.
	// {"repos", owner, repo, "statuses", sha}.
	Method string
	Path   []string
	Query  url.Values
	// Body is encoded as JSON when not nil.
	Body any
	// Action says what was attempted, for errors, e.g. `post status
	// "Health" on platform/manifests@0123abc`; Repo and RepoField name the
	// repository and the config field it came from; Needs the token's
	// permission (NeedsRead, ...).
	Action, Repo, RepoField, Needs string
	// Missing names what else a 404 may mean, if anything.
	Missing string
}

// Do sends a call and decodes a 2xx answer's JSON body into out (unless out
// is nil). It returns the answer's headers. Errors are classified: see
// sdk.CheckResponse and sdk.RequestError; the token never appears in them.
func (c *Client) Do(ctx context.Context, call Call, out any) (http.Header, error) {
	if call.Token == "" {
		return nil, sdk.PermissionDenied(fmt.Errorf("%s: the config has no Gitea token: set PAT (single instance) or the GitOpsConfig's secretRef", call.Action))
	}
	target, err := sdk.JoinPath(call.API.String(), call.Path...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", call.Action, err)
	}
	if len(call.Query) > 0 {
		target += "?" + call.Query.Encode()
	}
	var body io.Reader
	if call.Body != nil {
		b, err := json.Marshal(call.Body)
		if err != nil {
			return nil, sdk.Permanent(fmt.Errorf("%s: encode the request: %w", call.Action, err))
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, call.Method, target, body)
	if err != nil {
		return nil, sdk.Permanent(fmt.Errorf("%s: %w", call.Action, err))
	}
	req.Header.Set("Authorization", "token "+call.Token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", call.Action, sdk.RequestError(err, call.Token))
	}
	defer resp.Body.Close()
	if err := sdk.CheckResponse(resp, call.Token); err != nil {
		return nil, fmt.Errorf("%s: %s%w", call.Action, hint(err, call), err)
	}
	if out != nil {
		if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswerBytes)).Decode(out); err != nil {
			// A proxy's page instead of the API: may pass, left to the
			// host's backoff.
			return nil, fmt.Errorf("%s: read the answer of %s %s: %w", call.Action, call.Method, req.URL.Redacted(), err)
		}
	}
	return resp.Header, nil
}

// hint says what to check after an answer of the kind err has.
func hint(err error, c Call) string {
	switch sdk.KindOf(err) {
	case sdk.KindPermissionDenied:
		return fmt.Sprintf("check that the token is valid, not expired, and has %s on %s: ", c.Needs, c.Repo)
	case sdk.KindNotFound:
		return fmt.Sprintf("check that repository %s (giteaOwner and %s) exists on giteaUrl and that the token can see it (%s)%s: ", c.Repo, c.RepoField, c.Needs, c.Missing)
	}
	return ""
}
