// Package ghapi builds the GitHub API clients of configs, validates the ids
// that go into request paths, and classifies GitHub's errors for the host's
// retry policy.
package ghapi

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gitops-connector/gitops-connector/plugins/github/internal/settings"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/google/go-github/v60/github"
)

// DefaultTimeout bounds every HTTP call to GitHub, connection and body
// included. The host's context may end a call earlier.
const DefaultTimeout = 30 * time.Second

// userAgent identifies the connector in GitHub's audit logs.
const userAgent = "gitops-connector-github-plugin"

// Clients hands out one go-github client per config, rebuilt when the
// config's revision changes (new token, new URL). All clients share one HTTP
// transport, so connections are pooled across configs.
//
// A client remembers the rate limits GitHub reported: until a primary limit
// resets, or for the Retry-After of a secondary limit, its calls fail at once
// with a rate-limit error (classified retryable with the remaining wait)
// instead of sending requests GitHub would refuse.
type Clients struct {
	timeout   time.Duration
	transport http.RoundTripper

	mu    sync.Mutex
	cache map[string]cachedClient // by namespace/name of the config
}

type cachedClient struct {
	revision string
	client   *github.Client
}

// NewClients returns a client cache whose HTTP calls time out after timeout.
func NewClients(timeout time.Duration) *Clients {
	return &Clients{timeout: timeout, transport: sdk.NewHTTPTransport(), cache: map[string]cachedClient{}}
}

// For returns the client of a config whose settings parsed. It refuses a
// config without a token: GitHub would answer anonymous calls with 401 or,
// for private repositories, a misleading 404.
func (c *Clients) For(cfg sdk.Config, s settings.Settings) (*github.Client, error) {
	if cfg.Token == "" {
		return nil, sdk.PermissionDenied(fmt.Errorf("config %q has no GitHub token: set PAT (single instance) or the GitOpsConfig's secretRef", cfg.Name))
	}
	key := cfg.Namespace + "/" + cfg.Name
	if cfg.Revision != "" {
		c.mu.Lock()
		cached, ok := c.cache[key]
		c.mu.Unlock()
		if ok && cached.revision == cfg.Revision {
			return cached.client, nil
		}
	}
	client := github.NewClient(&http.Client{Timeout: c.timeout, Transport: c.transport}).WithAuthToken(cfg.Token)
	client.BaseURL = s.BaseURL
	client.UserAgent = userAgent
	if cfg.Revision != "" {
		c.mu.Lock()
		c.cache[key] = cachedClient{revision: cfg.Revision, client: client}
		c.mu.Unlock()
	}
	return client, nil
}

// CommitID checks a commit id with sdk.CheckCommitID and returns it escaped
// for a request path. The SDK already refuses requests with another id;
// this keeps go-github, which pastes most path parameters unescaped, safe
// for ids from any other source too: a revision such as
// "main@sha1:../../other-repo/commits/<sha>" would address another
// repository.
func CommitID(id string) (string, error) {
	if err := sdk.CheckCommitID("commit id", id); err != nil {
		return "", err
	}
	return url.PathEscape(id), nil
}
