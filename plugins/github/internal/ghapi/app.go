package ghapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/gitops-connector/gitops-connector/plugins/github/internal/settings"
	"github.com/gitops-connector/gitops-connector/sdk"
	"github.com/google/go-github/v60/github"
	// ghinstallation's token options are of its own go-github version.
	tokenoptions "github.com/google/go-github/v88/github"
)

// NeedsApp is what a GitHub App needs, for the messages of failed token
// exchanges.
const NeedsApp = "install the app on the repository's owner with access to the repository " +
	"(Commit statuses: read and write, Contents: read; Contents: read and write on the repository that receives repository_dispatch)"

// AppError is a failure to authenticate as a GitHub App installation: the
// private key, the installation lookup or the token exchange. Status is
// GitHub's answer, 0 when there was none.
type AppError struct {
	Status int
	msg    string
	err    error
}

func (e *AppError) Error() string { return e.msg }
func (e *AppError) Unwrap() error { return e.err }

// Retryable reports whether the failure may pass: GitHub did not answer,
// failed (5xx) or rate-limited.
func (e *AppError) Retryable() bool {
	return e.Status == 0 || e.Status >= 500 || e.Status == http.StatusTooManyRequests
}

// appCredential is a parsed github_app credential.
type appCredential struct {
	appID, installationID int64
	privateKey            []byte
}

// parseApp reads a github_app credential. Errors name the values, never
// show them.
func parseApp(cred sdk.Credential) (appCredential, error) {
	var a appCredential
	var err error
	if a.appID, err = strconv.ParseInt(cred.Value("appId"), 10, 64); err != nil || a.appID <= 0 {
		return a, fmt.Errorf("the GitHub App id is not a positive number (githubAppID, GITHUB_APP_ID)")
	}
	if id := cred.Value("installationId"); id != "" {
		if a.installationID, err = strconv.ParseInt(id, 10, 64); err != nil || a.installationID <= 0 {
			return a, fmt.Errorf("the GitHub App installation id is not a positive number (githubAppInstallationID, GITHUB_APP_INSTALLATION_ID)")
		}
	}
	a.privateKey = []byte(cred.Value("privateKey"))
	if _, err := ghinstallation.NewAppsTransport(http.DefaultTransport, a.appID, a.privateKey); err != nil {
		return a, fmt.Errorf("the private key of GitHub App %d cannot be parsed: it must be the PEM file GitHub generated (githubAppPrivateKey, GITHUB_APP_PRIVATE_KEY)", a.appID)
	}
	return a, nil
}

// ValidateCredential reports a credential this plugin cannot use: a kind
// other than a token or a GitHub App, or an app whose values do not parse.
func ValidateCredential(cfg sdk.Config) []sdk.FieldError {
	switch cfg.Credential.Kind {
	case "", sdk.CredentialToken:
		return nil
	case sdk.CredentialGitHubApp:
		if _, err := parseApp(cfg.Credential); err != nil {
			return []sdk.FieldError{{Field: "credential", Message: err.Error()}}
		}
		return nil
	}
	return []sdk.FieldError{{Field: "credential", Message: fmt.Sprintf("a %s credential cannot authenticate to GitHub: give a personal access token or a GitHub App", cfg.Credential.Kind)}}
}

// CheckApp mints an installation token for a GitHub App credential, so
// that an app not installed on the repository or a refused exchange shows
// when the config is validated. A failure that may pass is not reported.
func (c *Clients) CheckApp(ctx context.Context, cfg sdk.Config, s settings.Settings) []sdk.FieldError {
	if cfg.Credential.Kind != sdk.CredentialGitHubApp {
		return nil
	}
	cached, err := c.get(cfg, s)
	if err == nil {
		_, err = cached.app.token(ctx)
	}
	var ae *AppError
	if err == nil || (errors.As(err, &ae) && ae.Retryable()) || ctx.Err() != nil {
		return nil
	}
	return []sdk.FieldError{{Field: "credential", Message: err.Error()}}
}

// appTransport authenticates as a GitHub App installation: it looks the
// installation up from the repository when the credential has no id,
// mints installation tokens (ghinstallation caches each until a minute
// before it expires) and, when GitHub refuses a token (401, e.g. the
// installation was suspended or the token revoked), mints a new one and
// sends the request once more.
type appTransport struct {
	apps        *ghinstallation.AppsTransport
	appID       int64
	owner, repo string
	baseURL     *url.URL

	mu   sync.Mutex
	inst *ghinstallation.Transport
	id   int64
}

func (c *Clients) appTransport(cfg sdk.Config, s settings.Settings, repo string) (*appTransport, error) {
	a, err := parseApp(cfg.Credential)
	if err != nil {
		return nil, sdk.PermissionDenied(err)
	}
	apps, err := ghinstallation.NewAppsTransport(c.transport, a.appID, a.privateKey)
	if err != nil {
		return nil, sdk.PermissionDenied(fmt.Errorf("the private key of GitHub App %d cannot be parsed", a.appID))
	}
	// ghinstallation wants the API root without the trailing slash:
	// https://api.github.com, https://<host>/api/v3 (GitHub Enterprise).
	apps.BaseURL = strings.TrimSuffix(s.BaseURL.String(), "/")
	return &appTransport{apps: apps, appID: a.appID, owner: s.Owner, repo: repo, baseURL: s.BaseURL, id: a.installationID}, nil
}

// installation returns the installation transport, looking the
// installation up first when needed.
func (t *appTransport) installation(ctx context.Context) (*ghinstallation.Transport, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inst != nil {
		return t.inst, nil
	}
	if t.id == 0 {
		client := github.NewClient(&http.Client{Transport: t.apps})
		client.BaseURL = t.baseURL
		client.UserAgent = userAgent
		inst, resp, err := client.Apps.FindRepositoryInstallation(ctx, t.owner, t.repo)
		if err != nil {
			status := 0
			if resp != nil {
				status = resp.StatusCode
			}
			what := fmt.Sprintf("GitHub App %d: cannot find its installation on %s/%s", t.appID, t.owner, t.repo)
			switch status {
			case http.StatusNotFound:
				return nil, &AppError{Status: status, msg: what + ": the app is not installed there (404): " + NeedsApp, err: err}
			case http.StatusUnauthorized:
				return nil, &AppError{Status: status, msg: what + ": GitHub refused the app's JWT (401): check the app id and that the private key is current", err: err}
			}
			return nil, &AppError{Status: status, msg: fmt.Sprintf("%s (%d)", what, status), err: err}
		}
		t.id = inst.GetID()
	}
	t.inst = t.newInstallation()
	return t.inst, nil
}

// newInstallation is a transport of the installation with no token yet.
// It asks for tokens with an empty JSON object: without options
// ghinstallation would send the body null, which the API does not take.
func (t *appTransport) newInstallation() *ghinstallation.Transport {
	inst := ghinstallation.NewFromAppsTransport(t.apps, t.id)
	inst.InstallationTokenOptions = &tokenoptions.InstallationTokenOptions{}
	return inst
}

// token returns a current installation token.
func (t *appTransport) token(ctx context.Context) (string, error) {
	inst, err := t.installation(ctx)
	if err != nil {
		return "", err
	}
	tok, err := inst.Token(ctx)
	return tok, t.exchangeError(err)
}

// renew drops the cached token of inst, so that the next call mints one.
func (t *appTransport) renew(inst *ghinstallation.Transport) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inst == inst {
		t.inst = t.newInstallation()
	}
}

// exchangeError turns a failed token exchange into an AppError.
func (t *appTransport) exchangeError(err error) error {
	var he *ghinstallation.HTTPError
	if err == nil || !errors.As(err, &he) {
		return err
	}
	status := 0
	if he.Response != nil {
		status = he.Response.StatusCode
		_, _ = io.Copy(io.Discard, io.LimitReader(he.Response.Body, 1<<16))
		he.Response.Body.Close()
	}
	what := fmt.Sprintf("GitHub App %d: GitHub refused an installation token for installation %d", t.appID, t.id)
	switch {
	case status == 0:
		return &AppError{msg: fmt.Sprintf("GitHub App %d: cannot reach GitHub for an installation token", t.appID), err: he.RootCause}
	case status == http.StatusNotFound || status == http.StatusForbidden:
		return &AppError{Status: status, msg: fmt.Sprintf("%s (%d): the installation was removed or suspended: %s", what, status, NeedsApp)}
	case status == http.StatusUnauthorized:
		return &AppError{Status: status, msg: what + " (401): check the app id and that the private key is current"}
	}
	return &AppError{Status: status, msg: fmt.Sprintf("%s (%d)", what, status)}
}

// RoundTrip sends req with an installation token, and once more with a
// new token when GitHub answers 401.
func (t *appTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	inst, err := t.installation(req.Context())
	if err != nil {
		return nil, err
	}
	retry := req
	if req.Body != nil && req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		retry = req.Clone(req.Context())
		retry.Body = body
	} else if req.Body != nil {
		retry = nil // cannot be sent twice
	}
	resp, err := inst.RoundTrip(req)
	if err != nil {
		return nil, t.exchangeError(err)
	}
	if resp.StatusCode != http.StatusUnauthorized || retry == nil {
		return resp, nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	t.renew(inst)
	if inst, err = t.installation(req.Context()); err != nil {
		return nil, err
	}
	resp, err = inst.RoundTrip(retry)
	return resp, t.exchangeError(err)
}
