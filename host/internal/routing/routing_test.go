package routing

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/host/internal/configset"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// jsonOperator claims bodies whose "op" field is its type, and reads the
// config name and commit from them.
type jsonOperator struct{ typ string }

func (o jsonOperator) ValidateConfig(context.Context, sdk.Config) ([]sdk.FieldError, error) {
	return nil, nil
}

func (o jsonOperator) ParseEvent(_ context.Context, req sdk.ParseRequest) (sdk.ParseResult, error) {
	var ev struct {
		Op, Config, Commit string
		Bad                bool
	}
	if err := json.Unmarshal(req.Body, &ev); err != nil {
		return sdk.ParseResult{}, sdk.InvalidInputf("not JSON")
	}
	if ev.Op != o.typ {
		return sdk.Ignored("not a " + o.typ + " event"), nil
	}
	if ev.Bad {
		return sdk.ParseResult{}, sdk.InvalidInputf("commitid must be a string")
	}
	return sdk.ParseResult{Handled: true, ConfigName: ev.Config, CommitID: ev.Commit,
		Statuses: []sdk.Status{{Name: "Status", State: sdk.StatePending, Operator: o.typ, Genre: "x"}}}, nil
}

type plugins struct{}

func (plugins) Operator(typ string) (sdk.Operator, error) {
	if typ == "FLUX" || typ == "ARGOCD" {
		return jsonOperator{typ}, nil
	}
	return nil, errors.New("unknown operator type " + typ)
}
func (plugins) Repository(string) (sdk.Repository, error) { return sdk.UnimplementedRepository{}, nil }
func (plugins) Orchestrator(string) (sdk.Orchestrator, error) {
	return sdk.UnimplementedOrchestrator{}, nil
}

func cfg(ns, name, op, statusContext string) config.Config {
	c, errs := config.FromSpec(name, ns, map[string]any{
		"gitRepositoryType": "GITHUB", "ciCdOrchestratorType": "GITHUB", "gitOpsOperatorType": op,
		"gitOpsAppURL": "https://app", "statusContext": statusContext,
	})
	if len(errs) > 0 {
		panic(errs)
	}
	return c
}

func router(t *testing.T, single bool, configs ...config.Config) *Router {
	t.Helper()
	set, results := configset.Build(context.Background(), config.Snapshot{Configs: configs}, plugins{}, single)
	for _, r := range results {
		if !r.Valid {
			t.Fatalf("config %s invalid: %s", r.Key, r.Message)
		}
	}
	return &Router{Operators: plugins{}, Configs: func() *configset.Set { return set }}
}

const sha = "0123456789abcdef0123456789abcdef01234567"

func body(op, config, commit string) []byte {
	b, _ := json.Marshal(map[string]string{"op": op, "config": config, "commit": commit})
	return b
}

func TestRouting(t *testing.T) {
	multi := router(t, false,
		cfg("team-a", "shared", "FLUX", ""), cfg("team-b", "shared", "FLUX", ""),
		cfg("team-a", "argo-dev", "ARGOCD", "dev"), cfg("team-a", "flux-prod", "FLUX", ""))
	single := router(t, true, cfg("", "default", "FLUX", ""))
	tests := []struct {
		name       string
		r          *Router
		req        Request
		wantConfig string
		wantReason string
		wantStatus string
		wantErr    bool
	}{
		{name: "single instance takes every event", r: single, req: Request{Body: body("FLUX", "whatever", sha)}, wantConfig: "default", wantStatus: "Status"},
		{name: "flux by payload name", r: multi, req: Request{Body: body("FLUX", "flux-prod", sha)}, wantConfig: "team-a/flux-prod", wantStatus: "Status"},
		{name: "argo by payload name with status context", r: multi, req: Request{Body: body("ARGOCD", "argo-dev", sha)}, wantConfig: "team-a/argo-dev", wantStatus: "dev/Status"},
		{name: "path beats payload", r: multi, req: Request{Namespace: "team-a", Name: "flux-prod", Body: body("FLUX", "argo-dev", sha)}, wantConfig: "team-a/flux-prod", wantStatus: "Status"},
		{name: "namespaced path resolves a shared name", r: multi, req: Request{Namespace: "team-b", Name: "shared", Body: body("FLUX", "", sha)}, wantConfig: "team-b/shared", wantStatus: "Status"},
		{name: "name in two namespaces is ambiguous", r: multi, req: Request{Body: body("FLUX", "shared", sha)}, wantReason: "is ambiguous"},
		{name: "unknown config", r: multi, req: Request{Body: body("FLUX", "nope", sha)}, wantReason: `no config named "nope"`},
		{name: "unknown config by path", r: multi, req: Request{Name: "nope", Body: body("FLUX", "", sha)}, wantReason: `no config named "nope"`},
		{name: "payload names a config of another operator", r: multi, req: Request{Body: body("FLUX", "argo-dev", sha)}, wantReason: "is for operator ARGOCD"},
		{name: "no config name with several configs", r: multi, req: Request{Body: body("FLUX", "", sha)}, wantReason: "names no config"},
		{name: "no operator claims it", r: multi, req: Request{Body: body("TEKTON", "x", sha)}, wantReason: "not a FLUX event"},
		{name: "traversal revision never becomes a commit", r: single, req: Request{Body: body("FLUX", "", "../../other/commits/"+sha)}, wantReason: "is not a git commit id"},
		{name: "short revision", r: single, req: Request{Body: body("FLUX", "", "abc")}, wantReason: "is not a git commit id"},
		{name: "bad input", r: multi, req: Request{Body: []byte("{")}, wantErr: true},
		{name: "bad input for one operator, not the other's", r: multi, req: Request{Body: []byte(`{"op":"ARGOCD","bad":true}`)}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := tt.r.Route(context.Background(), tt.req)
			if tt.wantErr {
				if !errors.Is(err, ErrBadInput) {
					t.Fatalf("err = %v, want bad input", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantReason != "" {
				if d.Handled || !strings.Contains(d.Reason, tt.wantReason) {
					t.Fatalf("decision %+v, want ignored with %q", d, tt.wantReason)
				}
				return
			}
			if !d.Handled || d.Config.Key() != tt.wantConfig || d.Result.Statuses[0].Name != tt.wantStatus || d.Result.CommitID != sha {
				t.Fatalf("decision %+v, want config %s status %s", d, tt.wantConfig, tt.wantStatus)
			}
		})
	}
}

func TestInvalidConfigsSayWhyTheyGetNoEvents(t *testing.T) {
	bad := cfg("", "gitlab", "FLUX", "")
	bad.RepositoryType = "GITLAB"
	set, results := configset.Build(context.Background(), config.Snapshot{
		Configs: []config.Config{bad},
		Invalid: []config.Invalid{{Key: "empty", Errors: []sdk.FieldError{{Field: "gitOpsAppURL", Message: "is required"}}}},
	}, unknownRepo{}, false)
	if len(results) != 2 || results[1].Valid || results[1].Reason != "UnknownType" ||
		!strings.Contains(results[1].Message, `unknown repository type "GITLAB"; available: AZDO, GITHUB`) {
		t.Fatalf("results %+v", results)
	}
	r := &Router{Operators: plugins{}, Configs: func() *configset.Set { return set }}
	d, _ := r.Route(context.Background(), Request{Name: "empty", Body: body("FLUX", "", sha)})
	if d.Handled || !strings.Contains(d.Reason, `config "empty" is invalid: gitOpsAppURL: is required`) {
		t.Fatalf("decision %+v", d)
	}
}

type unknownRepo struct{ plugins }

func (unknownRepo) Repository(typ string) (sdk.Repository, error) {
	return nil, errors.New(`unknown repository type "` + typ + `"; available: AZDO, GITHUB`)
}

func TestTargetKnowsTheConfigOnlyWhenThePathOrSingleInstanceNamesIt(t *testing.T) {
	multi := router(t, false, cfg("team-a", "flux-prod", "FLUX", ""), cfg("team-a", "shared", "FLUX", ""), cfg("team-b", "shared", "FLUX", ""))
	single := router(t, true, cfg("", "default", "ARGOCD", ""))
	tests := []struct {
		name string
		r    *Router
		req  Request
		want string // the config's key; "" when not known before the parse
	}{
		{"path name", multi, Request{Name: "flux-prod"}, "team-a/flux-prod"},
		{"namespaced path", multi, Request{Namespace: "team-b", Name: "shared"}, "team-b/shared"},
		{"ambiguous path name", multi, Request{Name: "shared"}, ""},
		{"unknown path name", multi, Request{Name: "nope"}, ""},
		{"payload-named: known only after the parse", multi, Request{Body: body("FLUX", "flux-prod", sha)}, ""},
		{"single instance", single, Request{Body: body("ARGOCD", "", sha)}, "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := tt.r.Target(tt.req)
			if ok != (tt.want != "") || (ok && c.Key() != tt.want) {
				t.Fatalf("Target = %q, %v; want %q", c.Key(), ok, tt.want)
			}
		})
	}
}

func TestTheDecisionNamesTheOperatorThatParsedOrRejectedTheBody(t *testing.T) {
	multi := router(t, false, cfg("team-a", "argo-dev", "ARGOCD", ""), cfg("team-a", "flux-prod", "FLUX", ""))
	for _, tt := range []struct {
		name string
		req  Request
		want string
	}{
		{"handled", Request{Body: body("ARGOCD", "argo-dev", sha)}, "ARGOCD"},
		{"ignored for an unknown config", Request{Body: body("FLUX", "nope", sha)}, "FLUX"},
		{"rejected by one operator", Request{Body: []byte(`{"op":"ARGOCD","bad":true}`)}, "ARGOCD"},
		{"rejected for the path's config", Request{Name: "flux-prod", Body: []byte(`{"op":"FLUX","bad":true}`)}, "FLUX"},
		{"claimed by none", Request{Body: body("TEKTON", "x", sha)}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := multi.Route(context.Background(), tt.req)
			if d.Operator != tt.want {
				t.Fatalf("operator %q, want %q", d.Operator, tt.want)
			}
		})
	}
}

func TestARequestRoutedWithTheConfigTargetFoundIsNotLookedUpAgain(t *testing.T) {
	set := &atomic.Pointer[configset.Set]{}
	r := router(t, false, cfg("team-a", "flux-prod", "FLUX", ""))
	first := r.Configs()
	set.Store(first)
	r.Configs = set.Load
	req := Request{Name: "flux-prod", Body: body("FLUX", "", sha)}
	target, ok := r.Target(req)
	if !ok {
		t.Fatal("no target")
	}
	// The configs are reloaded between authentication and routing: the
	// request keeps the config its sender was checked against.
	set.Store(router(t, false, cfg("team-a", "flux-prod", "FLUX", "dev")).Configs())
	req.Config = &target
	d, err := r.Route(context.Background(), req)
	if err != nil || !d.Handled {
		t.Fatalf("decision %+v, %v", d, err)
	}
	if got := d.Result.Statuses[0].Name; got != "Status" {
		t.Errorf("status %q: routed with the reloaded config, want the one Target found", got)
	}
}
