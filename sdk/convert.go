package sdk

// Conversion between the SDK's Go types and the protocol's messages. This is
// the only file that knows both.

import (
	"context"
	"errors"
	"fmt"
	"time"

	pb "github.com/gitops-connector/gitops-connector/proto/gitopsconnector/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func configToProto(c Config) *pb.Config {
	return &pb.Config{
		Name:          c.Name,
		Namespace:     c.Namespace,
		Settings:      c.Settings,
		Token:         c.Token,
		StatusContext: c.StatusContext,
		Revision:      c.Revision,
		Credential:    credentialToProto(c.Credential),
	}
}

func credentialToProto(c Credential) *pb.Credential {
	if c.Kind == "" {
		return nil
	}
	return &pb.Credential{Kind: c.Kind, Values: c.Values}
}

func configFromProto(c *pb.Config) Config {
	if c == nil {
		return Config{}
	}
	return Config{
		Name:          c.GetName(),
		Namespace:     c.GetNamespace(),
		Settings:      c.GetSettings(),
		Token:         c.GetToken(),
		StatusContext: c.GetStatusContext(),
		Revision:      c.GetRevision(),
		Credential:    Credential{Kind: c.GetCredential().GetKind(), Values: c.GetCredential().GetValues()},
	}
}

func fieldErrorsToProto(errs []FieldError) []*pb.FieldError {
	out := make([]*pb.FieldError, 0, len(errs))
	for _, e := range errs {
		out = append(out, &pb.FieldError{Field: e.Field, Message: e.Message})
	}
	return out
}

func fieldErrorsFromProto(errs []*pb.FieldError) []FieldError {
	if len(errs) == 0 {
		return nil
	}
	out := make([]FieldError, 0, len(errs))
	for _, e := range errs {
		out = append(out, FieldError{Field: e.GetField(), Message: e.GetMessage()})
	}
	return out
}

func stateToProto(s State) pb.State {
	switch s {
	case StatePending:
		return pb.State_STATE_PENDING
	case StateSucceeded:
		return pb.State_STATE_SUCCEEDED
	case StateFailed:
		return pb.State_STATE_FAILED
	case StateError:
		return pb.State_STATE_ERROR
	case StateNotApplicable:
		return pb.State_STATE_NOT_APPLICABLE
	}
	return pb.State_STATE_UNSPECIFIED
}

func stateFromProto(s pb.State) State {
	switch s {
	case pb.State_STATE_PENDING:
		return StatePending
	case pb.State_STATE_SUCCEEDED:
		return StateSucceeded
	case pb.State_STATE_FAILED:
		return StateFailed
	case pb.State_STATE_ERROR:
		return StateError
	case pb.State_STATE_NOT_APPLICABLE:
		return StateNotApplicable
	}
	return StateUnspecified
}

func statusToProto(s Status) *pb.Status {
	return &pb.Status{
		Name:        s.Name,
		State:       stateToProto(s.State),
		RawState:    s.RawState,
		Description: s.Description,
		Genre:       s.Genre,
		Operator:    s.Operator,
	}
}

func statusFromProto(s *pb.Status) Status {
	return Status{
		Name:        s.GetName(),
		State:       stateFromProto(s.GetState()),
		RawState:    s.GetRawState(),
		Description: s.GetDescription(),
		Genre:       s.GetGenre(),
		Operator:    s.GetOperator(),
	}
}

func statusesToProto(ss []Status) []*pb.Status {
	out := make([]*pb.Status, 0, len(ss))
	for _, s := range ss {
		out = append(out, statusToProto(s))
	}
	return out
}

func statusesFromProto(ss []*pb.Status) []Status {
	if len(ss) == 0 {
		return nil
	}
	out := make([]Status, 0, len(ss))
	for _, s := range ss {
		out = append(out, statusFromProto(s))
	}
	return out
}

func commitToProto(c Commit) *pb.Commit {
	return &pb.Commit{Id: c.ID, Message: c.Message, ParentIds: c.ParentIDs, CommittedAt: timeToProto(c.CommittedAt)}
}

func commitFromProto(c *pb.Commit) Commit {
	return Commit{
		ID:          c.GetId(),
		Message:     c.GetMessage(),
		ParentIDs:   c.GetParentIds(),
		CommittedAt: timeFromProto(c.GetCommittedAt()),
	}
}

func commitStatusToProto(s CommitStatus) *pb.CommitStatus {
	return &pb.CommitStatus{
		Name:        s.Name,
		Genre:       s.Genre,
		State:       stateToProto(s.State),
		Description: s.Description,
		UpdatedAt:   timeToProto(s.UpdatedAt),
	}
}

func commitStatusFromProto(s *pb.CommitStatus) CommitStatus {
	return CommitStatus{
		Name:        s.GetName(),
		Genre:       s.GetGenre(),
		State:       stateFromProto(s.GetState()),
		Description: s.GetDescription(),
		UpdatedAt:   timeFromProto(s.GetUpdatedAt()),
	}
}

func prStateToProto(s PullRequestState) pb.PullRequestState {
	switch s {
	case PullRequestActive:
		return pb.PullRequestState_PULL_REQUEST_STATE_ACTIVE
	case PullRequestCompleted:
		return pb.PullRequestState_PULL_REQUEST_STATE_COMPLETED
	case PullRequestAbandoned:
		return pb.PullRequestState_PULL_REQUEST_STATE_ABANDONED
	}
	return pb.PullRequestState_PULL_REQUEST_STATE_UNSPECIFIED
}

func prStateFromProto(s pb.PullRequestState) PullRequestState {
	switch s {
	case pb.PullRequestState_PULL_REQUEST_STATE_ACTIVE:
		return PullRequestActive
	case pb.PullRequestState_PULL_REQUEST_STATE_COMPLETED:
		return PullRequestCompleted
	case pb.PullRequestState_PULL_REQUEST_STATE_ABANDONED:
		return PullRequestAbandoned
	}
	return PullRequestStateUnspecified
}

func timeToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func timeFromProto(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}

func pullRequestsToProto(prs []PullRequest) []*pb.PullRequest {
	out := make([]*pb.PullRequest, 0, len(prs))
	for _, p := range prs {
		out = append(out, &pb.PullRequest{
			Number:        p.Number,
			State:         prStateToProto(p.State),
			Title:         p.Title,
			MergeCommitId: p.MergeCommitID,
			ClosedAt:      timeToProto(p.ClosedAt),
			Repository:    p.Repository,
		})
	}
	return out
}

func pullRequestsFromProto(prs []*pb.PullRequest) []PullRequest {
	if len(prs) == 0 {
		return nil
	}
	out := make([]PullRequest, 0, len(prs))
	for _, p := range prs {
		out = append(out, PullRequest{
			Number:        p.GetNumber(),
			State:         prStateFromProto(p.GetState()),
			Title:         p.GetTitle(),
			MergeCommitID: p.GetMergeCommitId(),
			ClosedAt:      timeFromProto(p.GetClosedAt()),
			Repository:    p.GetRepository(),
		})
	}
	return out
}

// errorToStatus turns a plugin's error into the gRPC status that carries its
// classification across the process boundary.
func errorToStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	msg := err.Error()
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, msg)
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, msg)
	}
	switch KindOf(err) {
	case KindRetryable:
		st := status.New(codes.Unavailable, msg)
		if after := RetryAfterOf(err); after > 0 {
			if withInfo, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(after)}); derr == nil {
				st = withInfo
			}
		}
		return st.Err()
	case KindInvalidInput:
		return status.Error(codes.InvalidArgument, msg)
	case KindNotFound:
		return status.Error(codes.NotFound, msg)
	case KindPermissionDenied:
		return status.Error(codes.PermissionDenied, msg)
	case KindPermanent:
		return status.Error(codes.FailedPrecondition, msg)
	case KindUnimplemented:
		return status.Error(codes.Unimplemented, msg)
	}
	return status.Error(codes.Unknown, msg)
}

// errorFromStatus turns a gRPC error received from the other side into a
// classified *Error.
func errorFromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	msg := errors.New(st.Message())
	switch st.Code() {
	case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Aborted, codes.Canceled:
		var after time.Duration
		for _, d := range st.Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
				after = ri.GetRetryDelay().AsDuration()
			}
		}
		return &Error{Kind: KindRetryable, RetryAfter: after, Err: fmt.Errorf("%s: %w", st.Code(), msg)}
	case codes.Unknown:
		return msg
	case codes.InvalidArgument:
		return &Error{Kind: KindInvalidInput, Err: msg}
	case codes.NotFound:
		return &Error{Kind: KindNotFound, Err: msg}
	case codes.PermissionDenied, codes.Unauthenticated:
		return &Error{Kind: KindPermissionDenied, Err: msg}
	case codes.Unimplemented:
		return &Error{Kind: KindUnimplemented, Err: fmt.Errorf("%s: %w", st.Message(), ErrUnimplemented)}
	}
	return &Error{Kind: KindPermanent, Err: fmt.Errorf("%s: %w", st.Code(), msg)}
}
