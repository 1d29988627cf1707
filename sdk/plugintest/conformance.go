package plugintest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// Suite is the input of the conformance check.
type Suite struct {
	// Binary is the plugin binary (see Build).
	Binary string
	// ValidConfigs must validate without a FieldError for every capability.
	ValidConfigs []sdk.Config
	// InvalidConfigs must each give at least one FieldError (with field and
	// message) from at least one capability.
	InvalidConfigs []sdk.Config
	// Events are realistic notification bodies for an operator plugin; each
	// must parse into a well-formed result.
	Events []Event

	// Config is the settings hook of a repository or orchestrator plugin
	// (required for them): it returns a config that points the plugin at
	// endpoint, the base URL of the kit's recording HTTP server, in place
	// of its remote API, e.g.
	//
	//	Config: func(endpoint string) sdk.Config {
	//		return sdk.Config{Settings: map[string]string{"apiUrl": endpoint + "/api/v1", "owner": "o", "repo": "r"}}
	//	},
	//
	// Every call of the remote checks uses it (with a fresh Name and
	// Revision each, so no client cached by the plugin carries over); no
	// other config is ever called, so no check reaches a real server. A
	// config without a credential gets a token the kit looks for in errors.
	Config func(endpoint string) sdk.Config
	// Fixtures are answers of the remote API that the endpoint serves with
	// status 200, keyed "METHOD <path>" as the plugin requests it
	// (unescaped, without the query), e.g.
	// "GET /api/v1/repos/o/r/git/commits/<Commit>". The shape checks of
	// GetCommit, ListCommits and ListStatuses read them; a plugin that
	// implements one of those needs fixtures for it. Other GETs are
	// answered 404, other methods 201 "{}".
	Fixtures map[string]string
	// Commit is the commit the fixtures describe: GetCommit's and
	// ListStatuses' commit and ListCommits' head. BaseCommit is
	// ListCommits' base.
	Commit, BaseCommit string
}

// Event is one notification body.
type Event struct {
	Name   string
	Body   []byte
	Config *sdk.Config
}

// Garbage are bodies no operator may crash on. Run adds them to every
// operator's checks.
var Garbage = [][]byte{
	nil,
	[]byte(""),
	[]byte("null"),
	[]byte("[]"),
	[]byte("{}"),
	[]byte(`"text"`),
	[]byte("42"),
	[]byte(`{"a":`),
	[]byte("\xff\xfe\x00\x01"),
	[]byte(strings.Repeat("[", 10000)),
	[]byte(`{"involvedObject":null,"metadata":null,"commitid":null,"resources":null}`),
	[]byte(`{"involvedObject":"x","metadata":[],"reason":7,"message":{},"commitid":1,"phase":[],"resources":"x"}`),
	[]byte(`{"involvedObject":{"kind":"Kustomization"},"reason":"Progressing","metadata":{"revision":"main@sha1:` + strings.Repeat("a", 40) + `"},"message":"\n\n/ /\nWarning"}`),
	[]byte(`{"involvedObject":{"kind":"Kustomization"},"reason":"HealthCheckFailed","metadata":{"revision":"sha1:` + strings.Repeat("b", 40) + `"},"message":"]["}`),
	[]byte(`{"commitid":"` + strings.Repeat("c", 40) + `","phase":"Running","resources":[null,1,{"status":{}},{"health":"x"}]}`),
}

// Run checks the plugin binary against the contract: its description
// against the services it serves, config validation, well-formed operator
// results, no crash on garbage input and, for repositories and
// orchestrators, what goes out to the remote API and what comes back (see
// Suite.Config): no request for an invalid or path-traversing commit id,
// retryable answers (5xx, 429 with Retry-After, no answer, a time-out)
// reported retryable with their wait, permanent ones (401, 403 without rate
// limit, 404, 422) not retried, no credential in an error, PostStatus safe
// to repeat, well-formed GetCommit, ListCommits and ListStatuses answers,
// and no panic.
func Run(t *testing.T, s Suite) {
	t.Helper()
	c := Start(t, s.Binary)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	t.Run("describe", func(t *testing.T) {
		d := c.Description
		if d.ProtocolVersion != sdk.ProtocolVersion {
			t.Errorf("protocol_version = %d, want %d (the oldest version: hosts that know only it refuse any other)", d.ProtocolVersion, sdk.ProtocolVersion)
		}
		for _, v := range sdk.ProtocolVersions() {
			if !d.Speaks(v) {
				t.Errorf("protocol_versions = %v, want every version of this SDK, %v", d.ProtocolVersions, sdk.ProtocolVersions())
				break
			}
		}
		for _, typ := range d.Types {
			if typ != strings.ToUpper(typ) {
				t.Errorf("type %q is not upper case", typ)
			}
		}
		checkServedCapabilities(ctx, t, c)
	})

	t.Run("validate", func(t *testing.T) {
		for _, cfg := range s.ValidConfigs {
			if errs := validate(ctx, t, c, cfg); len(errs) > 0 {
				t.Errorf("config %q: want valid, got %v", cfg.Name, errs)
			}
		}
		for _, cfg := range s.InvalidConfigs {
			errs := validate(ctx, t, c, cfg)
			if len(errs) == 0 {
				t.Errorf("config %q: want field errors, got none", cfg.Name)
			}
			for _, e := range errs {
				if e.Field == "" || e.Message == "" {
					t.Errorf("config %q: field error %+v lacks a field or a message", cfg.Name, e)
				}
				if cfg.Token != "" && strings.Contains(e.Message, cfg.Token) {
					t.Errorf("config %q: field error reveals the token", cfg.Name)
				}
				for _, k := range []string{"token", "privateKey", "clientSecret", "clientCertificate", "clientCertificatePassword"} {
					if v := cfg.Credential.Value(k); v != "" && strings.Contains(e.Message, v) {
						t.Errorf("config %q: field error reveals the credential's %s", cfg.Name, k)
					}
				}
			}
		}
	})

	if c.Operator != nil {
		t.Run("operator/events", func(t *testing.T) {
			for _, ev := range s.Events {
				res, err := c.Operator.ParseEvent(ctx, sdk.ParseRequest{Config: ev.Config, Body: ev.Body})
				if err != nil {
					t.Errorf("%s: %v", ev.Name, err)
					continue
				}
				if msg := checkResult(res); msg != "" {
					t.Errorf("%s: %s", ev.Name, msg)
				}
			}
		})
		t.Run("operator/garbage", func(t *testing.T) {
			for i, body := range Garbage {
				res, err := c.Operator.ParseEvent(ctx, sdk.ParseRequest{Body: body})
				if err != nil {
					if k := sdk.KindOf(err); k != sdk.KindInvalidInput {
						t.Errorf("garbage #%d: error of kind %q, want invalid input or an ignored result: %v", i, k, err)
					}
					continue
				}
				if msg := checkResult(res); msg != "" {
					t.Errorf("garbage #%d: %s", i, msg)
				}
			}
			if c.Exited() {
				t.Fatal("the plugin process exited on garbage input")
			}
		})
	}

	if c.Repository != nil || c.Orchestrator != nil {
		if s.Config == nil {
			t.Fatal("Suite.Config is required for a repository or orchestrator plugin: the kit points the plugin at its own endpoint through it")
		}
		k := &remote{c: c, s: s, ep: newEndpoint(t, s.Fixtures)}
		k.run(ctx, t)
		if c.Orchestrator != nil && c.Protocol != sdk.ProtocolVersion && c.Description.Speaks(sdk.ProtocolVersion) {
			t.Run("orchestrator/protocol-1", func(t *testing.T) { k.sameUnderProtocol1(ctx, t) })
		}
	}
	if c.Exited() {
		t.Fatal("the plugin process exited during the checks")
	}
}

func validate(ctx context.Context, t *testing.T, c *Client, cfg sdk.Config) []sdk.FieldError {
	t.Helper()
	var all []sdk.FieldError
	type validator interface {
		ValidateConfig(context.Context, sdk.Config) ([]sdk.FieldError, error)
	}
	var validators []validator
	if c.Operator != nil {
		validators = append(validators, c.Operator)
	}
	if c.Repository != nil {
		validators = append(validators, c.Repository)
	}
	if c.Orchestrator != nil {
		validators = append(validators, c.Orchestrator)
	}
	for _, v := range validators {
		errs, err := v.ValidateConfig(ctx, cfg)
		if err != nil {
			t.Errorf("ValidateConfig(%q): %v", cfg.Name, err)
		}
		all = append(all, errs...)
	}
	return all
}

// checkResult returns what is wrong with an operator's result, or "".
func checkResult(res sdk.ParseResult) string {
	if !res.Handled {
		if res.Reason == "" {
			return "ignored without a reason"
		}
		return ""
	}
	if !sdk.ValidCommitID(res.CommitID) {
		return fmt.Sprintf("commit id %q is not a hex id", res.CommitID)
	}
	if res.Successful && !res.Finished {
		return "successful but not finished"
	}
	if len(res.Statuses) == 0 {
		return "handled without a status"
	}
	for _, st := range res.Statuses {
		if st.Name == "" || st.State == sdk.StateUnspecified || st.Operator == "" || st.Genre == "" {
			return fmt.Sprintf("status %+v lacks a name, state, operator or genre", st)
		}
	}
	return ""
}
