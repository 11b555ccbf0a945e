package monban

// Sentinels are the domain errors code branches on. Compare with errors.Is,
// never by message key: an *Error is a sentinel when its Code and Key are
// the sentinel's, whatever its Field, Params, RetryAt or cause. They are
// comparison targets only: build errors with Errorf, never modify these.
var (
	ErrCodeWrong          = &Error{Code: EInvalid, Key: "code.wrong"}
	ErrNoticeRefTaken     = &Error{Code: EConflict, Key: "notice.ref_taken"}
	ErrLockExists         = &Error{Code: EConflict, Key: "lock.exists"}
	ErrLockBreakerOpen    = &Error{Code: EConflict, Key: "lock.breaker_open"}
	ErrLockNotActive      = &Error{Code: EConflict, Key: "lock.not_active"}
	ErrLockWayNotAllowed  = &Error{Code: EForbidden, Key: "lock.way_not_allowed"}
	ErrSignInFailed       = &Error{Code: EUnauthorized, Key: "signin.failed"}
	ErrAccountLocked      = &Error{Code: EForbidden, Key: "account.locked"}
	ErrTransferInProgress = &Error{Code: EConflict, Key: "transfer.in_progress"}
	ErrPendingInvalid     = &Error{Code: EUnauthorized, Key: "signin.pending_invalid"}
	ErrPendingExpired     = &Error{Code: EConflict, Key: "signin.pending_expired"}
	ErrPendingDenied      = &Error{Code: EConflict, Key: "signin.pending_denied"}
	ErrPendingOver        = &Error{Code: EConflict, Key: "signin.pending_over"}
	ErrReauthWrong        = &Error{Code: EUnauthorized, Key: "reauth.wrong_password"}
)

// Is reports whether target is an *Error with e's Code and Key, so that
// errors.Is(err, ErrCodeWrong) holds for every wrong-code error however it
// was built and wrapped.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t != nil && e != nil && t.Code == e.Code && t.Key == e.Key
}
