package sdk

import "context"

// Operator turns a notification of a GitOps operator (Flux, Argo CD, ...) into
// a normalized result.
//
// The host calls ParseEvent once for every request it receives on
// /gitopsphase, before anything is queued, so it must be fast and free of side
// effects. It may be called again with the same body (a re-sent
// notification); it must give the same result.
type Operator interface {
	// ValidateConfig reports the problems of a config for this operator. The
	// host calls it whenever a config that names this operator is loaded or
	// changed. It returns no FieldError when the config is valid; an error
	// only when validation itself failed.
	ValidateConfig(ctx context.Context, cfg Config) ([]FieldError, error)

	// ParseEvent parses one notification body (a JSON object).
	//
	// A body that is not an event of this operator, or an event the connector
	// does not act on, is answered with Handled false and a Reason. A body
	// that looks like an event of this operator but lacks what the operator
	// needs is an InvalidInput error: the host answers the sender 400 with the
	// error's text. ParseEvent must never panic on any input.
	ParseEvent(ctx context.Context, req ParseRequest) (ParseResult, error)
}

// ParseRequest is one notification to parse.
type ParseRequest struct {
	// Config is the config the event is parsed for when the host already
	// knows it (single instance, or routed by URL path); nil otherwise.
	Config *Config
	// Body is the raw request body.
	Body []byte
}

// ParseResult is the normalized result of one notification.
type ParseResult struct {
	// Handled is false when the event is ignored; Reason then says why.
	Handled bool
	Reason  string
	// ConfigName is the config the payload addresses, if it names one
	// (gitops_connector_config_name).
	ConfigName string
	// CommitID is the hex git commit id the event is about.
	CommitID string
	// Statuses are the commit statuses to post, in order.
	Statuses []Status
	// Finished is true when the deployment reached a final state.
	Finished bool
	// Successful is true when finished and the deployment succeeded.
	Successful bool
}

// Ignored returns a result that tells the host to ignore the event.
func Ignored(reason string) ParseResult { return ParseResult{Reason: reason} }
