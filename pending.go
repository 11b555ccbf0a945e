package monban

import "time"

// PendingState is where a held sign-in is.
type PendingState string

// Pending sign-in states. A pending or approved sign-in past ExpiresAt is
// expired, whatever its stored state says.
const (
	PendingWaiting   PendingState = "pending"
	PendingApproved  PendingState = "approved" // a trusted session said yes; the waiting device may finish
	PendingDenied    PendingState = "denied"
	PendingCompleted PendingState = "completed"
	PendingExpired   PendingState = "expired"
)

// Why a sign-in is held.
const (
	HoldTwoStep   = "two_step"
	HoldNewDevice = "new_device"
)

// PendingSignIn is a sign-in whose password was right and which waits for
// a second proof. Only hashes of its secrets are stored: SecretHash of the
// secret the waiting device holds, LinkHash of the one-time approval link.
type PendingSignIn struct {
	ID                string
	SecretHash        []byte
	AccountID         string
	DeviceID          string
	Kind              SessionKind
	IP                string
	UserAgent         string
	Reason            string // HoldTwoStep or HoldNewDevice
	State             PendingState
	FlowID            string // the code flow, once a code was sent
	ApprovalAskedAt   time.Time
	ApprovalExpiresAt time.Time
	LinkHash          []byte
	DecidedBy         string // the approving or denying session id, or "link"
	DecidedAt         time.Time
	CreatedAt         time.Time
	ExpiresAt         time.Time
	CompletedAt       time.Time
}

// StateAt is the state at now, expiry applied.
func (p *PendingSignIn) StateAt(now time.Time) PendingState {
	if (p.State == PendingWaiting || p.State == PendingApproved) && !now.Before(p.ExpiresAt) {
		return PendingExpired
	}
	return p.State
}
