package plugintest

import (
	"context"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// HostRepository stands in, in an orchestrator plugin's tests, for the
// repository the host passes to NotifyCompletion and Sweep: the SDK serves
// it to the plugin process over the go-plugin broker, so a test sees what
// the plugin asks the host. GetCommit answers the commit asked for with
// Message and, when Asked is not nil, sends it the request (a test gives
// the channel room for the calls it expects). The other methods are
// unimplemented.
type HostRepository struct {
	sdk.UnimplementedRepository
	Message string
	Asked   chan<- sdk.GetCommitRequest
}

// GetCommit answers with a commit of the id asked for and Message.
func (h HostRepository) GetCommit(_ context.Context, req sdk.GetCommitRequest) (sdk.Commit, error) {
	if h.Asked != nil {
		h.Asked <- req
	}
	return sdk.Commit{ID: req.CommitID, Message: h.Message}, nil
}
