package monban

import "time"

// Grant lets an account skip exactly one verification step once, inside a
// time window that a support agent opened (seed 001: "support granted a
// 48-hour window that skips the transfer step"). It is used at most once,
// by that account, for that step, and every creation and use is audited.
type Grant struct {
	ID        string
	AccountID string
	Step      string // GrantVerifyPhone, GrantTransferCode
	CreatedBy string // agent id
	CaseID    string // the support case it was granted in, if any
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero while unused
}

// Steps a grant can bypass.
const (
	GrantVerifyPhone  = "verify_phone"  // the phone check of a lock or a transfer
	GrantTransferCode = "transfer_code" // the transfer code to the registered number
)

// GrantSteps lists every step a grant can bypass (each has ja/en text).
var GrantSteps = []string{GrantVerifyPhone, GrantTransferCode}

// DefaultGrantTTL is how long a grant stays usable unless the agent says
// otherwise; MaxGrantTTL caps what an agent may choose.
const (
	DefaultGrantTTL = 48 * time.Hour
	MaxGrantTTL     = 7 * 24 * time.Hour
)

// Usable reports whether the grant can still be used at now.
func (g *Grant) Usable(now time.Time) bool {
	return g.UsedAt.IsZero() && now.Before(g.ExpiresAt)
}

// Audit actions of grants.
const (
	AuditGrantCreated = "grant.created"
	AuditGrantUsed    = "grant.used"
)
