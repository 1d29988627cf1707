package azdoapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gitops-connector/gitops-connector/plugins/azdo/internal/entra"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"
)

// note records the status and the wait (Retry-After, or until a used-up
// rate limit resets; sdk.ClassifyHTTP) of the last response of one call. The library's errors keep the status code but not the headers, and
// a non-JSON error page loses even the status; the transport fills the
// note from the request's context.
type note struct {
	mu         sync.Mutex
	status     int
	retryAfter time.Duration
	// entra is set when the request carried an Entra ID access token
	// rather than a PAT.
	entra bool
}

type noteKey struct{}

// withNote returns a context whose requests record their responses in the
// returned note.
func withNote(ctx context.Context) (context.Context, *note) {
	n := &note{}
	return context.WithValue(ctx, noteKey{}, n), n
}

func (n *note) get() (int, time.Duration, bool) {
	if n == nil {
		return 0, 0, false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.status, n.retryAfter, n.entra
}

// noteTransport fills the note of a request's context. entra says that
// base authenticates with Entra ID.
type noteTransport struct {
	base  http.RoundTripper
	entra bool
}

func (t *noteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if n, ok := req.Context().Value(noteKey{}).(*note); ok && resp != nil {
		n.mu.Lock()
		n.status = resp.StatusCode
		_, n.retryAfter = sdk.ClassifyHTTP(resp)
		n.entra = t.entra
		n.mu.Unlock()
	}
	return resp, err
}

// What the credential needs, for the messages of refused calls.
const (
	// scopeHint: PAT scopes, named as in the Azure DevOps token dialog.
	scopeHint = "the personal access token needs the scopes Code (Read & status) and Build (Read & execute)"
	// entraHint: what a service principal or managed identity needs (see
	// the README's "Microsoft Entra ID").
	entraHint = "the service principal or managed identity must be a user of the organization (access level Basic) " +
		"with Contribute on the repositories and Queue builds on the pipeline; Azure DevOps Server takes no Entra ID tokens: give it a PAT"
)

// classify wraps the error of one call (what names it) with its kind for the
// host's retry policy:
//
//	429, 408, 5xx                          retryable, after Retry-After
//	timeout, connection failure            retryable
//	Entra ID refused an access token       permission denied (see entra.TokenError)
//	Entra ID gave no access token          retryable
//	401, 203 (a sign-in page)              permission denied: token missing, expired or revoked
//	403                                    permission denied: a scope is missing
//	404                                    not found: organization, project, repository or object
//	other 4xx, 3xx                         permanent
//	the caller's context ended             the context's error (the host retries)
//	an unreadable success                  unclassified (the host retries)
func classify(ctx context.Context, what string, err error, n *note) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w", what, ctxErr)
	}
	var te *entra.TokenError
	if errors.As(err, &te) {
		return te.Classified(what)
	}
	noted, retryAfter, byEntra := n.get()
	status := noted
	if code, ok := statusOf(err); ok {
		status = code
	}
	credential, hint := "personal access token", scopeHint
	if byEntra {
		credential, hint = "Microsoft Entra ID access token", entraHint
	}
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500:
		return sdk.Retryable(fmt.Errorf("%s: HTTP %d: %w", what, status, err), retryAfter)
	case status == http.StatusUnauthorized || status == http.StatusNonAuthoritativeInfo:
		return sdk.PermissionDenied(fmt.Errorf("%s: HTTP %d: Azure DevOps did not accept the %s: it is missing, expired or revoked, or the identity is not a user of the organization (%s): %w", what, status, credential, hint, err))
	case status == http.StatusForbidden:
		return sdk.PermissionDenied(fmt.Errorf("%s: HTTP 403: the %s lacks a permission: %s: %w", what, credential, hint, err))
	case status == http.StatusNotFound:
		return sdk.NotFound(fmt.Errorf("%s: HTTP 404: check azdoOrgUrl (organization and project) and the repository name; Azure DevOps also answers 404 when the token cannot see the project: %w", what, err))
	case status >= 400:
		return sdk.Permanent(fmt.Errorf("%s: HTTP %d: %w", what, status, err))
	case status >= 300:
		return sdk.Permanent(fmt.Errorf("%s: HTTP %d: unexpected redirect, not followed: is azdoOrgUrl the organization's address?", what, status))
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return sdk.Retryable(fmt.Errorf("%s: timed out: %w", what, err), 0)
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return sdk.Retryable(fmt.Errorf("%s: %w", what, err), 0)
	}
	var locErr *azuredevops.LocationIdNotRegisteredError
	var locErrV azuredevops.LocationIdNotRegisteredError
	var areaErr *azuredevops.ResourceAreaIdNotRegisteredError
	var areaErrV azuredevops.ResourceAreaIdNotRegisteredError
	if errors.As(err, &locErr) || errors.As(err, &locErrV) || errors.As(err, &areaErr) || errors.As(err, &areaErrV) {
		return sdk.Permanent(fmt.Errorf("%s: the server does not offer this API: is azdoOrgUrl an Azure DevOps organization, and the server recent enough? %w", what, err))
	}
	return fmt.Errorf("%s: %w", what, err)
}

// statusOf returns the HTTP status of a library error.
func statusOf(err error) (int, bool) {
	var p *azuredevops.WrappedError
	if errors.As(err, &p) && p.StatusCode != nil {
		return *p.StatusCode, true
	}
	var v azuredevops.WrappedError
	if errors.As(err, &v) && v.StatusCode != nil {
		return *v.StatusCode, true
	}
	return 0, false
}
