package azdoapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gitops-connector/gitops-connector/plugins/azdo/internal/config"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// API versions of the pipeline calls. 2.0-preview.1 is the version the
// Azure Pipelines documentation gives for completing an agentless task by
// callback; every Azure DevOps Services and Server version serves it and
// the plan's state and owner link are the same in later versions.
const (
	taskHubAPIVersion  = "2.0-preview.1"
	timelineAPIVersion = "2.0"
)

// Plan states and timeline record states the plugin acts on.
const (
	StateCompleted = "completed"
)

// PlanRef names the plan of a pipeline run: what an agentless task stores
// as planurl ($(System.CollectionUri)), projectid and planid.
type PlanRef struct {
	CollectionURL string
	ProjectID     string
	PlanID        string
}

// Plan is what the plugin reads of a plan.
type Plan struct {
	// State is e.g. inProgress or completed.
	State string
	// BuildURL is the API address of the build that owns the plan; empty
	// when the owner is not a build.
	BuildURL string
}

// TimelineRecord is one record of a build's timeline.
type TimelineRecord struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	State string `json:"state"`
}

// CheckPlanRef reports a plan reference the plugin must not call: ids that
// are not UUIDs, or a collection URL outside the configured organization
// (the request would carry the PAT there). On Azure DevOps Services,
// https://dev.azure.com/<org>/ and https://<org>.visualstudio.com/ are the
// same organization.
func (c *Client) CheckPlanRef(ref PlanRef) error {
	if !IsUUID(ref.ProjectID) || !IsUUID(ref.PlanID) {
		return errors.New("projectid and planid must be UUIDs")
	}
	rest, err := c.underOrganization(ref.CollectionURL)
	if err != nil {
		return fmt.Errorf("planurl: %w", err)
	}
	if len(rest) > 0 {
		return errors.New("planurl is not a collection URL ($(System.CollectionUri))")
	}
	return nil
}

func (c *Client) planURL(ref PlanRef) string {
	return strings.TrimRight(ref.CollectionURL, "/") + "/" + strings.ToLower(ref.ProjectID) +
		"/_apis/distributedtask/hubs/build/plans/" + strings.ToLower(ref.PlanID)
}

// Plan reads a plan (GET {planurl}{projectid}/_apis/distributedtask/hubs/build/plans/{planid}).
func (c *Client) Plan(ctx context.Context, ref PlanRef) (Plan, error) {
	if err := c.CheckPlanRef(ref); err != nil {
		return Plan{}, sdk.InvalidInput(fmt.Errorf("read plan: %w", err))
	}
	var doc struct {
		State string `json:"state"`
		Owner struct {
			Links struct {
				Self struct {
					Href string `json:"href"`
				} `json:"self"`
			} `json:"_links"`
		} `json:"owner"`
	}
	what := "read plan " + ref.PlanID
	if err := c.send(ctx, what, http.MethodGet, c.planURL(ref)+"?api-version="+taskHubAPIVersion, nil, &doc); err != nil {
		return Plan{}, err
	}
	p := Plan{State: doc.State, BuildURL: doc.Owner.Links.Self.Href}
	if p.BuildURL != "" {
		if err := c.checkBuildURL(p.BuildURL); err != nil {
			return Plan{}, sdk.Permanent(fmt.Errorf("%s: owner link: %w", what, err))
		}
	}
	return p, nil
}

// Timeline reads the records of a build's timeline (GET {build}/timeline),
// the build being a plan's owner.
func (c *Client) Timeline(ctx context.Context, buildURL string) ([]TimelineRecord, error) {
	what := "read the timeline of " + buildURL
	if err := c.checkBuildURL(buildURL); err != nil {
		return nil, sdk.InvalidInput(fmt.Errorf("%s: %w", what, err))
	}
	var doc struct {
		Records []TimelineRecord `json:"records"`
	}
	if err := c.send(ctx, what, http.MethodGet, strings.TrimRight(buildURL, "/")+"/timeline?api-version="+timelineAPIVersion, nil, &doc); err != nil {
		return nil, err
	}
	return doc.Records, nil
}

// TaskCompleted posts the TaskCompleted event that ends an agentless task
// waiting for a callback; result is "succeeded" or "failed".
func (c *Client) TaskCompleted(ctx context.Context, ref PlanRef, taskID, jobID, result string) error {
	what := fmt.Sprintf("complete task %s of plan %s", taskID, ref.PlanID)
	if err := c.CheckPlanRef(ref); err != nil {
		return sdk.InvalidInput(fmt.Errorf("%s: %w", what, err))
	}
	if !IsUUID(taskID) || !IsUUID(jobID) {
		return sdk.InvalidInput(fmt.Errorf("%s: taskid and jobid must be UUIDs", what))
	}
	event := map[string]string{"name": "TaskCompleted", "taskId": taskID, "jobId": jobID, "result": result}
	return c.send(ctx, what, http.MethodPost, c.planURL(ref)+"/events?api-version="+taskHubAPIVersion, event, nil)
}

// send makes one request through the library's client and decodes a JSON
// answer into out (when not nil).
func (c *Client) send(ctx context.Context, what, method, fullURL string, body, out any) error {
	api := c.api(fullURL)
	var rd io.Reader
	mediaType := ""
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return sdk.Permanent(fmt.Errorf("%s: %w", what, err))
		}
		rd, mediaType = bytes.NewReader(b), "application/json"
	}
	ctx, n := withNote(ctx)
	req, err := api.CreateRequestMessage(ctx, method, fullURL, "", rd, mediaType, "application/json", nil)
	if err != nil {
		return sdk.Permanent(fmt.Errorf("%s: %w", what, err))
	}
	resp, err := api.SendRequest(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return classify(ctx, what, err, n)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		return nil
	}
	if err := api.UnmarshalBody(resp, out); err != nil {
		// A 203 is a sign-in page: classify tells it from a garbled answer.
		return classify(ctx, what+": read the answer", err, n)
	}
	return nil
}

// checkBuildURL accepts {organization}/{project}/_apis/build/builds/{id}.
func (c *Client) checkBuildURL(raw string) error {
	rest, err := c.underOrganization(raw)
	if err != nil {
		return err
	}
	if len(rest) != 5 || !strings.EqualFold(rest[1], "_apis") || !strings.EqualFold(rest[2], "build") ||
		!strings.EqualFold(rest[3], "builds") {
		return errors.New("is not the API address of a build")
	}
	if id, err := strconv.Atoi(rest[4]); err != nil || id <= 0 {
		return errors.New("is not the API address of a build")
	}
	return nil
}

// underOrganization returns the path segments of raw after the configured
// organization, or an error when raw is not in that organization.
func (c *Client) underOrganization(raw string) ([]string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("is not an http(s) URL without credentials, query or fragment")
	}
	org, err := url.Parse(c.orgURL)
	if err != nil {
		return nil, fmt.Errorf("the organization URL: %w", err)
	}
	segs := pathSegments(u)
	if orgName, ok := cloudOrganization(org); ok {
		name, ok := cloudOrganization(u)
		if !ok || u.Scheme != "https" || !strings.EqualFold(name, orgName) {
			return nil, errors.New("is not in the organization of azdoOrgUrl")
		}
		if strings.EqualFold(u.Hostname(), config.CloudHost) {
			return segs[1:], nil
		}
		if len(segs) > 0 && strings.EqualFold(segs[0], "DefaultCollection") {
			return segs[1:], nil
		}
		return segs, nil
	}
	orgSegs := pathSegments(org)
	if u.Scheme != org.Scheme || !strings.EqualFold(u.Host, org.Host) || len(segs) < len(orgSegs) {
		return nil, errors.New("is not in the collection of azdoOrgUrl")
	}
	for i, s := range orgSegs {
		if !strings.EqualFold(s, segs[i]) {
			return nil, errors.New("is not in the collection of azdoOrgUrl")
		}
	}
	return segs[len(orgSegs):], nil
}

// cloudOrganization returns the organization of an Azure DevOps Services URL.
func cloudOrganization(u *url.URL) (string, bool) {
	host := strings.ToLower(u.Hostname())
	if host == config.CloudHost {
		if segs := pathSegments(u); len(segs) > 0 {
			return segs[0], true
		}
		return "", false
	}
	if org, ok := strings.CutSuffix(host, ".visualstudio.com"); ok && org != "" && !strings.Contains(org, ".") {
		return org, true
	}
	return "", false
}

func pathSegments(u *url.URL) []string {
	var segs []string
	for _, s := range strings.Split(u.EscapedPath(), "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	return segs
}
