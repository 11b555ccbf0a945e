package monban

import "time"

// OIDCClient is a relying party registered to sign people in with monban
// through OpenID Connect. Redirect URIs are compared exactly, character
// for character.
type OIDCClient struct {
	ID             string
	Name           string
	SecretHash     []byte // SHA-256 of the secret; nil for a public client
	RedirectURIs   []string
	PostLogoutURIs []string
	Scopes         []string // scopes beyond openid it may ask for
	Public         bool     // cannot keep a secret (native app, SPA): PKCE required
	FirstParty     bool     // the operator's own app: no consent page
	CreatedAt      time.Time
}

// AllowsScope reports whether the client may ask for scope.
func (c *OIDCClient) AllowsScope(scope string) bool {
	if scope == "openid" {
		return true
	}
	for _, s := range c.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// OIDCAuthRequest is one OpenID Connect authorization request, from the moment
// the relying party sends the browser to monban until its code is
// exchanged. The row outlives the exchange until it expires, so that a
// reused code can revoke what was issued from it.
type OIDCAuthRequest struct {
	ID                  string
	ClientID            string
	RedirectURI         string
	State               string
	Nonce               string
	Scopes              []string
	ResponseType        string
	ResponseMode        string
	CodeChallenge       string
	CodeChallengeMethod string
	Prompt              []string
	MaxAge              int // seconds; -1 when absent
	UILocales           string
	LoginHint           string
	// Set when the person has signed in and agreed.
	AccountID string
	SessionID string
	AuthTime  time.Time
	AMR       []string
	ACR       string
	DoneAt    time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Done reports whether the person signed in for the request.
func (a *OIDCAuthRequest) Done() bool { return !a.DoneAt.IsZero() }

// OIDCTokenKind says what an issued token is.
type OIDCTokenKind string

// Token kinds.
const (
	TokenAccess  OIDCTokenKind = "access"
	TokenRefresh OIDCTokenKind = "refresh"
)

// OIDCToken is an issued access or refresh token. A family is every token
// descended from one authorization code; reusing the code or a rotated
// refresh token revokes the whole family. Refresh tokens are stored as a
// hash only.
type OIDCToken struct {
	ID            string
	Kind          OIDCTokenKind
	Hash          []byte // refresh tokens: SHA-256 of the token
	FamilyID      string // the authorization request it descends from
	ClientID      string
	AccountID     string
	Scopes        []string
	AMR           []string
	AuthTime      time.Time
	CreatedAt     time.Time
	ExpiresAt     time.Time
	UsedAt        time.Time // refresh tokens: rotated (a second use is a reuse)
	RevokedAt     time.Time
	FamilyRevoked bool // set when read: the family was revoked
}

// Valid reports whether the token may be used at now.
func (t *OIDCToken) Valid(now time.Time) bool {
	return t.RevokedAt.IsZero() && !t.FamilyRevoked && now.Before(t.ExpiresAt)
}

// SigningKey is a key that signs ID tokens. The private half is sealed at
// rest; a key signs until RetireAt and stays published in the JWKS until
// ExpiresAt, after every token it signed has expired.
type SigningKey struct {
	ID            string
	Alg           string // e.g. "RS256"
	Public        []byte // PKIX DER
	PrivateSealed []byte // PKCS#8 DER, sealed
	CreatedAt     time.Time
	RetireAt      time.Time
	ExpiresAt     time.Time
}

// Audit actions of the OpenID Connect provider.
const (
	AuditOIDCClientAdded   = "oidc.client_added"
	AuditOIDCClientRemoved = "oidc.client_removed"
	AuditOIDCCodeReused    = "oidc.code_reused"    // the tokens from it were revoked
	AuditOIDCRefreshReused = "oidc.refresh_reused" // the family was revoked
)
