package factors

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"io"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/seal"
	"github.com/monban-dev/monban/internal/throttle"
)

// Store is the storage the factor use cases need.
type Store interface {
	CreateFactor(ctx context.Context, f *monban.Factor, secret []byte, credentialID string, ev monban.AuditEvent) error
	FactorsByAccount(ctx context.Context, accountID string) ([]monban.Factor, error)
	FactorSecret(ctx context.Context, accountID, factorID string) (*monban.Factor, []byte, int64, error)
	FactorByCredential(ctx context.Context, credID string) (*monban.Factor, []byte, error)
	UseTOTPStep(ctx context.Context, accountID, factorID string, step int64, at time.Time, confirm bool, ev monban.AuditEvent) error
	UpdateFactorSecret(ctx context.Context, accountID, factorID string, secret []byte, at time.Time) error
	RenameFactor(ctx context.Context, accountID, factorID, name string, ev monban.AuditEvent) error
	RemoveFactor(ctx context.Context, accountID, factorID string, twoStepOff bool, ev monban.AuditEvent) error
	ReplaceRecoveryCodes(ctx context.Context, f *monban.Factor, hashes [][]byte, ev monban.AuditEvent) error
	UseRecoveryCode(ctx context.Context, accountID string, hash []byte, at time.Time, ev monban.AuditEvent) error
	SetTwoStep(ctx context.Context, accountID string, on bool, ev monban.AuditEvent) error
	AccountByID(ctx context.Context, id string) (*monban.Account, error)
	IdentifiersByAccount(ctx context.Context, accountID string) ([]monban.Identifier, error)
	SaveCeremony(ctx context.Context, c *monban.Ceremony) error
	TakeCeremony(ctx context.Context, id, accountID string, kind monban.CeremonyKind, now time.Time) (*monban.Ceremony, error)
}

// Throttle is the counted path every guess of a TOTP or recovery code goes
// through (throttle.Service.Check): it claims a try before the compare, so
// no caller can forget the limit.
type Throttle interface {
	Check(ctx context.Context, a throttle.Attempt, compare func() error) error
}

var _ Throttle = (*throttle.Service)(nil)

// From is where a try of a second factor comes from: the device the
// owner's known devices are told apart by (their own counter, as with
// passwords), and the IP the per-IP limit counts.
type From struct {
	DeviceID string // the request's verified device id, "" for none
	IP       string
}

// Config holds the factor rules.
type Config struct {
	Issuer string // shown in authenticator apps and passkey prompts, e.g. "monban"
	// ReauthWindow is how recent the password (or a strong factor) must be
	// for a change of factors; default 10 minutes.
	ReauthWindow time.Duration
	// WebAuthn relying party: the site's registrable domain and its origins
	// (e.g. "https://id.example.jp"). Passkeys are off when RPID is empty.
	RPID      string
	RPOrigins []string
}

// Service implements the factor use cases.
type Service struct {
	store  Store
	box    *seal.Box
	clock  monban.Clock
	random io.Reader
	key    []byte
	cfg    Config
	wa     webAuthn
	guard  Throttle
}

// New returns a Service. key is the HMAC key of the recovery-code hashes
// (at least 32 bytes); box seals TOTP seeds at rest; guard counts every
// code checked and is required.
func New(store Store, box *seal.Box, clock monban.Clock, random io.Reader, key []byte, cfg Config, guard Throttle) (*Service, error) {
	if guard == nil {
		return nil, fmt.Errorf("factors: no throttle: codes would be checked without a limit")
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("factors: HMAC key of %d bytes: want at least 32", len(key))
	}
	if cfg.Issuer == "" {
		cfg.Issuer = "monban"
	}
	if cfg.ReauthWindow <= 0 {
		cfg.ReauthWindow = 10 * time.Minute
	}
	s := &Service{store: store, box: box, clock: clock, random: random, key: key, cfg: cfg, guard: guard}
	if cfg.RPID != "" {
		wa, err := newWebAuthn(cfg)
		if err != nil {
			return nil, err
		}
		s.wa = wa
	}
	return s, nil
}

// Config returns the rules in force.
func (s *Service) Config() Config { return s.cfg }

// Actor is the signed-in person changing their factors: AuthAt is when
// their session last proved the password (sign-in or re-authentication).
type Actor struct {
	AccountID string
	SessionID string
	AuthAt    time.Time
	IP        string
	UserAgent string
}

func (a Actor) audit(action string, at time.Time, detail map[string]string) monban.AuditEvent {
	if detail == nil {
		detail = map[string]string{}
	}
	if a.SessionID != "" {
		detail["session_id"] = a.SessionID
	}
	return monban.AuditEvent{At: at, AccountID: a.AccountID, Action: action, IP: a.IP, UserAgent: a.UserAgent, Detail: detail}
}

// ErrReauth is the refusal of a change that needs a fresh password.
func ErrReauth() *monban.Error { return monban.Errorf(monban.EForbidden, "reauth.required") }

// recent refuses a change unless the actor re-authenticated within the
// window (NIST SP 800-63B-4: re-authenticate before changing
// authenticators).
func (s *Service) recent(a Actor) error {
	if a.AuthAt.IsZero() || s.clock.Now().Sub(a.AuthAt) > s.cfg.ReauthWindow {
		return ErrReauth()
	}
	return nil
}

// Recent reports whether authAt is recent enough for a change of factors.
func (s *Service) Recent(authAt time.Time) bool {
	return !authAt.IsZero() && s.clock.Now().Sub(authAt) <= s.cfg.ReauthWindow
}

// List returns the account's usable factors (confirmed, not disabled),
// oldest first.
func (s *Service) List(ctx context.Context, accountID string) ([]monban.Factor, error) {
	all, err := s.store.FactorsByAccount(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := []monban.Factor{}
	for _, f := range all {
		if f.Active() {
			out = append(out, f)
		}
	}
	return out, nil
}

// HasStrongFactor reports whether the account has a usable TOTP app or
// passkey.
func (s *Service) HasStrongFactor(ctx context.Context, accountID string) (bool, error) {
	fs, err := s.List(ctx, accountID)
	if err != nil {
		return false, err
	}
	for _, f := range fs {
		if f.Kind.Strong() {
			return true, nil
		}
	}
	return false, nil
}

// Has reports whether the account has a usable factor of kind.
func (s *Service) Has(ctx context.Context, accountID string, kind monban.FactorKind) (bool, error) {
	fs, err := s.List(ctx, accountID)
	if err != nil {
		return false, err
	}
	for _, f := range fs {
		if f.Kind == kind && (kind != monban.FactorRecoveryCodes || f.Remaining > 0) {
			return true, nil
		}
	}
	return false, nil
}

// MaxNameLen bounds a factor's name.
const MaxNameLen = 64

// Rename names one of the actor's factors.
func (s *Service) Rename(ctx context.Context, a Actor, factorID, name string) error {
	name = cleanName(name)
	if name == "" || len(name) > MaxNameLen*4 || len([]rune(name)) > MaxNameLen {
		return monban.Errorf(monban.EInvalid, "factor.name_invalid").WithField("name").WithParams(map[string]any{"max": MaxNameLen})
	}
	ev := a.audit(monban.AuditFactorRenamed, s.clock.Now(), map[string]string{"factor_id": factorID})
	if err := s.store.RenameFactor(ctx, a.AccountID, factorID, name, ev); err != nil {
		if monban.IsNotFound(err) {
			return monban.Errorf(monban.ENotFound, "factor.not_found")
		}
		return err
	}
	return nil
}

// Remove deletes one of the actor's factors after a recent
// re-authentication. Removing the last strong factor (or the last factor
// of any kind) while 2-step is on switches 2-step off rather than leave an
// account that demands a proof it cannot give.
func (s *Service) Remove(ctx context.Context, a Actor, factorID string) error {
	if err := s.recent(a); err != nil {
		return err
	}
	all, err := s.List(ctx, a.AccountID)
	if err != nil {
		return err
	}
	var victim *monban.Factor
	strong := 0
	for i := range all {
		if all[i].ID == factorID {
			victim = &all[i]
		}
		if all[i].Kind.Strong() {
			strong++
		}
	}
	if victim == nil {
		return monban.Errorf(monban.ENotFound, "factor.not_found")
	}
	off := victim.Kind.Strong() && strong == 1
	ev := a.audit(monban.AuditFactorRemoved, s.clock.Now(), map[string]string{"factor_id": factorID, "kind": string(victim.Kind)})
	if off {
		ev.Detail["two_step"] = "off"
	}
	// notices: topic "factor.changed" — sent by the caller (web) once the
	// notices service is wired.
	return s.store.RemoveFactor(ctx, a.AccountID, factorID, off, ev)
}

// SetTwoStep switches 2-step verification on (which needs at least one
// strong factor or a verified contact) or off, after a recent
// re-authentication.
func (s *Service) SetTwoStep(ctx context.Context, a Actor, on bool) error {
	if err := s.recent(a); err != nil {
		return err
	}
	if on {
		ok, err := s.canTwoStep(ctx, a.AccountID)
		if err != nil {
			return err
		}
		if !ok {
			return monban.Errorf(monban.EConflict, "twostep.no_factor")
		}
	}
	action := monban.AuditTwoStepOff
	if on {
		action = monban.AuditTwoStepOn
	}
	return s.store.SetTwoStep(ctx, a.AccountID, on, a.audit(action, s.clock.Now(), nil))
}

func (s *Service) canTwoStep(ctx context.Context, accountID string) (bool, error) {
	strong, err := s.HasStrongFactor(ctx, accountID)
	if err != nil || strong {
		return strong, err
	}
	ids, err := s.store.IdentifiersByAccount(ctx, accountID)
	if err != nil {
		return false, err
	}
	for _, id := range ids {
		if id.Verified && id.Kind != monban.KindUsername {
			return true, nil
		}
	}
	return false, nil
}

// attempt is one try of an account's authenticator of kind auth.
func attempt(auth, accountID string, from From) throttle.Attempt {
	return throttle.Attempt{Authenticator: auth, AccountIDs: []string{accountID}, DeviceID: from.DeviceID, IP: from.IP}
}

// mac is the keyed hash of a recovery code.
func (s *Service) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{'|'})
	}
	return m.Sum(nil)
}
