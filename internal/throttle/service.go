package throttle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/monban-dev/monban"
)

// Store is the storage the throttle needs.
type Store interface {
	// ClaimAttempt reads the counters of keys (absent ones are zero) and
	// calls decide with their states, in key order; when decide returns nil
	// it counts one failure on each, atomically across nodes, so a try is
	// paid for before the password is checked. An error from decide is
	// returned and nothing is written.
	ClaimAttempt(ctx context.Context, now time.Time, keys []string, decide func([]State) error) error
	// ResetThrottle sets the counters of keys back to zero.
	ResetThrottle(ctx context.Context, keys []string) error
	// ClearThrottle deletes every counter whose key starts with prefix.
	ClearThrottle(ctx context.Context, prefix string) error
	// DeviceKnown reports whether the account has a record of the device,
	// i.e. the device has signed in to the account before and was not
	// revoked since.
	DeviceKnown(ctx context.Context, accountID, deviceID string) (bool, error)
	PeekLimits(ctx context.Context, now time.Time, limits []monban.Limit) (time.Time, error)
	HitLimits(ctx context.Context, now time.Time, limits []monban.Limit) error
	// ReleaseLimits gives back one try HitLimits counted at now.
	ReleaseLimits(ctx context.Context, now time.Time, limits []monban.Limit) error
}

// Config is the throttle's configuration.
type Config struct {
	Policy Policy
	// PerIPHour bounds failed sign-ins from one IP (IPv6: one /64) per hour
	// from devices no account knows; GlobalPerMinute bounds all of them
	// together. Negative switches a limit off; zero takes the default.
	PerIPHour       int
	GlobalPerMinute int
	// TokenFailuresPerIPHour bounds wrong long random tokens (CheckToken)
	// per IP per hour, for kinds that name no number of their own.
	// Negative switches the limit off; zero takes the default.
	TokenFailuresPerIPHour int
	// Alert is told, once per episode, when the counter of a second factor
	// (an authenticator whose kind has Alert set: the password was right)
	// first reaches a delay and when it reaches DisableAt, so that the
	// owner hears "someone is trying to sign in with your password". It
	// runs after the failure is recorded; nil tells no one.
	Alert func(ctx context.Context, accountID, authenticator string, disabled bool)
}

// DefaultConfig suits a consumer service of a few million accounts.
var DefaultConfig = Config{Policy: DefaultPolicy, PerIPHour: 100, GlobalPerMinute: 3000,
	TokenFailuresPerIPHour: DefaultTokenFailuresPerIPHour}

// Authenticators that are throttled. A one-time code's counter is
// CodeOf(purpose): per account and purpose, across flows and resends.
const (
	Password     = "pwd"
	TOTP         = "totp"
	RecoveryCode = "rc"
	// Phone is the full registered number a lost-device transfer asks for
	// behind the masked one: whoever has the password must not walk its
	// hidden digits.
	Phone = "phone"
	// DeskPassword is a support agent's password, on counters of its own
	// (an agent is no account).
	DeskPassword = "desk.pwd"
	codePrefix   = "code."
)

// CodeOf is the authenticator of one-time codes sent for purpose.
func CodeOf(purpose monban.Purpose) string { return codePrefix + string(purpose) }

// Kind is how one authenticator is refused and whom its failures concern.
type Kind struct {
	Throttled string // the RateLimited key while a delay runs
	Disabled  string // the EForbidden key once DisableAt is reached
	// Alert: failures mean someone got past the password (a second factor,
	// a sign-in code), so the owner is told (Config.Alert).
	Alert bool
	// Policy overrides the service's policy when not zero.
	Policy Policy
	// Local: failures count on the account's counters only, not against
	// the per-IP and global windows of sign-in failures (one-time codes:
	// their sends are limited per IP and destination already, and a flood
	// of wrong codes must not stop strangers' password sign-ins).
	Local bool
}

// CodePolicy is the schedule of one-time codes across flows: each code
// allows 5 checks of its own (internal/codes), and a new code does not
// reset this count (NIST SP 800-63B-4 §3.1.3.2). The same five free
// failures and 30 s doubling to an hour as every other secret, but never
// disabled, since a stranger who can start a flow for the account could
// otherwise switch off the owner's codes.
var CodePolicy = Policy{Free: 5, Base: 30 * time.Second, Max: time.Hour}

// PhonePolicy: the number behind a mask has few unknown digits, so five
// free wrong numbers, then 30 s doubling to an hour; never disabled, since
// the owner moving to a new phone must still be able to type it.
var PhonePolicy = Policy{Free: 5, Base: 30 * time.Second, Max: time.Hour}

// DeskPasswordPolicy is a person's password schedule without the pause at
// 100: an agent has no login help to resume with, and whoever knows a
// username could otherwise switch the agent's sign-in off.
var DeskPasswordPolicy = Policy{Free: 5, Base: 30 * time.Second, Max: time.Hour}

// KindOf returns the rules of an authenticator.
func KindOf(auth string) Kind {
	switch auth {
	case Password:
		return Kind{Throttled: "signin.throttled", Disabled: "signin.password_disabled"}
	case TOTP:
		return Kind{Throttled: "secret.throttled", Disabled: "totp.disabled", Alert: true}
	case RecoveryCode:
		return Kind{Throttled: "secret.throttled", Disabled: "recovery_code.disabled", Alert: true}
	case DeskPassword:
		// Local: the desk keeps its own per-IP window; agents' failures
		// must not spend people's sign-in windows, nor theirs the desk's.
		return Kind{Throttled: "desk.signin_limit", Disabled: "desk.signin_limit", Policy: DeskPasswordPolicy, Local: true}
	case Phone:
		// Local: the password was right; a wrong number is no sign-in failure.
		return Kind{Throttled: "transfer.phone_throttled", Disabled: "transfer.phone_throttled", Policy: PhonePolicy, Local: true}
	}
	if p, ok := strings.CutPrefix(auth, codePrefix); ok {
		k := monban.Purpose(p)
		return Kind{Throttled: "code.too_many_failures", Disabled: "code.too_many_failures", Policy: CodePolicy,
			Alert: k == monban.PurposeSignIn || k == monban.PurposeNewDevice, Local: true}
	}
	return Kind{Throttled: "secret.throttled", Disabled: "secret.disabled"}
}

func (s *Service) policyOf(k Kind) Policy {
	if k.Policy != (Policy{}) {
		return k.Policy
	}
	return s.cfg.Policy
}

// Attempt is one try of an authenticator.
type Attempt struct {
	Authenticator string   // Password, TOTP, RecoveryCode or CodeOf(purpose)
	AccountIDs    []string // the accounts the identifier names; none when unknown
	Identifier    string   // the identifier as classified ("email:a@b.jp"), or as typed when malformed
	DeviceID      string   // the request's verified device id, "" for none
	IP            string
	// Policy overrides the authenticator's schedule when not zero (a
	// capability's configured schedule, e.g. codes.Config.FreeFailures).
	Policy Policy
}

// Ticket is a claimed attempt, to report its outcome.
type Ticket struct {
	keys    map[string]string // account id → its counter key
	trusted bool              // the device is known to at least one of the accounts
	ip      string
	auth    string
	prior   map[string]int // counter key → failures recorded before this try
	policy  Policy
}

// Service decides and records attempts.
type Service struct {
	store Store
	clock monban.Clock
	cfg   Config
	log   *slog.Logger
}

// New returns a Service; zero fields of cfg take DefaultConfig's values.
func New(store Store, clock monban.Clock, cfg Config, log *slog.Logger) *Service {
	if cfg.Policy == (Policy{}) {
		cfg.Policy = DefaultConfig.Policy
	}
	if cfg.PerIPHour == 0 {
		cfg.PerIPHour = DefaultConfig.PerIPHour
	}
	if cfg.GlobalPerMinute == 0 {
		cfg.GlobalPerMinute = DefaultConfig.GlobalPerMinute
	}
	if cfg.TokenFailuresPerIPHour == 0 {
		cfg.TokenFailuresPerIPHour = DefaultConfig.TokenFailuresPerIPHour
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, clock: clock, cfg: cfg, log: log}
}

// Config returns the configuration in force.
func (s *Service) Config() Config { return s.cfg }

// AccountKey is the counter of an authenticator of an account for devices
// the account does not know.
func AccountKey(auth, accountID string) string { return auth + ":acct:" + accountID + ":any" }

// DeviceKey is the counter of one device the account knows.
func DeviceKey(auth, accountID, deviceID string) string {
	return auth + ":acct:" + accountID + ":dev:" + deviceID
}

// IdentifierKey is the counter of an identifier that names no account:
// keyed by a hash, so the table holds no typed addresses.
func IdentifierKey(auth, identifier string) string {
	h := sha256.Sum256([]byte(identifier))
	return auth + ":id:" + hex.EncodeToString(h[:16])
}

func accountPrefix(auth, accountID string) string { return auth + ":acct:" + accountID + ":" }

// Begin claims one try, or refuses it: RateLimited "signin.throttled" with
// the next allowed time, or "signin.password_disabled" once the counter has
// reached the disabling threshold. The caller checks the password only
// after Begin allowed it, and reports the outcome with Succeeded (a failure
// needs Failed only for the IP and global limits: the counter is already
// paid).
func (s *Service) Begin(ctx context.Context, a Attempt) (*Ticket, error) {
	t := &Ticket{keys: map[string]string{}, ip: a.IP, auth: a.Authenticator, prior: map[string]int{}}
	kind := KindOf(a.Authenticator)
	if a.Policy != (Policy{}) {
		kind.Policy = a.Policy
	}
	policy := s.policyOf(kind)
	t.policy = policy
	for _, id := range a.AccountIDs {
		key := AccountKey(a.Authenticator, id)
		if a.DeviceID != "" {
			known, err := s.store.DeviceKnown(ctx, id, a.DeviceID)
			if err != nil {
				return nil, err
			}
			if known {
				key, t.trusted = DeviceKey(a.Authenticator, id, a.DeviceID), true
			}
		}
		t.keys[id] = key
	}
	if len(a.AccountIDs) == 0 {
		t.keys[""] = IdentifierKey(a.Authenticator, a.Identifier)
	}
	now := s.clock.Now()
	if !t.trusted && !kind.Local {
		next, err := s.store.PeekLimits(ctx, now, s.limits(a.IP))
		if err != nil {
			return nil, err
		}
		if next.After(now) {
			s.log.InfoContext(ctx, "sign-in throttled by IP or global limit", "ip", a.IP, "authenticator", a.Authenticator)
			return nil, monban.RateLimited(kind.Throttled, next)
		}
	}
	keys := make([]string, 0, len(t.keys))
	for _, k := range t.keys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	err := s.store.ClaimAttempt(ctx, now, keys, func(states []State) error {
		d := policy.DecideAll(states, now)
		switch {
		case d.Disabled:
			return monban.Errorf(monban.EForbidden, kind.Disabled)
		case !d.Allowed:
			return monban.RateLimited(kind.Throttled, d.RetryAt)
		}
		for i, k := range keys {
			t.prior[k] = states[i].Failures
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Check is the counted path for a guessable secret: it claims one try of a
// (refused with the time of the next allowed try, or as disabled), only then
// runs compare, and records the outcome — nil resets the counters of a's
// accounts, an error leaves the paid failure and counts against the IP and
// global limits. compare's error is returned as it is. The owner is alerted
// once per episode (Config.Alert).
func (s *Service) Check(ctx context.Context, a Attempt, compare func() error) error {
	t, err := s.Begin(ctx, a)
	if err != nil {
		return err
	}
	if err := compare(); err != nil {
		s.Failed(ctx, t)
		s.alert(ctx, t)
		return err
	}
	return s.Succeeded(ctx, t, a.AccountIDs...)
}

// alert tells Config.Alert when a failed try just made a stranger's counter
// reach the first delay or the disabling threshold: each happens once
// between two resets, so the owner hears once per episode, not per guess.
func (s *Service) alert(ctx context.Context, t *Ticket) {
	kind := KindOf(t.auth)
	if s.cfg.Alert == nil || !kind.Alert || t.trusted {
		return
	}
	p := t.policy
	for id, key := range t.keys {
		if id == "" {
			continue
		}
		n := t.prior[key] + 1
		switch {
		case p.DisableAt > 0 && n == p.DisableAt:
			s.cfg.Alert(ctx, id, t.auth, true)
		case n == p.Free+1:
			s.cfg.Alert(ctx, id, t.auth, false)
		}
	}
}

// Failed counts a failed try against the IP and global limits (devices that
// proved themselves before are not counted there: a flood of strangers must
// not stop the owners).
func (s *Service) Failed(ctx context.Context, t *Ticket) {
	if t == nil || t.trusted || KindOf(t.auth).Local {
		return
	}
	err := s.store.HitLimits(ctx, s.clock.Now(), s.limits(t.ip))
	if err != nil && monban.ErrorCodeOf(err) != monban.ERateLimited {
		s.log.WarnContext(ctx, "count failed sign-in", "err", err)
	}
}

// Succeeded resets the counters of the accounts whose password matched.
func (s *Service) Succeeded(ctx context.Context, t *Ticket, accountIDs ...string) error {
	if t == nil {
		return nil
	}
	var keys []string
	for _, id := range accountIDs {
		if k, ok := t.keys[id]; ok {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	return s.store.ResetThrottle(ctx, keys)
}

// Clear forgets every counter of the account's authenticator: a password
// reset ends a delay and re-enables a disabled password.
func (s *Service) Clear(ctx context.Context, auth, accountID string) error {
	return s.store.ClearThrottle(ctx, accountPrefix(auth, accountID))
}

// ClearAfterReset forgets the counters a password reset ends: the
// password's, and the second factors' (whoever guessed them had the old
// password, which no longer signs in). One-time codes keep theirs: a reset
// does not make the next code harder to guess.
func (s *Service) ClearAfterReset(ctx context.Context, accountID string) error {
	for _, auth := range []string{Password, TOTP, RecoveryCode} {
		if err := s.Clear(ctx, auth, accountID); err != nil {
			return err
		}
	}
	return nil
}

// limits are the IP and global limits on failures from unknown devices.
func (s *Service) limits(ip string) []monban.Limit {
	ls := []monban.Limit{{Key: "signin:fail:global", Window: time.Minute, Max: s.cfg.GlobalPerMinute, Err: "signin.throttled"}}
	if ip != "" {
		ls = append(ls, monban.Limit{Key: "signin:fail:ip:" + monban.IPScope(ip), Window: time.Hour, Max: s.cfg.PerIPHour, Err: "signin.throttled"})
	}
	return ls
}
