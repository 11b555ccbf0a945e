package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/monban-dev/monban"
)

// Store is the storage the account use cases need.
type Store interface {
	CreateAccount(ctx context.Context, a *monban.Account, ids []monban.Identifier, ev monban.AuditEvent) error
	AccountByID(ctx context.Context, id string) (*monban.Account, error)
	AccountsByIdentifier(ctx context.Context, kind monban.IdentifierKind, value string) ([]monban.Account, error)
	IdentifiersByAccount(ctx context.Context, accountID string) ([]monban.Identifier, error)
	ReplaceUnverifiedIdentifier(ctx context.Context, accountID string, kind monban.IdentifierKind, oldValue, newValue string, ev monban.AuditEvent) error
	UpdatePasswordHash(ctx context.Context, accountID, hash string, ev monban.AuditEvent) error
	CreateSession(ctx context.Context, s *monban.Session, d *monban.Device, evs ...monban.AuditEvent) error
	SessionByTokenHash(ctx context.Context, hash []byte) (*monban.Session, error)
	SessionCheck(ctx context.Context, hash []byte) (*monban.SessionState, error)
	TouchSession(ctx context.Context, id string, at time.Time) error
	SessionsByAccount(ctx context.Context, accountID string, now time.Time) ([]monban.Session, error)
	RevokeSession(ctx context.Context, accountID, sessionID string, at time.Time, ev monban.AuditEvent) error
	DevicesByAccount(ctx context.Context, accountID string) ([]monban.Device, error)
	RevokeDevice(ctx context.Context, accountID, deviceID string, at time.Time, ev monban.AuditEvent) error
	AppendAudit(ctx context.Context, ev monban.AuditEvent) error
}

// Hasher hashes and verifies passwords.
type Hasher interface {
	Hash(ctx context.Context, pw string) (string, error)
	Verify(ctx context.Context, encoded, pw string) (ok, needsRehash bool, err error)
	VerifyDummy(ctx context.Context, pw string)
}

// PasswordPolicy decides whether a new password is acceptable.
type PasswordPolicy interface {
	Check(pw string, twoStep bool, contextWords ...string) error
}

// Normalizer turns raw identifiers into their stored form.
type Normalizer interface {
	Normalize(kind monban.IdentifierKind, raw string) (string, error)
	Classify(raw string) (monban.IdentifierKind, string, error)
}

// Config holds session lifetimes and the sign-up limits.
type Config struct {
	// Accounts opened per address (IPv4, or IPv6 /64) per hour and per day.
	// 0: the default (10 and 50); negative: off.
	SignUpsPerIPHour, SignUpsPerIPDay int

	IdleTimeout     time.Duration // a session unused this long ends
	AbsoluteTimeout time.Duration // a session ends this long after sign-in
	// TouchEvery bounds how often the last-seen time is written, so the
	// session check stays a read on the hot path.
	TouchEvery time.Duration
}

func (c *Config) fill() {
	if c.SignUpsPerIPHour == 0 {
		c.SignUpsPerIPHour = 10
	}
	if c.SignUpsPerIPDay == 0 {
		c.SignUpsPerIPDay = 50
	}
}

// DefaultConfig suits a consumer app: a week idle, thirty days at most.
var DefaultConfig = Config{
	IdleTimeout:     7 * 24 * time.Hour,
	AbsoluteTimeout: 30 * 24 * time.Hour,
	TouchEvery:      time.Minute,
}

// Outcomes of a sign-in, for metrics.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeChoose  = "choose_account"
	OutcomePending = "pending" // the password was right; a second proof is awaited
)

// Service implements the account use cases.
type Service struct {
	store     Store
	hasher    Hasher
	policy    PasswordPolicy
	ids       Normalizer
	clock     monban.Clock
	random    io.Reader
	risk      riskHooks // signals out, locks in (risk.go)
	cfg       Config
	onOutcome func(outcome string)
	gate      Gate // decides whether the password alone is enough
	throttle  Throttle
	limits    Limiter // per-address limits of anonymous account creation
}

// Guards are what protect the use cases; each is required, so a service
// cannot be built (nor a node start) that lets the password alone through
// unthrottled, unrecorded or unlocked.
type Guards struct {
	Throttle Throttle     // password tries (internal/throttle)
	Risk     RiskRecorder // signals out (risk.Service)
	Locks    LockChecker  // locks in (risk.Service)
	Limits   Limiter      // sign-ups per address (the store)
}

// New returns a Service. random is the source of session tokens and ids
// (crypto/rand.Reader in production).
// The second-step gate is installed by twostep.New (the two need each
// other); until it is, every sign-in is refused (see Wired).
func New(store Store, hasher Hasher, policy PasswordPolicy, ids Normalizer, clock monban.Clock, random io.Reader, cfg Config, g Guards) (*Service, error) {
	switch {
	case g.Throttle == nil:
		return nil, errors.New("account: no sign-in throttle")
	case g.Risk == nil:
		return nil, errors.New("account: no risk recorder")
	case g.Locks == nil:
		return nil, errors.New("account: no lock checker")
	case g.Limits == nil:
		return nil, errors.New("account: no sign-up limiter")
	}
	if cfg.TouchEvery <= 0 {
		cfg.TouchEvery = time.Minute
	}
	cfg.fill()
	return &Service{store: store, hasher: hasher, policy: policy, ids: ids, clock: clock, random: random, cfg: cfg,
		onOutcome: func(string) {}, throttle: g.Throttle, risk: riskHooks{rec: g.Risk, locks: g.Locks}, limits: g.Limits}, nil
}

// Wired reports what the service still lacks to sign anyone in: the
// second-step gate, bound after construction by twostep.New. A node does
// not start while it is missing.
func (s *Service) Wired() error {
	if s.gate == nil {
		return errors.New("account: no second-step gate (twostep.New installs it)")
	}
	return nil
}

// OnSignInOutcome registers a callback (e.g. a metrics counter).
func (s *Service) OnSignInOutcome(f func(outcome string)) { s.onOutcome = f }

// Meta describes where a request came from.
type Meta struct {
	IP        string
	UserAgent string
	DeviceID  string // verified device cookie or app install key; "" for a new device
	Kind      monban.SessionKind
}

func (m Meta) audit(action, accountID string, at time.Time) monban.AuditEvent {
	return monban.AuditEvent{At: at, AccountID: accountID, Action: action, IP: m.IP, UserAgent: m.UserAgent}
}

// SignedIn is the result of a successful registration or sign-in. Token is
// shown to the client once and never stored.
type SignedIn struct {
	Account  *monban.Account
	Session  *monban.Session
	Token    string
	DeviceID string
}

// TokenPrefix marks monban session tokens so leaked ones are recognisable.
const TokenPrefix = "mbs_"

// HashToken returns the stored form of a session token.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func (s *Service) newToken() (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(s.random, b[:]); err != nil {
		return "", monban.Internalf("session token: %w", err)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// startSession creates a session (and device record) for a proven account.
// Entries in also are stored in the same transaction, before the sign-in's
// own.
func (s *Service) startSession(ctx context.Context, a *monban.Account, level int, methods []string, m Meta, action string, also ...monban.AuditEvent) (*SignedIn, error) {
	si, dev, err := s.NewSession(a, level, methods, m)
	if err != nil {
		return nil, err
	}
	ev := m.audit(action, a.ID, si.Session.CreatedAt)
	ev.Detail = map[string]string{"session_id": si.Session.ID, "device_id": si.DeviceID}
	if err := s.store.CreateSession(ctx, si.Session, dev, append(also, ev)...); err != nil {
		return nil, err
	}
	return si, nil
}

// NewSession makes, without storing, a session and its device record for
// a proven account: for flows that store the session together with what
// proved it, in one transaction (a transfer to a new device).
func (s *Service) NewSession(a *monban.Account, level int, methods []string, m Meta) (*SignedIn, *monban.Device, error) {
	now := s.clock.Now()
	token, err := s.newToken()
	if err != nil {
		return nil, nil, err
	}
	kind := m.Kind
	if kind == "" {
		kind = monban.SessionWeb
	}
	deviceID := m.DeviceID
	if deviceID == "" {
		deviceID = monban.NewID("dev")
	}
	sess := &monban.Session{
		ID: monban.NewID("ses"), TokenHash: HashToken(token), AccountID: a.ID, DeviceID: deviceID,
		Kind: kind, AuthLevel: level, Methods: methods, IP: m.IP, UserAgent: truncate(m.UserAgent, 512),
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.cfg.AbsoluteTimeout),
	}
	dev := &monban.Device{ID: deviceID, AccountID: a.ID, Kind: kind, Label: DeviceLabel(m.UserAgent), CreatedAt: now, LastSeenAt: now}
	return &SignedIn{Account: a, Session: sess, Token: token, DeviceID: deviceID}, dev, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n]
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// DeviceLabel summarises a user agent as "Browser on OS".
func DeviceLabel(ua string) string {
	browser, os := "", ""
	switch {
	case strings.Contains(ua, "Edg/"):
		browser = "Edge"
	case strings.Contains(ua, "Firefox/"):
		browser = "Firefox"
	case strings.Contains(ua, "Chrome/") || strings.Contains(ua, "HeadlessChrome/") || strings.Contains(ua, "Chromium/"):
		browser = "Chrome"
	case strings.Contains(ua, "Safari/"):
		browser = "Safari"
	}
	switch {
	case strings.Contains(ua, "Android"):
		os = "Android"
	case strings.Contains(ua, "iPhone") || strings.Contains(ua, "iPad"):
		os = "iOS"
	case strings.Contains(ua, "Windows"):
		os = "Windows"
	case strings.Contains(ua, "Mac OS X"):
		os = "macOS"
	case strings.Contains(ua, "Linux"):
		os = "Linux"
	}
	switch {
	case browser != "" && os != "":
		return browser + " / " + os
	case browser != "":
		return browser
	case os != "":
		return os
	case ua == "":
		return "?"
	}
	return truncate(ua, 40)
}

// randomReader is the production randomness source.
var _ io.Reader = rand.Reader
