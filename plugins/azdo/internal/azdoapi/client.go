// Package azdoapi is the plugin's Azure DevOps client: commit statuses,
// commits and pull requests through the azure-devops-go-api library's Git
// client, and the pipeline calls the library has no function for (read a
// plan, read a build's timeline, post a plan event) through the library's
// own request functions, so authentication, headers and error documents are
// handled the same way everywhere.
//
// A client authenticates with a personal access token or, through package
// entra, with a Microsoft Entra ID identity. Every request has a timeout,
// redirects are not followed (the credential goes to the configured
// organization only), and every error is classified for the host's retry
// policy (see classify).
package azdoapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gitops-connector/gitops-connector/plugins/azdo/internal/config"
	"github.com/gitops-connector/gitops-connector/plugins/azdo/internal/entra"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/git"
)

// DefaultTimeout bounds every HTTP request, response body included.
const DefaultTimeout = 30 * time.Second

// maxCachedClients bounds the cache: old revisions of changed configs are
// evicted first.
const maxCachedClients = 64

// Clients caches one Client per config revision and credential (the
// repository and the orchestrator of one config may have different
// credentials), so the library's discovery requests and Microsoft Entra
// ID's access tokens are reused across calls; a changed credential makes a
// new client. All its clients share one HTTP transport, so connections are
// pooled across configs and revisions. The zero value is ready to use.
type Clients struct {
	// Timeout of every HTTP request; zero means DefaultTimeout.
	Timeout time.Duration
	// Transport carries the requests to Azure DevOps and to Entra ID; nil
	// means sdk.NewHTTPTransport(). Tests give one that trusts their
	// fake's certificate.
	Transport http.RoundTripper

	mu    sync.Mutex
	byKey map[string]*Client
	order []string
}

// For returns the client of a config whose settings were parsed into s.
// Its error (a credential that cannot be built) is permission denied.
func (cs *Clients) For(cfg sdk.Config, s config.Settings) (*Client, error) {
	key := cfg.Revision + "\x00" + credentialKey(s)
	if cfg.Revision == "" {
		key = "org:" + s.OrganizationURL + "\x00" + s.Project + "\x00" + credentialKey(s)
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c, ok := cs.byKey[key]; ok {
		return c, nil
	}
	timeout := cs.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if cs.Transport == nil {
		cs.Transport = sdk.NewHTTPTransport()
	}
	c, err := newClient(s, timeout, cs.Transport)
	if err != nil {
		return nil, err
	}
	if cs.byKey == nil {
		cs.byKey = map[string]*Client{}
	}
	if len(cs.order) >= maxCachedClients {
		delete(cs.byKey, cs.order[0])
		cs.order = cs.order[1:]
	}
	cs.byKey[key] = c
	cs.order = append(cs.order, key)
	return c, nil
}

// credentialKey tells credentials apart without keeping them.
func credentialKey(s config.Settings) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", s.Credential.Kind, s.Token)
	keys := slices.Sorted(maps.Keys(s.Credential.Values))
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\x00", k, s.Credential.Values[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Client talks to one Azure DevOps project with one credential: a PAT
// (Basic authentication) or a Microsoft Entra ID identity (a Bearer access
// token on every request).
type Client struct {
	conn    *azuredevops.Connection
	http    *http.Client
	orgURL  string
	project string
	// entra is the Entra ID identity; nil with a PAT.
	entra *entra.Credential

	mu  sync.Mutex
	git *git.ClientImpl
}

func newClient(s config.Settings, timeout time.Duration, transport http.RoundTripper) (*Client, error) {
	c := &Client{orgURL: strings.TrimRight(s.OrganizationURL, "/"), project: s.Project}
	note := &noteTransport{base: transport}
	if entra.Kinds(s.Credential.Kind) {
		cred, err := entra.New(s.Credential, &http.Client{Timeout: timeout, Transport: transport})
		if err != nil {
			return nil, sdk.PermissionDenied(err)
		}
		c.entra = cred
		c.conn = azuredevops.NewAnonymousConnection(s.OrganizationURL)
		note.base, note.entra = &entra.Transport{Cred: cred, Base: transport}, true
	} else {
		c.conn = azuredevops.NewPatConnection(s.OrganizationURL, s.Token)
	}
	c.conn.UserAgent = "gitops-connector-azdo"
	c.http = &http.Client{
		Timeout:   timeout,
		Transport: note,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return c, nil
}

// CheckCredential reports a credential that cannot work: one that cannot
// be built (a certificate that does not parse), or an Entra ID identity
// whose access token Entra ID refuses. A failure that may pass is not
// reported. A PAT is not checked here: the first call tells.
func (cs *Clients) CheckCredential(ctx context.Context, cfg sdk.Config, s config.Settings) []sdk.FieldError {
	if !entra.Kinds(s.Credential.Kind) {
		return nil
	}
	c, err := cs.For(cfg, s)
	if err == nil {
		_, err = c.entra.Token(ctx)
		var te *entra.TokenError
		if !errors.As(err, &te) || !te.Refused {
			return nil
		}
	}
	return []sdk.FieldError{{Field: config.FieldCredential, Message: err.Error()}}
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
