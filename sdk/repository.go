package sdk

import (
	"context"
	"errors"
	"time"
)

// Repository is a git hosting service: commit statuses, commits and pull
// requests (GitHub, Azure Repos, ...).
//
// The host calls PostStatus for every status an operator produced, in order,
// and retries it after a retryable error; every call may therefore be
// repeated with the same input and must be safe to repeat. The other methods
// are read-only and serve orchestrators, which reach them through the host.
//
// Embed UnimplementedRepository to implement only part of the interface.
type Repository interface {
	// ValidateConfig reports the problems of a config for this repository.
	ValidateConfig(ctx context.Context, cfg Config) ([]FieldError, error)
	// PostStatus posts one commit status on the config's manifests repository.
	PostStatus(ctx context.Context, req PostStatusRequest) error
	// GetCommit reads one commit.
	GetCommit(ctx context.Context, req GetCommitRequest) (Commit, error)
	// FindPullRequests lists the pull requests whose merge commit is a commit.
	FindPullRequests(ctx context.Context, req FindPullRequestsRequest) ([]PullRequest, error)
	// GetPullRequestProperty reads one property of a pull request; found is
	// false when the pull request has no such property.
	GetPullRequestProperty(ctx context.Context, req GetPullRequestPropertyRequest) (value string, found bool, err error)
	// ListPullRequests lists pull requests by state and close time.
	ListPullRequests(ctx context.Context, req ListPullRequestsRequest) ([]PullRequest, error)
	// ListCommits lists the commits reachable from HeadCommitID and not from
	// BaseCommitID (git log base..head), newest first, each with its parents.
	ListCommits(ctx context.Context, req ListCommitsRequest) (CommitList, error)
	// ListStatuses lists the latest commit status of every context of a
	// commit.
	ListStatuses(ctx context.Context, req ListStatusesRequest) ([]CommitStatus, error)
}

// PostStatusRequest asks for one commit status.
type PostStatusRequest struct {
	Config Config
	// CommitID is a hex commit id (ValidCommitID): the SDK refuses a
	// request with any other before PostStatus is called.
	CommitID string
	Status   Status
}

// GetCommitRequest names one commit.
type GetCommitRequest struct {
	Config Config
	// Repository is the repository name; "" means the manifests repository.
	Repository string
	// CommitID is a hex commit id, checked by the SDK.
	CommitID string
}

// FindPullRequestsRequest names the merge commit to look up.
type FindPullRequestsRequest struct {
	Config Config
	// Repository is the repository name; "" means the manifests repository.
	Repository string
	// CommitID is a hex commit id, checked by the SDK.
	CommitID string
}

// GetPullRequestPropertyRequest names one property of one pull request.
type GetPullRequestPropertyRequest struct {
	Config Config
	// Repository is the repository name; "" means the manifests repository.
	Repository string
	Number     int64
	// Key is the property name, e.g. "callback-task-id".
	Key string
}

// ListPullRequestsRequest selects pull requests.
type ListPullRequestsRequest struct {
	Config Config
	// Repository is the repository name; "" means the manifests repository.
	Repository string
	State      PullRequestState
	// ClosedAfter keeps only pull requests closed at or after it; zero means
	// any time.
	ClosedAfter time.Time
}

// DefaultMaxCommits is how many commits ListCommits lists when the request
// leaves MaxCommits at 0.
const DefaultMaxCommits = 100

// ListCommitsRequest names two commits of a repository.
type ListCommitsRequest struct {
	Config Config
	// Repository is the repository name; "" means the manifests repository.
	Repository string
	// BaseCommitID is where the walk stops: it and its ancestors are not
	// listed. Both ids are hex commit ids, checked by the SDK.
	BaseCommitID string
	// HeadCommitID is where the walk starts; it is listed.
	HeadCommitID string
	// MaxCommits bounds the list; 0 means DefaultMaxCommits.
	MaxCommits int
}

// Limit is the number of commits the request allows: MaxCommits, or
// DefaultMaxCommits when it is not positive.
func (r ListCommitsRequest) Limit() int {
	if r.MaxCommits <= 0 {
		return DefaultMaxCommits
	}
	return r.MaxCommits
}

// CommitList is the answer of ListCommits.
type CommitList struct {
	// Commits are the commits reachable from head and not from base, newest
	// first, at most the request's Limit (the newest ones when there are
	// more). Empty when head is base. When base is not an ancestor of head
	// it holds what the repository reports between them: the host tells
	// that case from the parents.
	Commits []Commit
	// Truncated is true when more commits lie between base and head than
	// were listed.
	Truncated bool
}

// ListStatusesRequest names one commit.
type ListStatusesRequest struct {
	Config Config
	// Repository is the repository name; "" means the manifests repository.
	Repository string
	// CommitID is a hex commit id, checked by the SDK.
	CommitID string
}

// ErrUnimplemented is returned by the methods of UnimplementedRepository and
// UnimplementedOrchestrator. The host treats it as permanent.
var ErrUnimplemented = errors.New("not implemented by this plugin")

// UnimplementedRepository answers every Repository method with
// ErrUnimplemented. Embed it to implement only some methods.
type UnimplementedRepository struct{}

// ValidateConfig accepts every config.
func (UnimplementedRepository) ValidateConfig(context.Context, Config) ([]FieldError, error) {
	return nil, nil
}

// PostStatus returns ErrUnimplemented.
func (UnimplementedRepository) PostStatus(context.Context, PostStatusRequest) error {
	return ErrUnimplemented
}

// GetCommit returns ErrUnimplemented.
func (UnimplementedRepository) GetCommit(context.Context, GetCommitRequest) (Commit, error) {
	return Commit{}, ErrUnimplemented
}

// FindPullRequests returns ErrUnimplemented.
func (UnimplementedRepository) FindPullRequests(context.Context, FindPullRequestsRequest) ([]PullRequest, error) {
	return nil, ErrUnimplemented
}

// GetPullRequestProperty returns ErrUnimplemented.
func (UnimplementedRepository) GetPullRequestProperty(context.Context, GetPullRequestPropertyRequest) (string, bool, error) {
	return "", false, ErrUnimplemented
}

// ListPullRequests returns ErrUnimplemented.
func (UnimplementedRepository) ListPullRequests(context.Context, ListPullRequestsRequest) ([]PullRequest, error) {
	return nil, ErrUnimplemented
}

// ListCommits returns ErrUnimplemented.
func (UnimplementedRepository) ListCommits(context.Context, ListCommitsRequest) (CommitList, error) {
	return CommitList{}, ErrUnimplemented
}

// ListStatuses returns ErrUnimplemented.
func (UnimplementedRepository) ListStatuses(context.Context, ListStatusesRequest) ([]CommitStatus, error) {
	return nil, ErrUnimplemented
}
