package monban

import "time"

// FactorKind names a second factor.
type FactorKind string

// Factor kinds. SMS and email codes go to the account's verified contacts
// (the identifiers); they are listed as factors so that a person sees every
// way in, but only TOTP and passkeys count as strong (NIST SP 800-63B-4
// §3.2.9: SMS is never the only factor on offer).
const (
	FactorTOTP          FactorKind = "totp"
	FactorPasskey       FactorKind = "passkey"
	FactorRecoveryCodes FactorKind = "recovery_codes"
	FactorSMS           FactorKind = "sms"
	FactorEmail         FactorKind = "email"
)

// FactorKinds lists every factor kind.
var FactorKinds = []FactorKind{FactorTOTP, FactorPasskey, FactorRecoveryCodes, FactorSMS, FactorEmail}

// Strong reports whether the kind is phishing- or interception-resistant
// enough to stand alone as the second factor.
func (k FactorKind) Strong() bool { return k == FactorTOTP || k == FactorPasskey }

// Factor is one second factor of an account. Secrets (the TOTP seed, the
// recovery code hashes, a passkey's public key) are kept by the store and
// never travel with this type.
type Factor struct {
	ID          string
	AccountID   string
	Kind        FactorKind
	Name        string // chosen by the person, e.g. "iPhone の認証アプリ"
	CreatedAt   time.Time
	ConfirmedAt time.Time // TOTP: zero until a first code was accepted
	LastUsedAt  time.Time
	DisabledAt  time.Time // zero while usable
	Remaining   int       // recovery codes: how many are unused
}

// Active reports whether the factor is confirmed and not disabled.
func (f *Factor) Active() bool { return !f.ConfirmedAt.IsZero() && f.DisabledAt.IsZero() }

// Audit actions of second factors and 2-step sign-in.
const (
	AuditFactorAdded         = "factor.added"
	AuditFactorRemoved       = "factor.removed"
	AuditFactorRenamed       = "factor.renamed"
	AuditFactorUsed          = "factor.used"
	AuditRecoveryCodesNew    = "factor.recovery_codes_generated"
	AuditRecoveryCodeUsed    = "factor.recovery_code_used"
	AuditTwoStepOn           = "twostep.enabled"
	AuditTwoStepOff          = "twostep.disabled"
	AuditSignInPending       = "signin.pending"
	AuditSignInApproved      = "signin.approved"
	AuditSignInAskedApproval = "signin.approval_asked" // a push to the person's signed-in devices
	AuditSignInDenied        = "signin.denied"         // a hostile attempt: a signal for risk rules
	AuditSignInUnchecked     = "signin.new_device_unchecked"
	AuditDeviceTrusted       = "device.trusted"
	AuditDeviceUntrusted     = "device.untrusted"
	AuditReauthenticated     = "session.reauthenticated"
	AuditReauthFailed        = "session.reauth_failed" // a wrong password from a signed-in session
)

// CeremonyKind names a WebAuthn ceremony.
type CeremonyKind string

// WebAuthn ceremonies.
const (
	CeremonyRegister CeremonyKind = "register" // add a passkey
	CeremonyLogin    CeremonyKind = "login"    // a known account's passkey as second factor
	CeremonyDiscover CeremonyKind = "discover" // passwordless: the passkey names the account
)

// Ceremony is a WebAuthn registration or assertion in progress: the
// challenge and the options it was made with, usable once.
type Ceremony struct {
	ID        string
	AccountID string // "" for a discoverable (passwordless) sign-in
	Kind      CeremonyKind
	Data      string // JSON session data of the WebAuthn library
	CreatedAt time.Time
	ExpiresAt time.Time
}
