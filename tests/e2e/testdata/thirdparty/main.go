// Command webhook is a complete third-party plugin, built only against the
// gitops-connector SDK: type WEBHOOK posts commit statuses to
// {webhookUrl}/statuses, reads commits from {webhookUrl}/commits/{id}, and
// tells {webhookUrl}/completions when a deployment finished.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// client pools connections for the host's concurrent calls.
var client = &http.Client{Timeout: 30 * time.Second, Transport: sdk.NewHTTPTransport()}

func validate(cfg sdk.Config) []sdk.FieldError {
	if _, err := sdk.JoinPath(cfg.Setting("webhookUrl")); err != nil {
		return []sdk.FieldError{{Field: "webhookUrl", Message: "must be an http(s) URL"}}
	}
	return nil
}

// call sends in (if not nil) as JSON to {webhookUrl}/{path...} and decodes
// the answer into out (if not nil). The SDK classifies every failure.
func call(ctx context.Context, cfg sdk.Config, method string, in, out any, path ...string) error {
	u, err := sdk.JoinPath(cfg.Setting("webhookUrl"), path...) // escapes every segment
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
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+cfg.Token) // this integration's token only
	resp, err := client.Do(req)
	if err != nil {
		return sdk.RequestError(err) // time-outs, refused connections: retryable
	}
	if err := sdk.CheckResponse(resp); err != nil {
		return err // 429/5xx retryable with Retry-After, 4xx permanent; no token in it
	}
	defer resp.Body.Close()
	if out != nil && json.NewDecoder(resp.Body).Decode(out) != nil {
		return sdk.Permanent(fmt.Errorf("%s %s: the answer is not the JSON expected", method, u))
	}
	return nil
}

type repository struct{ sdk.UnimplementedRepository }

func (repository) ValidateConfig(_ context.Context, cfg sdk.Config) ([]sdk.FieldError, error) {
	return validate(cfg), nil
}

// PostStatus is safe to repeat: the webhook keeps the latest state per
// commit and context. The SDK has checked req.CommitID.
func (repository) PostStatus(ctx context.Context, req sdk.PostStatusRequest) error {
	return call(ctx, req.Config, http.MethodPost, map[string]string{
		"commit": req.CommitID, "context": req.Status.Name, "state": req.Status.State.String(), "description": req.Status.Description,
	}, nil, "statuses")
}

func (repository) GetCommit(ctx context.Context, req sdk.GetCommitRequest) (sdk.Commit, error) {
	var c sdk.Commit // the webhook answers {"ID", "Message", "ParentIDs"}
	if err := call(ctx, req.Config, http.MethodGet, nil, &c, "commits", req.CommitID); err != nil {
		return sdk.Commit{}, err
	}
	if c.ID != req.CommitID {
		return sdk.Commit{}, sdk.Permanent(fmt.Errorf("asked for commit %s, the webhook answered %.80q", req.CommitID, c.ID))
	}
	return c, nil
}

type orchestrator struct{ sdk.UnimplementedOrchestrator }

func (orchestrator) ValidateConfig(_ context.Context, cfg sdk.Config) ([]sdk.FieldError, error) {
	return validate(cfg), nil
}

// NotifyCompletion reads the commit through the host's repository, then
// posts the outcome.
func (orchestrator) NotifyCompletion(ctx context.Context, c sdk.Completion, repo sdk.Repository) (sdk.NotifyResult, error) {
	cm, err := repo.GetCommit(ctx, sdk.GetCommitRequest{Config: c.Config, CommitID: c.CommitID})
	if err != nil {
		return sdk.NotifyResult{}, err
	}
	err = call(ctx, c.Config, http.MethodPost, map[string]any{
		"commit": c.CommitID, "successful": c.Successful, "message": cm.Message, "config": c.Config.Name,
	}, nil, "completions")
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
