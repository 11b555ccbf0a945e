package monban

import "time"

// Signal is one fact about an account's activity that risk rules read: a
// host app's (a follow, a purchase, a return…) or monban's own (a sign-in,
// a new device, a code requested…). Amount is in the currency's minor unit
// as the host app counts it (yen have none).
type Signal struct {
	ID         int64
	AccountID  string
	Type       string // e.g. "follow", "purchase", SignalSignInFailure
	At         time.Time
	IP         string
	DeviceID   string
	Phone      string // E.164, when the signal concerns a phone number
	Amount     int64
	Currency   string
	Instrument string            // e.g. "gift_card", "card"
	Attrs      map[string]string // free-form, for the evidence
}

// Signals monban records itself.
const (
	SignalSignInSuccess    = "signin.success"
	SignalSignInFailure    = "signin.failure"
	SignalNewDevice        = "device.new"
	SignalApprovalDenied   = "approval.denied"
	SignalContactChanged   = "contact.changed"
	SignalCodeRequested    = "code.requested"
	SignalFactorChanged    = "factor.changed"
	SignalPasswordChanged  = "password.changed"
	SignalRecoveryAttempt  = "recovery.attempt"
	SignalTransferAttempt  = "transfer.attempt"
	SignalSupportRequested = "support.requested"
)

// SignalTypes lists the signals monban records itself.
var SignalTypes = []string{SignalSignInSuccess, SignalSignInFailure, SignalNewDevice, SignalApprovalDenied,
	SignalContactChanged, SignalCodeRequested, SignalFactorChanged, SignalPasswordChanged, SignalRecoveryAttempt,
	SignalTransferAttempt, SignalSupportRequested}

// LockKind says how strongly an account is held.
type LockKind string

// Lock kinds, in increasing strength. A step-up holds the account until
// the person proves something (e.g. their phone); a lock until it expires
// or a way out is used; a review lock until support lifts it; a
// suspension until support decides.
const (
	LockStepUp  LockKind = "step_up"
	LockTemp    LockKind = "lock"
	LockReview  LockKind = "lock_review"
	LockSuspend LockKind = "suspend"
)

// LockKinds lists every lock kind.
var LockKinds = []LockKind{LockStepUp, LockTemp, LockReview, LockSuspend}

// WayOut is something a locked person may do to lift the lock.
type WayOut string

// Ways out.
const (
	WayCode          WayOut = "code"           // a code to the account's verified phone
	WayPassword      WayOut = "password"       // re-enter the password
	WaySecondFactor  WayOut = "second_factor"  // a 2-step code or passkey
	WayPasswordReset WayOut = "password_reset" // reset the password
	WaySupport       WayOut = "support"        // support lifts it (always offered)
)

// Lock categories: the reason a person is told, never the rule itself.
const (
	CategoryUnusualActivity = "unusual_activity"
	CategoryPayment         = "payment"
	CategorySignIn          = "sign_in"
	CategoryAccountDetails  = "account_details"
	CategoryPolicy          = "policy"
)

// Categories lists every lock category (each has ja/en text).
var Categories = []string{CategoryUnusualActivity, CategoryPayment, CategorySignIn, CategoryAccountDetails, CategoryPolicy}

// Lock holds an account because a risk rule (or an agent) said so. It
// records why, in a category the person is told, and exactly which rule
// and version made it, so that a faulty rule's locks can be found and
// lifted together.
type Lock struct {
	ID          string
	AccountID   string
	Kind        LockKind
	Category    string
	RuleID      string
	RuleVersion string
	Evidence    string // JSON: the signal and the aggregates the rule read, and signal ids
	WaysOut     []WayOut
	CreatedAt   time.Time
	ExpiresAt   time.Time // zero: until lifted
	LiftedAt    time.Time // zero while in force
	LiftedBy    string    // "person", "system", "operator:NAME", "agent:ID"
	LiftedHow   string    // e.g. "code", "password", "expired", "rollback"
}

// Active reports whether the lock holds at now.
func (l *Lock) Active(now time.Time) bool {
	return l.LiftedAt.IsZero() && (l.ExpiresAt.IsZero() || now.Before(l.ExpiresAt))
}

// Allows reports whether w is one of the lock's ways out.
func (l *Lock) Allows(w WayOut) bool {
	for _, x := range l.WaysOut {
		if x == w {
			return true
		}
	}
	return false
}

// LockFilter picks locks for a bulk rollback.
type LockFilter struct {
	RuleID  string
	Version string    // "" for every version
	Since   time.Time // created at or after; zero: no bound
	Until   time.Time // created before; zero: no bound
}

// Audit actions of locks.
const (
	AuditLocked        = "account.locked"
	AuditUnlocked      = "account.unlocked"
	AuditBreakerTipped = "risk.breaker_tripped"
)
