package monban

import "time"

// FailureCount is what a sign-in throttle counter has recorded: the
// consecutive failures of one authenticator (for one account and device
// class, or one unknown identifier) and when the last was claimed.
type FailureCount struct {
	Failures    int
	LastFailure time.Time
}
