package orchestrator

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/gitops-connector/gitops-connector/plugins/azdo/internal/azdoapi"
)

// PropertyKey is the pull request property in which an agentless task
// stores its callback.
const PropertyKey = "callback-task-id"

// PropertyKeys are the property names to look up, in order: with a status
// context, "callback-task-id-<context>" first, so pipelines of several
// environments can wait on one pull request.
func PropertyKeys(statusContext string) []string {
	if statusContext == "" {
		return []string{PropertyKey}
	}
	return []string{PropertyKey + "-" + statusContext, PropertyKey}
}

var mergedPR = regexp.MustCompile(`Merged PR (\d+)`)

// PullRequestNumber returns the number in "Merged PR <n>" (with or without
// a colon after it), the comment Azure Repos gives the commit that
// completes a pull request; false when the comment names none.
func PullRequestNumber(comment string) (int64, bool) {
	m := mergedPR.FindStringSubmatch(comment)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt32 {
		return 0, false
	}
	return n, true
}

// Callback is what an agentless task stores in its pull request's
// callback-task-id property:
//
//	{"taskid": "$(System.TaskInstanceId)", "jobid": "$(System.JobId)",
//	 "planurl": "$(System.CollectionUri)", "planid": "$(System.PlanId)",
//	 "projectid": "$(System.TeamProjectId)", "pr_num": "$(pr_num)"}
//
// Keys match case-insensitively; pr_num is not used.
type Callback struct {
	TaskID    string `json:"taskid"`
	JobID     string `json:"jobid"`
	PlanURL   string `json:"planurl"`
	PlanID    string `json:"planid"`
	ProjectID string `json:"projectid"`
}

// ParseCallback reads a callback property's value and checks that its ids
// are UUIDs and its plan URL is set.
func ParseCallback(value string) (Callback, error) {
	var cb Callback
	if err := json.Unmarshal([]byte(value), &cb); err != nil {
		return Callback{}, fmt.Errorf("not a JSON object: %w", err)
	}
	cb.TaskID = strings.TrimSpace(cb.TaskID)
	cb.JobID = strings.TrimSpace(cb.JobID)
	cb.PlanURL = strings.TrimSpace(cb.PlanURL)
	cb.PlanID = strings.TrimSpace(cb.PlanID)
	cb.ProjectID = strings.TrimSpace(cb.ProjectID)
	var errs []error
	for _, f := range []struct{ name, value string }{
		{"taskid", cb.TaskID}, {"jobid", cb.JobID}, {"planid", cb.PlanID}, {"projectid", cb.ProjectID},
	} {
		if !azdoapi.IsUUID(f.value) {
			errs = append(errs, fmt.Errorf("%s %.60q is not a UUID", f.name, f.value))
		}
	}
	if cb.PlanURL == "" {
		errs = append(errs, errors.New("planurl is missing"))
	}
	if err := errors.Join(errs...); err != nil {
		return Callback{}, err
	}
	return cb, nil
}

// PlanRef is the plan the callback names.
func (cb Callback) PlanRef() azdoapi.PlanRef {
	return azdoapi.PlanRef{CollectionURL: cb.PlanURL, ProjectID: cb.ProjectID, PlanID: cb.PlanID}
}
