package sdk

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxRetryAfter bounds the wait an answer can ask for: the host gives up on
// an event's work after 24 hours anyway.
const MaxRetryAfter = 24 * time.Hour

// MaxBodyExcerpt is how much of an error answer's body ResponseError keeps.
const MaxBodyExcerpt = 512

// ResponseError is an HTTP answer of a remote API that is not a success, as
// HTTPError and CheckResponse report it (wrapped in an *Error that carries
// its kind). Every field is safe to log.
type ResponseError struct {
	// Method and URL of the request; the URL without user info and query.
	Method, URL string
	// StatusCode is the answer's status, e.g. 404.
	StatusCode int
	// Body is an excerpt of the answer's body, at most MaxBodyExcerpt
	// bytes, on one line, with every credential of the request and every
	// secret the caller named replaced by "[redacted]".
	Body string
}

func (e *ResponseError) Error() string {
	msg := fmt.Sprintf("%s %s: HTTP %d", e.Method, e.URL, e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		msg += " " + t
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// StatusOf returns the HTTP status of the *ResponseError in err's chain, or
// 0.
func StatusOf(err error) int {
	var re *ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// ClassifyHTTP tells what an HTTP answer means for the host's retry policy,
// from its status and headers alone:
//
//   - 408, 425, 429 and 5xx: KindRetryable;
//   - 403 with Retry-After, or with X-RateLimit-Remaining: 0 (GitHub's
//     primary rate limit): KindRetryable;
//   - 401 and any other 403: KindPermissionDenied;
//   - 404 and 410: KindNotFound;
//   - any other 4xx and 3xx (a redirect the client did not follow):
//     KindPermanent;
//   - 1xx and 2xx: KindUnclassified (not an error answer; if the caller
//     still fails, the host retries).
//
// The wait of a retryable answer is its Retry-After (seconds or an HTTP
// date, as GitHub, Azure DevOps and Gitea send it on 429 and 503), else the
// time until X-RateLimit-Reset (Unix seconds) when X-RateLimit-Remaining is
// 0, else 0 (the host's backoff decides); at most MaxRetryAfter.
func ClassifyHTTP(resp *http.Response) (ErrorKind, time.Duration) {
	code := resp.StatusCode
	wait := retryWait(resp.Header, time.Now())
	rateLimited := wait > 0 || resp.Header.Get("X-RateLimit-Remaining") == "0"
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly,
		code == http.StatusTooManyRequests, code >= 500:
		return KindRetryable, wait
	case code == http.StatusForbidden && rateLimited:
		return KindRetryable, wait
	case code == http.StatusUnauthorized, code == http.StatusForbidden:
		return KindPermissionDenied, 0
	case code == http.StatusNotFound, code == http.StatusGone:
		return KindNotFound, 0
	case code >= 300:
		return KindPermanent, 0
	}
	return KindUnclassified, 0
}

// HTTPError classifies an HTTP answer that is not a success: an *Error of
// ClassifyHTTP's kind and wait, wrapping a *ResponseError with an excerpt of
// body (what the caller read of it; nil for none). The credential the
// request carried in its Authorization header (Bearer, token or Basic), and
// every secret named, are redacted from the excerpt, so the error is safe to
// log even when a server or a proxy echoes them.
//
// Wrap it with what was attempted:
//
//	return fmt.Errorf("post status %q on %s: %w", st.Name, sha, sdk.HTTPError(resp, body))
func HTTPError(resp *http.Response, body []byte, secrets ...string) error {
	kind, wait := ClassifyHTTP(resp)
	re := &ResponseError{StatusCode: resp.StatusCode}
	if req := resp.Request; req != nil {
		re.Method = req.Method
		if req.URL != nil {
			u := *req.URL
			u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
			re.URL = u.String()
		}
		secrets = append(secrets, credentials(req.Header)...)
	}
	re.Body = excerpt(body, secrets)
	return &Error{Kind: kind, RetryAfter: wait, Err: re}
}

// CheckResponse returns nil for a 2xx answer. Otherwise it reads up to
// 64 KiB of the body, closes it, and returns HTTPError's classified error.
//
//	resp, err := client.Do(req)
//	if err != nil {
//		return sdk.RequestError(err)
//	}
//	defer resp.Body.Close()
//	if err := sdk.CheckResponse(resp); err != nil {
//		return err
//	}
func CheckResponse(resp *http.Response, secrets ...string) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	var body []byte
	if resp.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}
	return HTTPError(resp, body, secrets...)
}

// RequestError classifies the error of a request that got no answer
// ((*http.Client).Do's error): time-outs, connection failures and a
// cancelled context are retryable (the host retries them with its
// backoff); an error already classified keeps its kind. The secrets named
// are redacted from the message.
func RequestError(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	var classified *Error
	var uerr *url.Error
	var nerr net.Error
	err = RedactError(err, secrets...)
	switch {
	case errors.As(err, &classified):
		return err
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
		return Retryable(fmt.Errorf("timed out: %w", err), 0)
	case errors.Is(err, context.Canceled), errors.As(err, &uerr):
		return Retryable(err, 0)
	}
	return err
}

// RetryAfter reads a Retry-After header value, delay seconds or an HTTP
// date, as a wait from now: 0 when absent, unreadable or past; at most
// MaxRetryAfter.
func RetryAfter(value string, now time.Time) time.Duration {
	v := strings.TrimSpace(value)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(max(secs, 0), int64(MaxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), MaxRetryAfter)
}

// retryWait is Retry-After, else the time until X-RateLimit-Reset when the
// limit is used up.
func retryWait(h http.Header, now time.Time) time.Duration {
	if d := RetryAfter(h.Get("Retry-After"), now); d > 0 {
		return d
	}
	if h.Get("X-RateLimit-Remaining") != "0" {
		return 0
	}
	reset, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 10, 64)
	if err != nil {
		return 0
	}
	return min(max(time.Unix(reset, 0).Sub(now), 0), MaxRetryAfter)
}

// credentials returns the secrets of an Authorization header: the token of
// "Bearer"/"token" schemes, the password (and the whole encoded pair) of
// Basic.
func credentials(h http.Header) []string {
	var out []string
	for _, v := range h.Values("Authorization") {
		scheme, cred, ok := strings.Cut(strings.TrimSpace(v), " ")
		cred = strings.TrimSpace(cred)
		if !ok || cred == "" {
			out = append(out, v)
			continue
		}
		out = append(out, cred)
		if strings.EqualFold(scheme, "basic") {
			if pair, err := base64.StdEncoding.DecodeString(cred); err == nil {
				if _, pw, ok := strings.Cut(string(pair), ":"); ok {
					out = append(out, pw)
				}
			}
		}
	}
	return out
}

// Redact replaces every occurrence of each secret (of at least 4
// characters; shorter ones would blank ordinary words) in s with
// "[redacted]".
func Redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// excerpt makes body safe to log: secrets redacted before it is cut, one
// line of printable characters, at most MaxBodyExcerpt bytes.
func excerpt(body []byte, secrets []string) string {
	s := Redact(strings.ToValidUTF8(string(body), "\uFFFD"), secrets...)
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }), " ")
	if len(s) <= MaxBodyExcerpt {
		return s
	}
	cut := MaxBodyExcerpt
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// redactedError hides secrets in the message of the error it wraps.
type redactedError struct {
	err     error
	secrets []string
}

func (e *redactedError) Error() string { return Redact(e.err.Error(), e.secrets...) }

func (e *redactedError) Unwrap() error { return e.err }

// RedactError returns err with every occurrence of the secrets hidden from
// its message; errors.Is and errors.As still see the original.
func RedactError(err error, secrets ...string) error {
	if err == nil || len(secrets) == 0 {
		return err
	}
	return &redactedError{err: err, secrets: secrets}
}
