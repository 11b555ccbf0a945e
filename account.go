package monban

import "time"

// AccountStatus is the life state of an account.
type AccountStatus string

// Account states. Locks (a later capability) are separate records; Status
// says whether the account exists for sign-in at all.
const (
	AccountActive   AccountStatus = "active"
	AccountDisabled AccountStatus = "disabled"
)

// AccountStatuses lists every account state.
var AccountStatuses = []AccountStatus{AccountActive, AccountDisabled}

// Account is a person's account.
type Account struct {
	ID           string
	Status       AccountStatus
	PasswordHash string // PHC-format argon2id string with its parameters
	TwoStep      bool   // 2-step verification on
	Lang         string // preferred language: "ja" or "en"
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// IdentifierKind names how a person identifies themselves.
type IdentifierKind string

// Identifier kinds.
const (
	KindUsername IdentifierKind = "username"
	KindEmail    IdentifierKind = "email"
	KindPhone    IdentifierKind = "phone"
)

// IdentifierKinds lists every identifier kind.
var IdentifierKinds = []IdentifierKind{KindUsername, KindEmail, KindPhone}

// Identifier is a normalised username, email address or E.164 phone number
// bound to an account. Usernames and emails are unique across accounts; one
// phone number may belong to several accounts (SPEC §4.1).
type Identifier struct {
	AccountID string
	Kind      IdentifierKind
	Value     string
	Verified  bool
	CreatedAt time.Time
}

// MaxAccountsPerPhone bounds how many accounts may share one phone number, so
// that a sign-in by phone checks a bounded number of password hashes.
const MaxAccountsPerPhone = 5
