package monban

import "time"

// Case is one support request and everything that followed it: filed
// without signing in (SPEC §4.5), answered by agents, merged with the
// person's repeat requests for the same account and category while it is
// open. AccountID is empty when the identifier matched no account: such a
// case is accepted and answered exactly like any other, so filing one
// reveals nothing.
type Case struct {
	ID           string
	Ref          string // e.g. "MB-7K3Q-9D2F", told to the person
	AccountID    string // "" when the identifier matched no account
	MergeKey     string // what a repeat request must match to be merged
	Category     string // CaseLocked, …
	Status       string // CaseOpen, …
	Lang         string // the person's language: replies use it
	Identifier   string // what the person typed, normalised
	Contact      string // email address for replies
	Platform     string // "web" or "app"
	Device       string // free text, e.g. "iPhone 15"
	Description  string
	Requests     int // 1 + merged repeats
	CreatedAt    time.Time
	UpdatedAt    time.Time
	FirstReplyAt time.Time // first agent reply; zero until then
	ResolvedAt   time.Time // resolved or closed; zero while open
}

// Case categories (each has ja/en text).
const (
	CaseLocked          = "locked" // locked or suspended
	CaseCodeNotArriving = "code_not_arriving"
	CaseTransfer        = "transfer"
	CaseTakeover        = "takeover"
	CaseCantSignIn      = "cant_sign_in"
)

// CaseCategories lists every category, in the order the form offers them.
var CaseCategories = []string{CaseLocked, CaseCodeNotArriving, CaseTransfer, CaseTakeover, CaseCantSignIn}

// Case statuses. Open and waiting cases take repeat requests; resolved and
// closed ones do not.
const (
	CaseOpen     = "open"     // support's turn
	CaseWaiting  = "waiting"  // waiting for the person
	CaseResolved = "resolved" // done; the person may still reply
	CaseClosed   = "closed"
)

// CaseStatuses lists every status.
var CaseStatuses = []string{CaseOpen, CaseWaiting, CaseResolved, CaseClosed}

// IsOpen reports whether the case still takes repeat requests.
func (c *Case) IsOpen() bool { return c.Status == CaseOpen || c.Status == CaseWaiting }

// CaseMessage is one entry of a case's thread.
type CaseMessage struct {
	ID     string
	CaseID string
	At     time.Time
	Author string // "person", "agent:ID" or "system"
	Kind   string // CaseMsgRequest, …
	Body   string
	Lang   string
	Status string // for CaseMsgStatus: the new status
}

// Kinds of case message.
const (
	CaseMsgRequest = "request" // the first request or a merged repeat
	CaseMsgReply   = "reply"   // an agent's reply, shown to the person
	CaseMsgPerson  = "person"  // the person's reply on the status page
	CaseMsgStatus  = "status"  // a status change, shown to the person
	CaseMsgNote    = "note"    // an agent's action, for agents only
)

// CaseFilter picks cases for the queue. Empty fields match everything;
// OlderThan keeps cases created before now-OlderThan.
type CaseFilter struct {
	Category  string
	Status    string // "" for every open case; "all" for every case
	Lang      string
	OlderThan time.Duration
	Limit     int
}

// CaseMetrics are the desk's numbers over a period.
type CaseMetrics struct {
	Opened, Merged, Resolved int
	Open                     int
	FirstReply, Resolution   time.Duration // medians; zero when none
}

// KnowledgeFields are what a host app may tell monban about an account so
// that an agent can check what a caller says (seed 002): never shown, only
// matched.
var KnowledgeFields = []string{"name", "address", "card_last4", "card_expiry", "birthdate", "phone"}

// IdentityCheck is one check of what a caller said against the knowledge.
type IdentityCheck struct {
	ID        int64
	CaseID    string
	AccountID string
	AgentID   string
	Field     string
	Matched   bool
	At        time.Time
}

// Audit actions of the support desk. Each carries the agent's id.
const (
	AuditCaseOpened      = "case.opened"
	AuditCaseMerged      = "case.merged"
	AuditCaseReplied     = "case.replied"
	AuditCaseStatus      = "case.status"
	AuditCaseViewed      = "case.viewed"
	AuditIdentityChecked = "case.identity_checked"
	AuditDeskLockLifted  = "case.lock_lifted"
	AuditPhoneVerified   = "case.phone_verified"
	AuditTwoStepReset    = "case.two_step_reset"
	AuditKnowledgeSet    = "account.knowledge_set"
	AuditAgentSignedIn   = "agent.signed_in"
	AuditAgentSignInFail = "agent.sign_in_failed"
	AuditAgentTOTP       = "agent.totp_enrolled"
	AuditAgentDenied     = "agent.denied"
	AuditAgentTOTPReset  = "agent.totp_reset" // by an operator: enrol again at next sign-in
)
