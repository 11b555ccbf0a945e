package monban

import "time"

// SessionKind says how the session token travels.
type SessionKind string

// Session kinds.
const (
	SessionWeb SessionKind = "web" // __Host- cookie
	SessionApp SessionKind = "app" // bearer token for native apps
)

// Authentication levels of a session.
const (
	AuthPassword = 1 // one factor
	AuthTwoStep  = 2 // two factors (or a passkey)
)

// Session is a signed-in browser or app. The token itself is never stored:
// TokenHash is SHA-256 of the 256-bit random token.
type Session struct {
	ID         string
	TokenHash  []byte
	AccountID  string
	DeviceID   string
	Kind       SessionKind
	AuthLevel  int
	Methods    []string // how it was authenticated, e.g. "pwd", "otp"
	IP         string
	UserAgent  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute timeout
	RevokedAt  time.Time // zero while active
}

// Active reports whether the session may be used at now, given the idle
// timeout.
func (s *Session) Active(now time.Time, idle time.Duration) bool {
	if !s.RevokedAt.IsZero() || !now.Before(s.ExpiresAt) {
		return false
	}
	return now.Before(s.LastSeenAt.Add(idle))
}

// Device is one browser (identified by a signed device cookie) or one app
// install (identified by an app-provided key) as seen by one account.
type Device struct {
	ID           string
	AccountID    string
	Kind         SessionKind
	Label        string // e.g. "Chrome on Android", from the user agent
	CreatedAt    time.Time
	LastSeenAt   time.Time
	TrustedUntil time.Time // zero: not trusted
}

// Trusted reports whether the device is trusted at now.
func (d *Device) Trusted(now time.Time) bool { return now.Before(d.TrustedUntil) }

// SessionState is what the session check reads in one query: the session,
// its account's status and identifiers, and whether a lock may be in force
// (only then is the lock itself read).
type SessionState struct {
	Session     *Session
	Status      AccountStatus
	Identifiers []Identifier
	MaybeLocked bool
}
