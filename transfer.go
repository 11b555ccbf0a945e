package monban

import (
	"crypto/rand"
	"time"
)

// TransferKind says how an account moves to a new device.
type TransferKind string

// Transfer kinds.
const (
	// TransferBinding: the signed-in old device shows a one-time binding
	// code (and QR code) that the new device enters.
	TransferBinding TransferKind = "binding"
	// TransferLost: the old device is gone; the new device proves the
	// password and then one more thing (a transfer code to the registered
	// number, an approval from another signed-in session, another bound
	// factor, or a support-granted bypass).
	TransferLost TransferKind = "lost"
)

// TransferState is where a transfer is.
type TransferState string

// Transfer states. An open transfer (offered, pending or approved) past
// ExpiresAt is expired, whatever its stored state says.
const (
	TransferOffered   TransferState = "offered"   // a binding code is shown on the old device
	TransferPending   TransferState = "pending"   // the password was right; a second proof is awaited
	TransferApproved  TransferState = "approved"  // proven; the move itself may run
	TransferCompleted TransferState = "completed" // the account is on the new device
	TransferCancelled TransferState = "cancelled" // replaced by a newer transfer, or given up
	TransferExpired   TransferState = "expired"
)

// How a transfer was proven (Transfer.Method, the webhook's "method").
const (
	TransferByBindingCode = "binding_code"
	TransferByCode        = "transfer_code" // SMS to the registered number
	TransferByEmail       = "email"
	TransferByApproval    = "approval" // another signed-in session said yes
	TransferByTOTP        = "totp"
	TransferByPasskey     = "passkey"
	TransferByGrant       = "grant" // a support-granted bypass of the transfer code
)

// HoldTransfer is the reason of the approve-or-deny prompt a lost-device
// transfer raises in the account's other signed-in sessions.
const HoldTransfer = "transfer"

// Audit actions of transfers.
const (
	AuditTransferOffered   = "transfer.offered"
	AuditTransferStarted   = "transfer.started"
	AuditTransferPhone     = "transfer.phone_confirmed"
	AuditTransferProven    = "transfer.proven"
	AuditTransferCompleted = "transfer.completed"
	AuditTransferCancelled = "transfer.cancelled"
	AuditTransferBadCode   = "transfer.binding_code_wrong"
)

// Transfer moves an account to a new device. Only hashes of its secrets are
// stored: BindingHash, a keyed hash of the binding code the old device
// shows; SecretHash, of the handle the new device holds on the lost-device
// path.
type Transfer struct {
	ID        string
	AccountID string
	Kind      TransferKind
	State     TransferState
	Method    string // how it was proven, once approved or completed

	BindingHash  []byte
	SecretHash   []byte
	OldDeviceID  string // binding: the device that showed the code
	OldSessionID string

	NewDeviceID    string
	NewDeviceLabel string
	NewKind        SessionKind
	NewSessionID   string // once completed
	IP, UserAgent  string // of the new device
	Lang           string

	PendingID        string // the approve-or-deny prompt, once the phone step is done
	FlowID           string // the last transfer or email code sent
	PhoneConfirmedAt time.Time

	CreatedAt   time.Time
	ExpiresAt   time.Time
	ApprovedAt  time.Time
	CompletedAt time.Time
	EndedAt     time.Time // cancelled or expired
}

// Open reports whether the transfer can still go on at now.
func (t *Transfer) Open(now time.Time) bool {
	switch t.State {
	case TransferOffered, TransferPending, TransferApproved:
		return now.Before(t.ExpiresAt)
	}
	return false
}

// StateAt is the state at now, expiry applied.
func (t *Transfer) StateAt(now time.Time) TransferState {
	switch t.State {
	case TransferOffered, TransferPending, TransferApproved:
		if !now.Before(t.ExpiresAt) {
			return TransferExpired
		}
	}
	return t.State
}

// TransferCompletion is everything the move writes in one transaction: the
// transfer completed, the proof spent (an approved prompt or a grant), the
// new device's session, the old sessions ended, the audit entry, the notice
// with its messages and the webhook event. All of it, or nothing.
type TransferCompletion struct {
	TransferID string
	Now        time.Time
	Method     string
	// From are the states the transfer may complete from.
	From []TransferState
	// PendingID, for an approval: the prompt must be approved and is
	// completed with the transfer.
	PendingID string
	// GrantStep, for a bypass: the account's grant for this step is used.
	GrantStep  string
	GrantAudit AuditEvent

	Session *Session
	Device  *Device
	// EndDeviceID ends the sessions of that one device (the old device of a
	// binding code); otherwise every other session ends but KeepSessionID.
	EndDeviceID   string
	KeepSessionID string

	Audit   AuditEvent
	Notice  *Notice
	Msgs    []*Message
	Webhook *WebhookEvent
}

// BindingCodeChars is the length of a binding code: 10 characters of
// Crockford's base32, 50 random bits. With a 10-minute life, one use and
// redemption failures limited per address and in total, an online guess
// succeeds with negligible probability (NIST SP 800-63B-4 §4.1.2.2 asks
// for single use, a short life and enough entropy; 50 bits is well above
// the 20 bits of a 6-digit code that is also bound to one account).
const BindingCodeChars = 10

// BindingCodeLifetime is how long a binding code can be entered.
const BindingCodeLifetime = 10 * time.Minute

// NewBindingCode returns a random binding code such as "7K3Q9-D2FXM".
func NewBindingCode() string {
	var b [BindingCodeChars]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	out := make([]byte, 0, BindingCodeChars+1)
	for i, c := range b {
		if i == BindingCodeChars/2 {
			out = append(out, '-')
		}
		out = append(out, refAlphabet[c&31])
	}
	return string(out)
}

// ParseBindingCode reads a binding code as typed or scanned: any case,
// with or without the dash, spaces, full-width characters, O/I/L for
// 0/1/1. It returns the canonical form and whether s can be a code at all.
func ParseBindingCode(s string) (string, bool) {
	if len(s) > 64 {
		return "", false
	}
	var chars []byte
	for _, r := range s {
		r = foldWidth(r)
		switch r {
		case '-', ' ', '\t', '‐', '－', 'ー':
			continue
		}
		c, ok := refChar(r)
		if !ok {
			return "", false
		}
		chars = append(chars, c)
	}
	if len(chars) != BindingCodeChars {
		return "", false
	}
	return string(chars[:BindingCodeChars/2]) + "-" + string(chars[BindingCodeChars/2:]), true
}
