package monban

import "time"

// Audit actions written by the foundation. Later capabilities add their own.
const (
	AuditRegistered     = "account.registered"
	AuditSignedIn       = "session.signed_in"
	AuditSignInFailed   = "session.sign_in_failed"
	AuditSignedOut      = "session.signed_out"
	AuditSessionRevoked = "session.revoked"
	AuditDeviceRevoked  = "device.revoked"
	AuditPasswordRehash = "password.rehashed"
	AuditAPIKeyCreated  = "apikey.created"
	AuditAPIKeyRevoked  = "apikey.revoked"
	AuditAgentCreated   = "agent.created"
	AuditIdentifierFix  = "identifier.corrected" // an unverified identifier retyped
	AuditVerified       = "identifier.verified"
)

// AuditEvent is one entry of the append-only audit log. AccountID or AgentID
// (or both) say whose log it belongs to.
type AuditEvent struct {
	ID        int64
	At        time.Time
	AccountID string
	AgentID   string
	Action    string
	IP        string
	UserAgent string
	Detail    map[string]string
}

// AuditFilter selects audit events for export: those at or after Since and
// before Until (no end when zero), of one account and/or agent when set.
type AuditFilter struct {
	Since, Until time.Time
	AccountID    string
	AgentID      string
}

// APIKey authenticates a host app. Only a hash of the secret is stored.
type APIKey struct {
	ID        string
	Name      string
	Hash      []byte // SHA-256 of the secret
	Admin     bool   // may also use the admin API (e.g. audit export)
	CreatedAt time.Time
	RevokedAt time.Time
}

// AgentRole is a support agent's role.
type AgentRole string

// Agent roles, in increasing power.
const (
	RoleAgent AgentRole = "agent"
	RoleLead  AgentRole = "lead"
	RoleAdmin AgentRole = "admin"
)

// Agent is a support-desk account. Agents sign in to the console only and
// never see or set account passwords.
type Agent struct {
	ID           string
	Username     string
	PasswordHash string
	Role         AgentRole
	CreatedAt    time.Time
	DisabledAt   time.Time
}

// AuditActions is every action the audit log records, so that each has a
// label wherever people read the log (the agent console).
// TestAuditActionsListed fails on an Audit… constant missing here.
var AuditActions = []string{
	AuditRegistered, AuditSignedIn, AuditSignInFailed, AuditSignedOut, AuditSessionRevoked, AuditDeviceRevoked,
	AuditPasswordRehash, AuditAPIKeyCreated, AuditAPIKeyRevoked, AuditAgentCreated, AuditIdentifierFix, AuditVerified,
	AuditLocked, AuditUnlocked, AuditBreakerTipped,
	AuditRecoveryStarted, AuditPasswordReset, AuditContactChanged, AuditContactChangeUndo,
	AuditFactorAdded, AuditFactorRemoved, AuditFactorRenamed, AuditFactorUsed, AuditRecoveryCodesNew, AuditRecoveryCodeUsed,
	AuditTwoStepOn, AuditTwoStepOff, AuditSignInPending, AuditSignInApproved, AuditSignInAskedApproval, AuditSignInDenied,
	AuditSignInUnchecked, AuditDeviceTrusted, AuditDeviceUntrusted, AuditReauthenticated, AuditReauthFailed,
	AuditOIDCClientAdded, AuditOIDCClientRemoved, AuditOIDCCodeReused, AuditOIDCRefreshReused,
	AuditCaseOpened, AuditCaseMerged, AuditCaseReplied, AuditCaseStatus, AuditCaseViewed, AuditIdentityChecked,
	AuditDeskLockLifted, AuditPhoneVerified, AuditTwoStepReset, AuditKnowledgeSet,
	AuditAgentSignedIn, AuditAgentSignInFail, AuditAgentTOTP, AuditAgentDenied, AuditAgentTOTPReset,
	AuditGrantCreated, AuditGrantUsed,
	AuditTransferOffered, AuditTransferStarted, AuditTransferPhone, AuditTransferProven, AuditTransferCompleted,
	AuditTransferCancelled, AuditTransferBadCode,
}
