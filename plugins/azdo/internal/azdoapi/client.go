// Package azdoapi is the plugin's Azure DevOps client: commit statuses,
// commits and pull requests through the azure-devops-go-api library's Git
// client, and the pipeline calls the library has no function for (read a
// plan, read a build's timeline, post a plan event) through the library's
// own request functions, so authentication, headers and error documents are
// handled the same way everywhere.
//
// Every request has a timeout, redirects are not followed (the PAT goes to
// the configured organization only), and every error is classified for the
// host's retry policy (see classify).
package azdoapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gitops-connector/gitops-connector/plugins/azdo/internal/config"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/git"
)

// DefaultTimeout bounds every HTTP request, response body included.
const DefaultTimeout = 30 * time.Second

// maxCachedClients bounds the cache: old revisions of changed configs are
// evicted first.
const maxCachedClients = 64

// Clients caches one Client per config revision, so the library's discovery
// requests are reused across calls; all its clients share one HTTP
// transport, so connections are pooled across configs and revisions. The
// zero value is ready to use.
type Clients struct {
	// Timeout of every HTTP request; zero means DefaultTimeout.
	Timeout time.Duration

	mu    sync.Mutex
	byKey map[string]*Client
	order []string
	// transport is shared by the clients: one pool of connections.
	transport http.RoundTripper
}

// For returns the client of a config whose settings were parsed into s.
func (cs *Clients) For(cfg sdk.Config, s config.Settings) *Client {
	key := cfg.Revision
	if key == "" {
		h := sha256.Sum256([]byte(s.OrganizationURL + "\x00" + s.Project + "\x00" + s.Token))
		key = "hash:" + hex.EncodeToString(h[:])
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c, ok := cs.byKey[key]; ok {
		return c
	}
	if cs.byKey == nil {
		cs.byKey = map[string]*Client{}
	}
	if len(cs.order) >= maxCachedClients {
		delete(cs.byKey, cs.order[0])
		cs.order = cs.order[1:]
	}
	timeout := cs.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if cs.transport == nil {
		cs.transport = sdk.NewHTTPTransport()
	}
	c := newClient(s.OrganizationURL, s.Project, s.Token, timeout, cs.transport)
	cs.byKey[key] = c
	cs.order = append(cs.order, key)
	return c
}

// Client talks to one Azure DevOps project with one PAT.
type Client struct {
	conn    *azuredevops.Connection
	http    *http.Client
	orgURL  string
	project string

	mu  sync.Mutex
	git *git.ClientImpl
}

func newClient(orgURL, project, token string, timeout time.Duration, transport http.RoundTripper) *Client {
	conn := azuredevops.NewPatConnection(orgURL, token)
	conn.UserAgent = "gitops-connector-azdo"
	return &Client{
		conn:    conn,
		orgURL:  strings.TrimRight(orgURL, "/"),
		project: project,
		http: &http.Client{
			Timeout:   timeout,
			Transport: &noteTransport{base: transport},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
}

// api returns a library client for requests under baseURL that uses the
// plugin's HTTP client.
func (c *Client) api(baseURL string) *azuredevops.Client {
	return azuredevops.NewClientWithOptions(c.conn, baseURL, azuredevops.WithHTTPClient(c.http))
}

// gitClient returns the library's Git client, resolving the Git resource
// area's URL on first use (GET {organization}/_apis/ResourceAreas; an
// on-premises server answers an empty list and serves every area at the
// collection URL), as the library's git.NewClient does, but with the
// plugin's HTTP client.
func (c *Client) gitClient(ctx context.Context) (*git.ClientImpl, error) {
	c.mu.Lock()
	g := c.git
	c.mu.Unlock()
	if g != nil {
		return g, nil
	}
	ctx, n := withNote(ctx)
	areas, err := c.api(c.conn.BaseUrl).GetResourceAreas(ctx)
	if err != nil {
		return nil, classify(ctx, "discover the Git API of azdoOrgUrl", err, n)
	}
	base := c.conn.BaseUrl
	if areas != nil && len(*areas) > 0 {
		found := false
		for _, a := range *areas {
			if a.Id != nil && *a.Id == git.ResourceAreaId && a.LocationUrl != nil && *a.LocationUrl != "" {
				base, found = *a.LocationUrl, true
			}
		}
		if !found {
			return nil, sdk.Permanent(errors.New("discover the Git API of azdoOrgUrl: the server offers no Git API: is azdoOrgUrl an Azure DevOps organization?"))
		}
	}
	g = &git.ClientImpl{Client: *c.api(base)}
	c.mu.Lock()
	c.git = g
	c.mu.Unlock()
	return g, nil
}
