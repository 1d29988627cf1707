// Package ghapi builds the GitHub API clients of configs, validates the ids
// that go into request paths, and classifies GitHub's errors for the host's
// retry policy.
package ghapi

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
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
	app      *appTransport // nil unless the credential is a GitHub App
}

// NewClients returns a client cache whose HTTP calls time out after timeout.
func NewClients(timeout time.Duration) *Clients {
	return &Clients{timeout: timeout, transport: sdk.NewHTTPTransport(), cache: map[string]cachedClient{}}
}

// For returns the client of a config whose settings parsed, authenticated
// with the config's token or as its GitHub App's installation (looked up
// from the manifests repository, else the dispatch repository, when the
// credential names none). It refuses a config without a credential: GitHub
// would answer anonymous calls with 401 or, for private repositories, a
// misleading 404.
func (c *Clients) For(cfg sdk.Config, s settings.Settings) (*github.Client, error) {
	cached, err := c.get(cfg, s)
	return cached.client, err
}

// get returns the cached client of cfg, or builds it. Clients are cached
// per config and credential: the repository and the orchestrator of one
// config may have different credentials.
func (c *Clients) get(cfg sdk.Config, s settings.Settings) (cachedClient, error) {
	key := cfg.Namespace + "/" + cfg.Name + "/" + credentialKey(cfg)
	if cfg.Revision != "" {
		c.mu.Lock()
		cached, ok := c.cache[key]
		c.mu.Unlock()
		if ok && cached.revision == cfg.Revision {
			return cached, nil
		}
	}
	built := cachedClient{revision: cfg.Revision}
	var rt http.RoundTripper = c.transport
	switch cfg.Credential.Kind {
	case sdk.CredentialGitHubApp:
		repo := s.ManifestsRepo
		if repo == "" {
			repo = s.GitOpsRepo
		}
		app, err := c.appTransport(cfg, s, repo)
		if err != nil {
			return cachedClient{}, err
		}
		rt, built.app = app, app
	case "", sdk.CredentialToken:
		if cfg.Token == "" {
			return cachedClient{}, sdk.PermissionDenied(fmt.Errorf("config %q has no GitHub credential: set PAT or GITHUB_APP_ID (single instance), or the GitOpsConfig's secretRef", cfg.Name))
		}
	default:
		return cachedClient{}, sdk.PermissionDenied(errors.New(ValidateCredential(cfg)[0].Message))
	}
	built.client = github.NewClient(&http.Client{Timeout: c.timeout, Transport: rt})
	if built.app == nil {
		built.client = built.client.WithAuthToken(cfg.Token)
	}
	built.client.BaseURL = s.BaseURL
	built.client.UserAgent = userAgent
	if cfg.Revision != "" {
		c.mu.Lock()
		c.cache[key] = built
		c.mu.Unlock()
	}
	return built, nil
}

// credentialKey tells credentials apart without keeping them.
func credentialKey(cfg sdk.Config) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", cfg.Credential.Kind, cfg.Token)
	keys := make([]string, 0, len(cfg.Credential.Values))
	for k := range cfg.Credential.Values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\x00", k, cfg.Credential.Values[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
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
