// Command gitrepo is a small repository plugin of a Gitea-like API, used to
// prove the conformance kit: correct as it is, and broken in one way each
// when PLUGINTEST_FAULT names a fault (see faults.go), so that the SDK's
// tests can show the kit fails it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/gitops-connector/gitops-connector/sdk"
)

var client = &http.Client{Transport: sdk.NewHTTPTransport()}

type repository struct{ sdk.UnimplementedRepository }

func (repository) ValidateConfig(_ context.Context, cfg sdk.Config) ([]sdk.FieldError, error) {
	if _, err := sdk.JoinPath(cfg.Setting("apiUrl")); err != nil {
		return []sdk.FieldError{{Field: "apiUrl", Message: "must be an http(s) URL"}}, nil
	}
	return nil, nil
}

// call sends one request to {apiUrl}/repos/{owner}/{repo}/{path...} and
// decodes the answer into out (when not nil).
func call(ctx context.Context, cfg sdk.Config, method string, in, out any, path ...string) error {
	u, err := sdk.JoinPath(cfg.Setting("apiUrl"), append([]string{"repos", cfg.Setting("owner"), cfg.Setting("repo")}, path...)...)
	if err != nil {
		return err
	}
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return sdk.InvalidInput(err)
	}
	req.Header.Set("Authorization", "token "+cfg.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return sdk.RequestError(err, cfg.Token)
	}
	if err := sdk.CheckResponse(resp, cfg.Token); err != nil {
		return classify(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return sdk.Permanent(fmt.Errorf("%s %s: unreadable answer: %w", method, u, err))
		}
	}
	return nil
}

var states = map[sdk.State]string{sdk.StatePending: "pending", sdk.StateSucceeded: "success", sdk.StateFailed: "failure", sdk.StateError: "error", sdk.StateNotApplicable: "warning"}

func (repository) PostStatus(ctx context.Context, req sdk.PostStatusRequest) error {
	if err := once(req); err != nil {
		return err
	}
	return call(ctx, req.Config, http.MethodPost, map[string]string{
		"context": req.Status.Name, "state": states[req.Status.State], "description": req.Status.Description,
	}, nil, "statuses", req.CommitID)
}

func (repository) GetCommit(ctx context.Context, req sdk.GetCommitRequest) (sdk.Commit, error) {
	var c struct {
		SHA     string `json:"sha"`
		Commit  struct{ Message string }
		Parents []struct{ SHA string }
	}
	if err := call(ctx, req.Config, http.MethodGet, nil, &c, "git", "commits", req.CommitID); err != nil {
		return sdk.Commit{}, err
	}
	if !sdk.ValidCommitID(c.SHA) {
		return sdk.Commit{}, sdk.Permanent(fmt.Errorf("the answer names commit %q", c.SHA))
	}
	out := sdk.Commit{ID: c.SHA, Message: c.Commit.Message}
	for _, p := range c.Parents {
		out.ParentIDs = append(out.ParentIDs, p.SHA)
	}
	return out, nil
}

func main() {
	p := sdk.Plugin{Name: "gitrepo", Types: []string{"GITREPO"}, Repository: repository{}}
	if fault := os.Getenv("PLUGINTEST_FAULT"); fault == "no-commit-check" && len(os.Args) < 2 {
		serveUnchecked(p.Repository)
		return
	}
	sdk.Serve(p)
}
