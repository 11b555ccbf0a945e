package factors

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/monban-dev/monban"
)

// Passkeys: WebAuthn credentials that are discoverable (resident) and
// verify the user (PIN or biometrics), so one passkey is two factors
// (possession and the unlock) — a second factor after a password and a
// whole sign-in without one. The user handle is the account id: random,
// no personal data.

// ceremonyLifetime bounds the time between the options and the response.
const ceremonyLifetime = 5 * time.Minute

type webAuthn = *webauthn.WebAuthn

func newWebAuthn(cfg Config) (webAuthn, error) {
	return webauthn.New(&webauthn.Config{RPID: cfg.RPID, RPDisplayName: cfg.Issuer, RPOrigins: cfg.RPOrigins,
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyLifetime},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyLifetime},
		}})
}

// PasskeysEnabled reports whether a relying party is configured.
func (s *Service) PasskeysEnabled() bool { return s.wa != nil }

func errPasskeysOff() error { return monban.Errorf(monban.EInvalid, "passkey.unavailable") }

func errPasskeyFailed(err error) error {
	return monban.Errorf(monban.EUnauthorized, "passkey.failed").Wrap(err)
}

// user is an account as the WebAuthn library sees it.
type user struct {
	id, name string
	creds    []webauthn.Credential
	factors  map[string]string // credential id (base64url) → factor id
}

func (u *user) WebAuthnID() []byte                         { return []byte(u.id) }
func (u *user) WebAuthnName() string                       { return u.name }
func (u *user) WebAuthnDisplayName() string                { return u.name }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// loadUser reads the account's passkeys.
func (s *Service) loadUser(ctx context.Context, accountID, name string) (*user, error) {
	u := &user{id: accountID, name: name, factors: map[string]string{}}
	all, err := s.store.FactorsByAccount(ctx, accountID)
	if err != nil {
		return nil, err
	}
	for _, f := range all {
		if f.Kind != monban.FactorPasskey || !f.Active() {
			continue
		}
		_, secret, _, err := s.store.FactorSecret(ctx, accountID, f.ID)
		if err != nil {
			return nil, err
		}
		var c webauthn.Credential
		if err := json.Unmarshal(secret, &c); err != nil {
			return nil, monban.Internalf("passkey %s: %w", f.ID, err)
		}
		u.creds = append(u.creds, c)
		u.factors[credKey(c.ID)] = f.ID
	}
	return u, nil
}

func credKey(id []byte) string { return base64.RawURLEncoding.EncodeToString(id) }

// Options are a ceremony's id and the JSON the browser passes to
// navigator.credentials.create or .get.
type Options struct {
	CeremonyID string          `json:"ceremony_id"`
	PublicKey  json.RawMessage `json:"publicKey"`
}

func (s *Service) saveCeremony(ctx context.Context, accountID string, kind monban.CeremonyKind, sd *webauthn.SessionData, pk any) (*Options, error) {
	data, err := json.Marshal(sd)
	if err != nil {
		return nil, monban.Internalf("ceremony: %w", err)
	}
	now := s.clock.Now()
	c := &monban.Ceremony{ID: monban.NewID("cer"), AccountID: accountID, Kind: kind, Data: string(data),
		CreatedAt: now, ExpiresAt: now.Add(ceremonyLifetime)}
	if err := s.store.SaveCeremony(ctx, c); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(pk)
	if err != nil {
		return nil, monban.Internalf("ceremony options: %w", err)
	}
	return &Options{CeremonyID: c.ID, PublicKey: raw}, nil
}

// takeCeremony returns the ceremony's session data, once.
func (s *Service) takeCeremony(ctx context.Context, id, accountID string, kind monban.CeremonyKind) (*webauthn.SessionData, error) {
	c, err := s.store.TakeCeremony(ctx, id, accountID, kind, s.clock.Now())
	if monban.IsNotFound(err) {
		return nil, monban.Errorf(monban.EInvalid, "passkey.expired")
	}
	if err != nil {
		return nil, err
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal([]byte(c.Data), &sd); err != nil {
		return nil, monban.Internalf("ceremony data: %w", err)
	}
	return &sd, nil
}

// BeginPasskey starts adding a passkey for the actor (after a recent
// re-authentication); name is what the authenticator shows for the account.
func (s *Service) BeginPasskey(ctx context.Context, a Actor, name string) (*Options, error) {
	if s.wa == nil {
		return nil, errPasskeysOff()
	}
	if err := s.recent(a); err != nil {
		return nil, err
	}
	u, err := s.loadUser(ctx, a.AccountID, name)
	if err != nil {
		return nil, err
	}
	var exclude []protocol.CredentialDescriptor
	for _, c := range u.creds {
		exclude = append(exclude, c.Descriptor())
	}
	creation, sd, err := s.wa.BeginRegistration(u,
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification: protocol.VerificationRequired}),
		webauthn.WithExclusions(exclude))
	if err != nil {
		return nil, monban.Internalf("begin registration: %w", err)
	}
	return s.saveCeremony(ctx, a.AccountID, monban.CeremonyRegister, sd, creation.Response)
}

// FinishPasskey checks the browser's attestation response and stores the
// passkey as a factor named name.
func (s *Service) FinishPasskey(ctx context.Context, a Actor, ceremonyID string, response []byte, name string) (*monban.Factor, error) {
	if s.wa == nil {
		return nil, errPasskeysOff()
	}
	if err := s.recent(a); err != nil {
		return nil, err
	}
	sd, err := s.takeCeremony(ctx, ceremonyID, a.AccountID, monban.CeremonyRegister)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, errPasskeyFailed(err)
	}
	u, err := s.loadUser(ctx, a.AccountID, "")
	if err != nil {
		return nil, err
	}
	cred, err := s.wa.CreateCredential(u, *sd, parsed)
	if err != nil {
		return nil, errPasskeyFailed(err)
	}
	secret, err := json.Marshal(cred)
	if err != nil {
		return nil, monban.Internalf("passkey: %w", err)
	}
	if name = cleanName(name); name == "" || len([]rune(name)) > MaxNameLen {
		name = "Passkey"
	}
	now := s.clock.Now()
	f := &monban.Factor{ID: monban.NewID("fac"), AccountID: a.AccountID, Kind: monban.FactorPasskey, Name: name,
		CreatedAt: now, ConfirmedAt: now}
	ev := a.audit(monban.AuditFactorAdded, now, map[string]string{"factor_id": f.ID, "kind": string(f.Kind)})
	if err := s.store.CreateFactor(ctx, f, secret, credKey(cred.ID), ev); err != nil {
		return nil, err
	}
	return f, nil
}

// BeginPasskeyCheck starts a passkey assertion for a known account (the
// second step after the password).
func (s *Service) BeginPasskeyCheck(ctx context.Context, accountID string) (*Options, error) {
	if s.wa == nil {
		return nil, errPasskeysOff()
	}
	u, err := s.loadUser(ctx, accountID, "")
	if err != nil {
		return nil, err
	}
	if len(u.creds) == 0 {
		return nil, monban.Errorf(monban.EInvalid, "passkey.none")
	}
	assertion, sd, err := s.wa.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, monban.Internalf("begin login: %w", err)
	}
	return s.saveCeremony(ctx, accountID, monban.CeremonyLogin, sd, assertion.Response)
}

// FinishPasskeyCheck verifies an assertion by one of the account's
// passkeys. A forged, replayed or foreign assertion is EUnauthorized
// "passkey.failed".
func (s *Service) FinishPasskeyCheck(ctx context.Context, accountID, ceremonyID string, response []byte) error {
	if s.wa == nil {
		return errPasskeysOff()
	}
	sd, err := s.takeCeremony(ctx, ceremonyID, accountID, monban.CeremonyLogin)
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return errPasskeyFailed(err)
	}
	u, err := s.loadUser(ctx, accountID, "")
	if err != nil {
		return err
	}
	cred, err := s.wa.ValidateLogin(u, *sd, parsed)
	if err != nil {
		return errPasskeyFailed(err)
	}
	return s.passkeyUsed(ctx, u, cred)
}

// BeginPasskeySignIn starts a passwordless sign-in: the browser offers the
// person's passkeys for this site, and the one chosen names the account.
func (s *Service) BeginPasskeySignIn(ctx context.Context) (*Options, error) {
	if s.wa == nil {
		return nil, errPasskeysOff()
	}
	assertion, sd, err := s.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, monban.Internalf("begin discoverable login: %w", err)
	}
	return s.saveCeremony(ctx, "", monban.CeremonyDiscover, sd, assertion.Response)
}

// FinishPasskeySignIn verifies a discoverable assertion and returns the
// account it proves.
func (s *Service) FinishPasskeySignIn(ctx context.Context, ceremonyID string, response []byte) (string, error) {
	if s.wa == nil {
		return "", errPasskeysOff()
	}
	sd, err := s.takeCeremony(ctx, ceremonyID, "", monban.CeremonyDiscover)
	if err != nil {
		return "", err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return "", errPasskeyFailed(err)
	}
	var found *user
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		f, _, err := s.store.FactorByCredential(ctx, credKey(rawID))
		if err != nil {
			return nil, err
		}
		if !bytes.Equal([]byte(f.AccountID), userHandle) {
			return nil, monban.Errorf(monban.EUnauthorized, "passkey.failed")
		}
		found, err = s.loadUser(ctx, f.AccountID, "")
		return found, err
	}
	_, cred, err := s.wa.ValidatePasskeyLogin(handler, *sd, parsed)
	if err != nil {
		if monban.ErrorCodeOf(err) == monban.EUnavailable {
			return "", err
		}
		return "", errPasskeyFailed(err)
	}
	if err := s.passkeyUsed(ctx, found, cred); err != nil {
		return "", err
	}
	return found.id, nil
}

// passkeyUsed stores the credential's new counters; an authenticator whose
// counter went backwards may be cloned and is refused.
func (s *Service) passkeyUsed(ctx context.Context, u *user, cred *webauthn.Credential) error {
	if cred.Authenticator.CloneWarning {
		return errPasskeyFailed(nil)
	}
	fid, ok := u.factors[credKey(cred.ID)]
	if !ok {
		return errPasskeyFailed(nil)
	}
	secret, err := json.Marshal(cred)
	if err != nil {
		return monban.Internalf("passkey: %w", err)
	}
	return s.store.UpdateFactorSecret(ctx, u.id, fid, secret, s.clock.Now())
}
