package monban

import "time"

// Audit actions of login help and contact changes.
const (
	AuditRecoveryStarted   = "recovery.started"
	AuditPasswordReset     = "password.reset"
	AuditContactChanged    = "contact.changed"
	AuditContactChangeUndo = "contact.change_undone"
)

// Recovery is one login-help attempt: identify the account, prove a contact
// with a code (and, with 2-step on, a second factor), set a new password.
// An identifier that names no account still gets a Recovery, with no
// AccountID and no flow, so that every page and answer looks the same.
type Recovery struct {
	ID          string
	AccountID   string // "" when the identifier named no account
	DeviceID    string // the browser it is bound to ("" for the API)
	FlowID      string // the code flow; for an unknown identifier, the key its wrong codes count under
	Channel     Channel
	Shown       string // what the page calls the identifier (masked when an address)
	Checks      int    // wrong codes entered (unknown identifiers)
	CodeAt      time.Time
	SecondAt    time.Time
	CompletedAt time.Time
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// ContactChange is a change of an account's email address or phone number.
// Once the new contact's code is entered the old contacts are sent a
// "this wasn't me" link that restores OldValue until UndoExpiresAt.
type ContactChange struct {
	ID            string
	AccountID     string
	Kind          IdentifierKind // KindEmail or KindPhone
	OldValue      string         // "" when the account had none
	OldVerified   bool
	NewValue      string
	FlowID        string
	SessionID     string
	CreatedAt     time.Time
	CompletedAt   time.Time
	UndoExpiresAt time.Time
	UndoneAt      time.Time
}
