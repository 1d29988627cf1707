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

// Run checks the plugin binary against the contract: its description, the
// services it registers, config validation, well-formed operator results, no
// crash on garbage input, and error classification of bad commit ids.
func Run(t *testing.T, s Suite) {
	t.Helper()
	c := Start(t, s.Binary)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("describe", func(t *testing.T) {
		d := c.Description
		if d.ProtocolVersion != sdk.ProtocolVersion {
			t.Errorf("protocol_version = %d, want %d", d.ProtocolVersion, sdk.ProtocolVersion)
		}
		for _, typ := range d.Types {
			if typ != strings.ToUpper(typ) {
				t.Errorf("type %q is not upper case", typ)
			}
		}
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

	if c.Repository != nil {
		t.Run("repository/bad-commit-id", func(t *testing.T) {
			for _, cfg := range firstOr(s.ValidConfigs) {
				for _, id := range []string{"", "../../other/commits/" + strings.Repeat("a", 40), "main@sha1:zz"} {
					err := c.Repository.PostStatus(ctx, sdk.PostStatusRequest{
						Config: cfg, CommitID: id,
						Status: sdk.Status{Name: "Status", State: sdk.StatePending, RawState: "Progressing", Operator: "Flux", Genre: "Kustomization"},
					})
					if err == nil || sdk.IsRetryable(err) {
						t.Errorf("PostStatus(commit %q) = %v, want a permanent error", id, err)
					}
				}
			}
		})
	}

	if c.Orchestrator != nil {
		t.Run("orchestrator/bad-commit-id", func(t *testing.T) {
			for _, cfg := range firstOr(s.ValidConfigs) {
				res, err := c.Orchestrator.NotifyCompletion(ctx, sdk.Completion{Config: cfg, CommitID: "../x", Successful: true}, sdk.UnimplementedRepository{})
				if err == nil && res.Notified {
					t.Errorf("NotifyCompletion(commit %q) notified", "../x")
				}
				if sdk.IsRetryable(err) {
					t.Errorf("NotifyCompletion(commit %q) = retryable %v, want a permanent error", "../x", err)
				}
			}
		})
	}
}

func firstOr(cfgs []sdk.Config) []sdk.Config {
	if len(cfgs) == 0 {
		return []sdk.Config{{Name: "default"}}
	}
	return cfgs[:1]
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
