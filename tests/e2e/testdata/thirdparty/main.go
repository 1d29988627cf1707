// Command webhook is a third-party-style plugin, built only against the
// gitops-connector SDK: type WEBHOOK posts commit statuses and completion
// notices as JSON to the URL in the config's webhookUrl setting.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/gitops-connector/gitops-connector/sdk"
)

var (
	hexID  = regexp.MustCompile(`^[0-9a-f]{7,64}$`)
	client = &http.Client{Timeout: 10 * time.Second}
)

func validate(cfg sdk.Config) []sdk.FieldError {
	u, err := url.Parse(cfg.Setting("webhookUrl"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return []sdk.FieldError{{Field: "webhookUrl", Message: "must be an http(s) URL"}}
	}
	return nil
}

func send(ctx context.Context, cfg sdk.Config, path string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return sdk.Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.Setting("webhookUrl")+path, bytes.NewReader(body))
	if err != nil {
		return sdk.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if cfg.Token != "" { // the token of this plugin's integration only
		req.Header.Set("Authorization", "Bearer "+cfg.Token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return sdk.Retryable(fmt.Errorf("post %s: %w", path, err), 0)
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 500:
		return sdk.Retryable(fmt.Errorf("post %s: %d", path, resp.StatusCode), 0)
	case resp.StatusCode >= 400:
		return sdk.Permanent(fmt.Errorf("post %s: %d", path, resp.StatusCode))
	}
	return nil
}

type repository struct{ sdk.UnimplementedRepository }

func (repository) ValidateConfig(_ context.Context, cfg sdk.Config) ([]sdk.FieldError, error) {
	return validate(cfg), nil
}

func (repository) PostStatus(ctx context.Context, req sdk.PostStatusRequest) error {
	if !hexID.MatchString(req.CommitID) {
		return sdk.InvalidInputf("commit id %q is not a hex id", req.CommitID)
	}
	return send(ctx, req.Config, "/statuses", map[string]string{
		"commit": req.CommitID, "context": req.Status.Name, "state": req.Status.State.String(), "description": req.Status.Description,
	})
}

// GetCommit tells the webhook it read the commit, then answers a fixed
// message.
func (repository) GetCommit(ctx context.Context, req sdk.GetCommitRequest) (sdk.Commit, error) {
	if err := send(ctx, req.Config, "/reads", map[string]string{"commit": req.CommitID}); err != nil {
		return sdk.Commit{}, err
	}
	return sdk.Commit{ID: req.CommitID, Message: "deployed by the webhook plugin"}, nil
}

type orchestrator struct{ sdk.UnimplementedOrchestrator }

func (orchestrator) ValidateConfig(_ context.Context, cfg sdk.Config) ([]sdk.FieldError, error) {
	return validate(cfg), nil
}

// NotifyCompletion reads the commit through the host's repository, then
// posts the outcome.
func (orchestrator) NotifyCompletion(ctx context.Context, c sdk.Completion, repo sdk.Repository) (sdk.NotifyResult, error) {
	if !hexID.MatchString(c.CommitID) {
		return sdk.NotifyResult{}, sdk.InvalidInputf("commit id %q is not a hex id", c.CommitID)
	}
	cm, err := repo.GetCommit(ctx, sdk.GetCommitRequest{Config: c.Config, CommitID: c.CommitID})
	if err != nil {
		return sdk.NotifyResult{}, err
	}
	err = send(ctx, c.Config, "/completions", map[string]any{
		"commit": c.CommitID, "successful": c.Successful, "message": cm.Message, "config": c.Config.Name,
	})
	return sdk.NotifyResult{Notified: err == nil}, err
}

func main() {
	sdk.Serve(sdk.Plugin{
		Name:         "webhook",
		Version:      "0.1.0",
		Types:        []string{"WEBHOOK"},
		Repository:   repository{},
		Orchestrator: orchestrator{},
	})
}
