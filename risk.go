package monban

import "time"

// RiskBucket is one pre-aggregated bucket of signals: how many signals of
// Type (matching Filter, e.g. "instrument=gift_card", or "" for all) a
// subject had in [Start, Start+Res), and the sum of their amounts. Subjects
// are prefixed by what they are: "a:" account, "d:" device, "i:" IP, "p:"
// phone number.
type RiskBucket struct {
	Subject string
	Res     time.Duration // a minute, an hour or a day
	Start   time.Time
	Type    string
	Filter  string
	N       int64
	Total   int64
}

// RiskDecision is one rule match, enforced or in shadow mode.
type RiskDecision struct {
	At          time.Time
	AccountID   string
	RuleID      string
	RuleVersion string
	Action      string
	Shadow      bool
	SignalType  string
}

// RiskBreaker records that a rule version's lock rate tripped the circuit
// breaker: the version runs in shadow mode from then on.
type RiskBreaker struct {
	RuleID      string
	RuleVersion string
	TrippedAt   time.Time
	Locks       int64  // locks in the window that tripped it
	Baseline    string // what the rate was compared with, for the operator
}

// LockLift lifts one lock and says so to its person, in the same
// transaction: the notice and its messages, and one audit entry.
type LockLift struct {
	LockID    string
	AccountID string
	At        time.Time
	By, How   string
	Notice    *Notice
	Messages  []*Message
	Audit     AuditEvent
	Event     *WebhookEvent // account.unlocked for the host app; nil: none
}
