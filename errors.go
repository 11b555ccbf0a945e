package monban

import (
	"errors"
	"fmt"
	"time"
)

// ErrorCode is a stable, client-visible error category. The HTTP layer maps
// each code to a status and a problem+json type URI; the values never change.
type ErrorCode string

// Error codes.
const (
	EInvalid          ErrorCode = "invalid"            // bad input; nothing changed
	EUnauthorized     ErrorCode = "unauthorized"       // missing or bad credentials
	EForbidden        ErrorCode = "forbidden"          // authenticated but not allowed
	ENotFound         ErrorCode = "not_found"          // no such resource (or not yours)
	EConflict         ErrorCode = "conflict"           // e.g. username taken
	ERateLimited      ErrorCode = "rate_limited"       // try again at RetryAt
	ETooLarge         ErrorCode = "too_large"          // body over the limit
	EUnsupportedMedia ErrorCode = "unsupported_media"  // wrong content type
	EMethod           ErrorCode = "method_not_allowed" // known path, wrong method
	EUnavailable      ErrorCode = "unavailable"        // dependency down; retry
	EInternal         ErrorCode = "internal"           // a bug; logged, never shown
)

// Error is a domain error. Code and Key are safe to show to clients (Key is a
// message id translated by the web layer, Params fill it); Err is the internal
// cause, for logs only.
type Error struct {
	Code    ErrorCode
	Key     string         // i18n message id, e.g. "password.too_short"
	Params  map[string]any // template data for Key
	Field   string         // the input field at fault, if any
	RetryAt time.Time      // for ERateLimited: the next allowed try
	Err     error          // internal cause; never shown to clients
}

func (e *Error) Error() string {
	s := string(e.Code) + ": " + e.Key
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and message key.
func Errorf(code ErrorCode, key string) *Error {
	return &Error{Code: code, Key: key}
}

// WithField names the input field at fault.
func (e *Error) WithField(f string) *Error { e.Field = f; return e }

// WithParams adds message parameters.
func (e *Error) WithParams(p map[string]any) *Error { e.Params = p; return e }

// Wrap records an internal cause.
func (e *Error) Wrap(err error) *Error { e.Err = err; return e }

// RateLimited returns an ERateLimited error naming the next allowed try.
func RateLimited(key string, retryAt time.Time) *Error {
	return &Error{Code: ERateLimited, Key: key, RetryAt: retryAt}
}

// Unavailable wraps an infrastructure failure (e.g. the database is down).
func Unavailable(err error) *Error {
	return &Error{Code: EUnavailable, Key: "error.unavailable", Err: err}
}

// ErrorCodeOf returns the code of the first *Error in err's chain, or
// EInternal for any other non-nil error.
func ErrorCodeOf(err error) ErrorCode {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// AsError returns the first *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// ErrNotFound is a convenience for storage lookups that find nothing.
var ErrNotFound = &Error{Code: ENotFound, Key: "error.not_found"}

// IsNotFound reports whether err is an ENotFound domain error.
func IsNotFound(err error) bool { return ErrorCodeOf(err) == ENotFound }

// Internalf builds an internal error with context; shown to clients as a
// generic failure.
func Internalf(format string, args ...any) error {
	return &Error{Code: EInternal, Key: "error.internal", Err: fmt.Errorf(format, args...)}
}
