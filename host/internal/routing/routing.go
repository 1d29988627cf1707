// Package routing turns one notification body into the work it asks for:
// which config it is for, the operator's parse of it, and whether the host
// acts on it.
//
// The config is found, in this order, by the URL path
// (/gitopsphase/{name} or /gitopsphase/{namespace}/{name}), by single-instance
// mode (every event goes to the one config), or by the config name the
// payload carries (Argo CD: gitops_connector_config_name; Flux: its
// metadata.gitops_connector_config_name) — which only the operator plugin can
// read, so the body is offered to the operators of the configs the host
// serves until one claims it.
package routing

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gitops-connector/gitops-connector/host/internal/config"
	"github.com/gitops-connector/gitops-connector/host/internal/configset"
	"github.com/gitops-connector/gitops-connector/sdk"
)

// Request is one notification.
type Request struct {
	Body []byte
	// Namespace and Name come from the URL path; empty when not given.
	Namespace string
	Name      string
	// Config, when set, is the config Target found for this request: Route
	// parses for it without looking it up again, so the request is routed
	// with the very config its sender was authenticated against.
	Config *config.Config
}

// Decision is what the host does with a notification.
type Decision struct {
	// Handled is false when the event is ignored; Reason then says why.
	Handled bool
	Reason  string
	// Config is the config the event is for (when known).
	Config config.Config
	// Operator is the type of the operator that parsed the body (when one
	// did), also when the body was rejected.
	Operator string
	// Result is the operator's parse, with status names prefixed by the
	// config's status context.
	Result sdk.ParseResult
}

// ErrBadInput wraps the reasons a body is rejected (HTTP 400).
var ErrBadInput = errors.New("bad input")

// Operators gives the operator of a type.
type Operators interface {
	Operator(typ string) (sdk.Operator, error)
}

// Router routes notifications against the current config set.
type Router struct {
	Operators Operators
	// Configs returns the current set.
	Configs func() *configset.Set
	// AllOperatorTypes lists every operator type the plugins offer; used when
	// the set has no config at all (replay without configuration).
	AllOperatorTypes func() []string
}

// Target returns the config a notification is for when that is known
// without parsing the body: the URL path names it, or the host serves the
// single instance. ok is false otherwise, and when no valid config has that
// name (Route then says why). It lets the host authenticate the sender of
// such a request before any plugin sees the body.
func (r *Router) Target(req Request) (cfg config.Config, ok bool) {
	set := r.Configs()
	if req.Name == "" && !set.Single() {
		return config.Config{}, false
	}
	cfg, err := set.Lookup(req.Namespace, req.Name)
	return cfg, err == nil
}

// Route decides what to do with one notification. An error wrapping
// ErrBadInput means the body itself is wrong; any other error is the host's
// (a plugin not answering) and worth a retry by the sender.
func (r *Router) Route(ctx context.Context, req Request) (Decision, error) {
	if req.Config != nil {
		return r.parseFor(ctx, *req.Config, req.Body)
	}
	set := r.Configs()
	if req.Name != "" || set.Single() {
		cfg, err := set.Lookup(req.Namespace, req.Name)
		if err != nil {
			return Decision{Reason: err.Error()}, nil
		}
		return r.parseFor(ctx, cfg, req.Body)
	}
	types := set.OperatorTypes()
	withoutConfigs := len(types) == 0 && r.AllOperatorTypes != nil
	if withoutConfigs {
		types = r.AllOperatorTypes()
	}
	if len(types) == 0 {
		return Decision{Reason: "no valid config is loaded"}, nil
	}
	var reasons []string
	var badInput error
	var badOperator string
	for _, typ := range types {
		op, err := r.Operators.Operator(typ)
		if err != nil {
			return Decision{}, err
		}
		res, err := op.ParseEvent(ctx, sdk.ParseRequest{Body: req.Body})
		if err != nil {
			if !sdk.IsRetryable(err) {
				badInput = fmt.Errorf("%w: %s: %v", ErrBadInput, strings.ToLower(typ), err)
				badOperator = typ
				continue
			}
			return Decision{Operator: typ}, fmt.Errorf("%s operator: %w", strings.ToLower(typ), err)
		}
		if !res.Handled && res.ConfigName == "" {
			reasons = append(reasons, strings.ToLower(typ)+": "+res.Reason)
			continue
		}
		if withoutConfigs {
			return finish(config.Config{}, typ, res), nil
		}
		if res.ConfigName == "" {
			return Decision{Operator: typ, Reason: "the event names no config (gitops_connector_config_name) and the connector serves several"}, nil
		}
		cfg, err := set.Lookup("", res.ConfigName)
		if err != nil {
			return Decision{Operator: typ, Reason: err.Error()}, nil
		}
		if cfg.OperatorType != typ {
			reasons = append(reasons, fmt.Sprintf("%s: config %q is for operator %s", strings.ToLower(typ), cfg.Key(), cfg.OperatorType))
			continue
		}
		return finish(cfg, typ, res), nil
	}
	// An operator that recognised the body but found it wrong speaks for
	// it: the others only said the body is not theirs.
	if badInput != nil {
		return Decision{Operator: badOperator}, badInput
	}
	return Decision{Reason: strings.Join(reasons, "; ")}, nil
}

func (r *Router) parseFor(ctx context.Context, cfg config.Config, body []byte) (Decision, error) {
	known := Decision{Config: cfg, Operator: cfg.OperatorType}
	op, err := r.Operators.Operator(cfg.OperatorType)
	if err != nil {
		return known, err
	}
	sc := cfg.SDK(config.RoleOperator)
	res, err := op.ParseEvent(ctx, sdk.ParseRequest{Config: &sc, Body: body})
	if err != nil {
		if !sdk.IsRetryable(err) {
			return known, fmt.Errorf("%w: %v", ErrBadInput, err)
		}
		return known, fmt.Errorf("%s operator: %w", strings.ToLower(cfg.OperatorType), err)
	}
	return finish(cfg, cfg.OperatorType, res), nil
}

// finish applies the host's rules to an operator's result: a handled event
// needs a hex commit id, and status names get the config's status context.
func finish(cfg config.Config, operator string, res sdk.ParseResult) Decision {
	d := Decision{Config: cfg, Operator: operator, Result: res}
	if !res.Handled {
		d.Reason = res.Reason
		return d
	}
	if !sdk.ValidCommitID(res.CommitID) {
		d.Reason = fmt.Sprintf("revision %q is not a git commit id", truncate(res.CommitID, 80))
		d.Result.Handled = false
		return d
	}
	d.Result.CommitID = strings.ToLower(res.CommitID)
	if cfg.StatusContext != "" {
		d.Result.Statuses = make([]sdk.Status, len(res.Statuses))
		for i, st := range res.Statuses {
			st.Name = cfg.StatusContext + "/" + st.Name
			d.Result.Statuses[i] = st
		}
	}
	d.Handled = true
	return d
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
