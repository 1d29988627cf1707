package sdk

import (
	"errors"
	"fmt"
	"time"
)

// ErrorKind tells the host what to do with a failed call.
type ErrorKind int

// Error kinds. The host retries only KindRetryable (and errors of no kind).
const (
	// KindUnclassified is an error the plugin did not classify. The host
	// retries it with backoff, like KindRetryable.
	KindUnclassified ErrorKind = iota
	// KindRetryable is a passing failure: the remote service is down, slow,
	// or rate-limits the caller. RetryAfter, when set, says how long to wait.
	KindRetryable
	// KindInvalidInput means the input itself is wrong (a body without the
	// fields an operator needs, a malformed id). Never retried.
	KindInvalidInput
	// KindNotFound means what was asked for does not exist (wrong repository
	// name, unknown commit). Never retried.
	KindNotFound
	// KindPermissionDenied means the credential is missing, wrong or lacks a
	// scope. Never retried.
	KindPermissionDenied
	// KindPermanent is any other failure that a retry cannot fix.
	KindPermanent
	// KindUnimplemented means the plugin does not offer the call.
	KindUnimplemented
)

var kindNames = [...]string{"unclassified", "retryable", "invalid input", "not found", "permission denied", "permanent", "unimplemented"}

func (k ErrorKind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return kindNames[0]
	}
	return kindNames[k]
}

// Error is an error classified for the host's retry policy. Create it with
// Retryable, Permanent, InvalidInput, NotFound or PermissionDenied; inspect
// any error with KindOf and RetryAfterOf.
type Error struct {
	Kind ErrorKind
	// RetryAfter is how long to wait before retrying (KindRetryable only);
	// zero lets the host choose with its backoff.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Kind.String()
	}
	return e.Err.Error()
}

// Unwrap returns the wrapped error.
func (e *Error) Unwrap() error { return e.Err }

// Retryable marks err as passing: the host retries the call, after at least
// `after` when it is positive.
func Retryable(err error, after time.Duration) error {
	return &Error{Kind: KindRetryable, RetryAfter: after, Err: err}
}

// Permanent marks err as one a retry cannot fix.
func Permanent(err error) error { return &Error{Kind: KindPermanent, Err: err} }

// InvalidInput marks err as caused by the input itself.
func InvalidInput(err error) error { return &Error{Kind: KindInvalidInput, Err: err} }

// InvalidInputf is InvalidInput(fmt.Errorf(format, args...)).
func InvalidInputf(format string, args ...any) error {
	return InvalidInput(fmt.Errorf(format, args...))
}

// NotFound marks err as "what was asked for does not exist".
func NotFound(err error) error { return &Error{Kind: KindNotFound, Err: err} }

// PermissionDenied marks err as a credential problem.
func PermissionDenied(err error) error { return &Error{Kind: KindPermissionDenied, Err: err} }

// KindOf returns the kind of the first *Error in err's chain;
// KindUnimplemented for ErrUnimplemented, KindUnclassified otherwise.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if errors.Is(err, ErrUnimplemented) {
		return KindUnimplemented
	}
	return KindUnclassified
}

// IsRetryable reports whether the host should retry after err.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	k := KindOf(err)
	return k == KindRetryable || k == KindUnclassified
}

// RetryAfterOf returns the wait a retryable error asks for, or zero.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) && e.Kind == KindRetryable {
		return e.RetryAfter
	}
	return 0
}
