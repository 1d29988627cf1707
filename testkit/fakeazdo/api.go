package fakeazdo

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Ids of resource areas and locations, as the service registers them (the
// azure-devops-go-api library asks for them by these ids).
const (
	areaGit   = "4e080c62-fa21-4fbc-8fef-2a10a2b38049"
	areaBuild = "5d6898bb-45ec-463f-95f9-54d49c71752e"
)

// location is an ApiResourceLocation of OPTIONS {organization}/_apis.
type location struct {
	ID              string `json:"id"`
	Area            string `json:"area"`
	ResourceName    string `json:"resourceName"`
	RouteTemplate   string `json:"routeTemplate"`
	ResourceVersion int    `json:"resourceVersion"`
	MinVersion      string `json:"minVersion"`
	MaxVersion      string `json:"maxVersion"`
	ReleasedVersion string `json:"releasedVersion"`
}

var locations = []location{
	{ID: "e81700f7-3be2-46de-8624-2eb35882fcaa", Area: "Location", ResourceName: "ResourceAreas", RouteTemplate: "_apis/{resource}/{areaId}", ResourceVersion: 1, MinVersion: "3.2", MaxVersion: "7.1", ReleasedVersion: "0.0"},
	{ID: "c2570c3b-5b3f-41b8-98bf-5407bfde8d58", Area: "git", ResourceName: "commits", RouteTemplate: "{project}/_apis/{area}/repositories/{repositoryId}/{resource}/{commitId}", ResourceVersion: 1, MinVersion: "1.0", MaxVersion: "7.1", ReleasedVersion: "7.1"},
	{ID: "6400dfb2-0bcb-462b-b992-5a57f8f1416c", Area: "git", ResourceName: "commitsBatch", RouteTemplate: "{project}/_apis/{area}/repositories/{repositoryId}/{resource}", ResourceVersion: 1, MinVersion: "1.0", MaxVersion: "7.1", ReleasedVersion: "7.1"},
	{ID: "428dd4fb-fda5-4722-af02-9313b80305da", Area: "git", ResourceName: "statuses", RouteTemplate: "{project}/_apis/{area}/repositories/{repositoryId}/commits/{commitId}/{resource}", ResourceVersion: 1, MinVersion: "2.1", MaxVersion: "7.1", ReleasedVersion: "7.1"},
	{ID: "48a52185-5b9e-4736-9dc1-bb1e2feac80b", Area: "git", ResourceName: "properties", RouteTemplate: "{project}/_apis/{area}/repositories/{repositoryId}/pullRequests/{pullRequestId}/{resource}", ResourceVersion: 1, MinVersion: "4.1", MaxVersion: "7.1", ReleasedVersion: "0.0"},
	{ID: "9946fd70-0d40-406e-b686-b4744cbbcc37", Area: "git", ResourceName: "pullRequests", RouteTemplate: "{project}/_apis/{area}/repositories/{repositoryId}/{resource}/{pullRequestId}", ResourceVersion: 1, MinVersion: "3.0", MaxVersion: "7.1", ReleasedVersion: "7.1"},
}

// handle serves a valid, authenticated request.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, m *match, body []byte) {
	if !strings.EqualFold(m.params["org"], s.opts.Organization) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("TF400898: organization or collection %q not found.", m.params["org"]))
		return
	}
	if p, ok := m.params["project"]; ok && !strings.EqualFold(p, s.opts.Project) && !strings.EqualFold(p, s.opts.ProjectID) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("TF200016: The following project does not exist: %s.", p))
		return
	}
	switch m.pattern.route {
	case RouteLocations:
		writeJSON(w, http.StatusOK, collection(locations))
	case RouteResourceAreas:
		s.resourceAreas(w)
	case RouteCreateStatus:
		s.createStatus(w, m, body)
	case RouteListStatuses:
		s.listStatuses(w, r, m)
	case RouteGetCommit:
		s.getCommit(w, m)
	case RouteCommitsBatch:
		s.commitsBatch(w, r, m, body)
	case RoutePullRequestProperties:
		s.pullRequestProperties(w, m)
	case RouteListPullRequests:
		s.listPullRequests(w, r, m)
	case RouteGetPlan:
		s.getPlan(w, m)
	case RoutePostEvent:
		s.postEvent(w, m, body)
	case RouteGetTimeline:
		s.getTimeline(w, m)
	}
}

func (s *Server) resourceAreas(w http.ResponseWriter) {
	if s.opts.PathPrefix != "" {
		// On-premises servers answer an empty list: every area lives at
		// the collection URL.
		writeJSON(w, http.StatusOK, collection([]any{}))
		return
	}
	url := s.CollectionURI()
	writeJSON(w, http.StatusOK, collection([]map[string]string{
		{"id": areaGit, "name": "git", "locationUrl": url},
		{"id": areaBuild, "name": "build", "locationUrl": url},
	}))
}

// repoOf returns the repository the route's {repo} names (by name or id,
// in any case), or answers 404 as the service does. Callers hold mu.
func (s *Server) repoOf(w http.ResponseWriter, m *match) (*repository, bool) {
	nameOrID := m.params["repo"]
	if r, ok := s.repos[strings.ToLower(nameOrID)]; ok {
		return r, true
	}
	for _, r := range s.repos {
		if strings.EqualFold(r.id, nameOrID) {
			return r, true
		}
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("TF401019: The Git repository with name or identifier %s does not exist or you do not have permissions for the operation you are attempting.", nameOrID))
	return nil, false
}

// commitOf returns the repository and the commit the route's {repo} and
// {commit} name (the commit id in any case), or answers 404 as the service
// does. Callers hold mu.
func (s *Server) commitOf(w http.ResponseWriter, m *match) (*repository, Commit, bool) {
	repo, ok := s.repoOf(w, m)
	if !ok {
		return nil, Commit{}, false
	}
	c, ok := repo.commits[strings.ToLower(m.params["commit"])]
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("TF401175: The version descriptor <Commit: %s> could not be resolved to a version in the repository %s", m.params["commit"], repo.name))
	}
	return repo, c, ok
}

// intParam returns the route's numeric parameter name, or answers 400 saying
// that what (its meaning) is not a number.
func intParam(w http.ResponseWriter, m *match, name, what string) (int, bool) {
	n, err := strconv.Atoi(m.params[name])
	if err != nil {
		writeError(w, http.StatusBadRequest, "the "+what+" is not a number")
		return 0, false
	}
	return n, true
}

func (s *Server) createStatus(w http.ResponseWriter, m *match, body []byte) {
	var st Status
	if err := json.Unmarshal(body, &st); err != nil {
		writeError(w, http.StatusBadRequest, "the status is not valid JSON")
		return
	}
	if st.Context.Name == "" {
		writeError(w, http.StatusBadRequest, "VS403459: Status context name cannot be null or empty.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, c, ok := s.commitOf(w, m)
	if !ok {
		return
	}
	commit := strings.ToLower(c.ID)
	stored := storedStatus{Status: st, posted: time.Now().UTC()}
	repo.statuses[commit] = append(repo.statuses[commit], stored)
	writeJSON(w, http.StatusCreated, statusJSON(len(repo.statuses[commit]), stored))
}

func statusJSON(id int, st storedStatus) map[string]any {
	at := st.posted.Format(time.RFC3339Nano)
	return map[string]any{
		"id":           id,
		"state":        st.State,
		"description":  st.Description,
		"targetUrl":    st.TargetURL,
		"context":      st.Context,
		"creationDate": at,
		"updatedDate":  at,
	}
}

// listStatuses answers a commit's statuses newest first, as the service
// does: with latestOnly only the newest of each context, then skip and top.
func (s *Server) listStatuses(w http.ResponseWriter, r *http.Request, m *match) {
	q := r.URL.Query()
	top, skip := 1000, 0
	for name, v := range map[string]*int{"top": &top, "skip": &skip} {
		if q.Has(name) {
			n, err := strconv.Atoi(q.Get(name))
			if err != nil || n < 0 {
				writeError(w, http.StatusBadRequest, name+" is not a number")
				return
			}
			*v = n
		}
	}
	latestOnly := strings.EqualFold(q.Get("latestOnly"), "true")
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, c, ok := s.commitOf(w, m)
	if !ok {
		return
	}
	all := repo.statuses[strings.ToLower(c.ID)]
	seen := map[StatusContext]bool{}
	out := []any{}
	for i := len(all) - 1; i >= 0; i-- {
		if latestOnly {
			if seen[all[i].Context] {
				continue
			}
			seen[all[i].Context] = true
		}
		out = append(out, statusJSON(i+1, all[i]))
	}
	out = out[min(skip, len(out)):]
	writeJSON(w, http.StatusOK, collection(out[:min(top, len(out))]))
}

func (s *Server) getCommit(w http.ResponseWriter, m *match) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, c, ok := s.commitOf(w, m)
	if !ok {
		return
	}
	who := map[string]any{"name": "Build Service", "email": "build@example.com", "date": c.Date.UTC().Format(time.RFC3339Nano)}
	writeJSON(w, http.StatusOK, map[string]any{
		"commitId":  c.ID,
		"comment":   c.Comment,
		"parents":   nonNil(c.Parents),
		"author":    who,
		"committer": who,
		"url":       s.CollectionURI() + s.opts.ProjectID + "/_apis/git/repositories/" + repo.id + "/commits/" + c.ID,
	})
}

func (s *Server) pullRequestProperties(w http.ResponseWriter, m *match) {
	id, ok := intParam(w, m, "pr", "pull request id")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, ok := s.repoOf(w, m)
	if !ok {
		return
	}
	pr, ok := s.prs[id]
	if !ok || !strings.EqualFold(pr.Repository, repo.name) {
		writeError(w, http.StatusNotFound, "TF401180: The requested pull request was not found.")
		return
	}
	value := map[string]any{}
	for k, v := range pr.Properties {
		value[k] = map[string]string{"$type": "System.String", "$value": v}
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(value), "value": value})
}

// listPullRequests filters by searchCriteria.status (default active),
// searchCriteria.minTime/maxTime on the creation or closing time
// (searchCriteria.queryTimeRangeType) and pages with $skip/$top (default
// 101), newest pull request first.
func (s *Server) listPullRequests(w http.ResponseWriter, r *http.Request, m *match) {
	q := r.URL.Query()
	s.mu.Lock()
	repo, ok := s.repoOf(w, m)
	s.mu.Unlock()
	if !ok {
		return
	}
	status := q.Get("searchCriteria.status")
	if status == "" || status == "notSet" {
		status = PullRequestActive
	}
	minTime, err1 := optionalTime(q.Get("searchCriteria.minTime"))
	maxTime, err2 := optionalTime(q.Get("searchCriteria.maxTime"))
	if err := errors.Join(err1, err2); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	byClosed := q.Get("searchCriteria.queryTimeRangeType") == "closed"
	skip, top := atoiOr(q.Get("$skip"), 0), atoiOr(q.Get("$top"), 101)

	var out []map[string]any
	for _, pr := range s.pullRequestsOf(repo.name) {
		if status != "all" && pr.Status != status {
			continue
		}
		t := pr.CreationDate
		if byClosed {
			t = pr.ClosedDate
		}
		if (!minTime.IsZero() && (t.IsZero() || t.Before(minTime))) || (!maxTime.IsZero() && (t.IsZero() || t.After(maxTime))) {
			continue
		}
		out = append(out, s.pullRequestJSON(repo, pr))
	}
	out = out[min(skip, len(out)):]
	out = out[:min(top, len(out))]
	writeJSON(w, http.StatusOK, collection(out))
}

func (s *Server) pullRequestJSON(repo *repository, pr PullRequest) map[string]any {
	j := map[string]any{
		"pullRequestId": pr.ID,
		"codeReviewId":  pr.ID,
		"status":        pr.Status,
		"title":         pr.Title,
		"creationDate":  pr.CreationDate.UTC().Format(time.RFC3339Nano),
		"sourceRefName": "refs/heads/deploy/" + strconv.Itoa(pr.ID),
		"targetRefName": "refs/heads/main",
		"mergeStatus":   "succeeded",
		"repository": map[string]any{
			"id": repo.id, "name": repo.name,
			"project": map[string]string{"id": s.opts.ProjectID, "name": s.opts.Project},
		},
	}
	if !pr.ClosedDate.IsZero() {
		j["closedDate"] = pr.ClosedDate.UTC().Format(time.RFC3339Nano)
	}
	if pr.LastMergeCommit != "" {
		j["lastMergeCommit"] = map[string]string{"commitId": pr.LastMergeCommit}
	}
	return j
}

// planOf returns the plan the route's {plan} names, or answers 404 as the
// service does. Callers hold mu.
func (s *Server) planOf(w http.ResponseWriter, m *match) (*Plan, bool) {
	p, ok := s.plans[strings.ToLower(m.params["plan"])]
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Orchestration plan with identifier %s does not exist.", m.params["plan"]))
	}
	return p, ok
}

func (s *Server) buildURL(buildID int) string {
	return s.CollectionURI() + s.opts.ProjectID + "/_apis/build/Builds/" + strconv.Itoa(buildID)
}

func (s *Server) getPlan(w http.ResponseWriter, m *match) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.planOf(w, m)
	if !ok {
		return
	}
	href := s.buildURL(p.BuildID)
	writeJSON(w, http.StatusOK, map[string]any{
		"planId":          p.ID,
		"planType":        "Build",
		"scopeIdentifier": s.opts.ProjectID,
		"planGroup":       fmt.Sprintf("Build:%s:%d", s.opts.ProjectID, p.BuildID),
		"artifactUri":     fmt.Sprintf("vstfs:///Build/Build/%d", p.BuildID),
		"state":           p.State,
		"version":         5,
		"owner": map[string]any{
			"_links": map[string]any{"self": map[string]string{"href": href}, "web": map[string]string{"href": s.CollectionURI() + s.opts.ProjectID + "/_build/results?buildId=" + strconv.Itoa(p.BuildID)}},
			"id":     p.BuildID,
			"name":   fmt.Sprintf("20240501.%d", p.BuildID),
		},
		"timeline": map[string]any{"id": p.ID, "changeId": 1},
	})
}

// jobEvent is the body of a plan event; TaskCompleted adds taskId and
// result.
type jobEvent struct {
	Name   string `json:"name"`
	JobID  string `json:"jobId"`
	TaskID string `json:"taskId"`
	Result string `json:"result"`
}

var taskResults = []string{"succeeded", "succeededWithIssues", "failed", "canceled", "skipped", "abandoned"}

// postEvent records an event; TaskCompleted completes the job's timeline
// record, as the service does when the job's only (agentless) task ends.
func (s *Server) postEvent(w http.ResponseWriter, m *match, body []byte) {
	var ev jobEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		writeError(w, http.StatusBadRequest, "the event is not valid JSON")
		return
	}
	if ev.Name == "TaskCompleted" {
		var errs []error
		if !uuidRE.MatchString(ev.TaskID) {
			errs = append(errs, fmt.Errorf("taskId %q is not a UUID", ev.TaskID))
		}
		if !uuidRE.MatchString(ev.JobID) {
			errs = append(errs, fmt.Errorf("jobId %q is not a UUID", ev.JobID))
		}
		if !slices.Contains(taskResults, ev.Result) {
			errs = append(errs, fmt.Errorf("result %q is not a task result %v", ev.Result, taskResults))
		}
		if err := errors.Join(errs...); err != nil {
			s.reject(w, fmt.Errorf("POST %s (TaskCompleted): %w", m.canonical, err))
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.planOf(w, m)
	if !ok {
		return
	}
	s.events = append(s.events, Event{
		Hub: m.params["hub"], ProjectID: m.params["project"], PlanID: p.ID,
		Name: ev.Name, TaskID: ev.TaskID, JobID: ev.JobID, Result: ev.Result,
	})
	if ev.Name == "TaskCompleted" {
		if _, ok := p.Jobs[strings.ToLower(ev.JobID)]; ok {
			p.Jobs[strings.ToLower(ev.JobID)] = StateCompleted
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getTimeline(w http.ResponseWriter, m *match) {
	build, ok := intParam(w, m, "build", "build id")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var plan *Plan
	for _, p := range s.plans {
		if p.BuildID == build {
			plan = p
		}
	}
	if plan == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("TF215016: The requested build %d does not exist.", build))
		return
	}
	stageID := uuidFrom("stage/" + plan.ID)
	records := []map[string]any{{"id": stageID, "type": "Stage", "name": "Deploy", "state": plan.State, "order": 1}}
	jobs := make([]string, 0, len(plan.Jobs))
	for id := range plan.Jobs {
		jobs = append(jobs, id)
	}
	slices.Sort(jobs)
	for i, id := range jobs {
		rec := map[string]any{"id": id, "parentId": stageID, "type": "Job", "name": "Wait for deployment", "state": plan.Jobs[id], "order": i + 1}
		if plan.Jobs[id] == StateCompleted {
			rec["result"] = "succeeded"
		}
		records = append(records, rec)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"records":       records,
		"id":            plan.ID,
		"changeId":      len(records),
		"lastChangedOn": now(),
		"url":           s.buildURL(build) + "/Timeline/" + plan.ID,
	})
}

func collection[T any](items []T) map[string]any {
	return map[string]any{"count": len(items), "value": nonNil(items)}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

func optionalTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date-time", v)
	}
	return t, nil
}

func atoiOr(v string, def int) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return def
	}
	return n
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers with an Azure DevOps error document.
func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]any{
		"$id":            "1",
		"innerException": nil,
		"message":        message,
		"typeName":       "Microsoft.VisualStudio.Services.WebApi.VssServiceException, Microsoft.VisualStudio.Services.WebApi",
		"typeKey":        "VssServiceException",
		"errorCode":      0,
		"eventId":        3000,
	})
}
