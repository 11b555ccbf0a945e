package recovery

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/codes"
	"github.com/monban-dev/monban/internal/factors"
	"github.com/monban-dev/monban/internal/notices"
	"github.com/monban-dev/monban/internal/throttle"
)

// Store is the storage recovery needs.
type Store interface {
	AccountByID(ctx context.Context, id string) (*monban.Account, error)
	AccountsByIdentifier(ctx context.Context, kind monban.IdentifierKind, value string) ([]monban.Account, error)
	IdentifiersByAccount(ctx context.Context, accountID string) ([]monban.Identifier, error)
	HitLimits(ctx context.Context, now time.Time, limits []monban.Limit) error
	PeekLimits(ctx context.Context, now time.Time, limits []monban.Limit) (time.Time, error)

	CreateRecovery(ctx context.Context, r *monban.Recovery, ev *monban.AuditEvent) error
	RecoveryByID(ctx context.Context, id string) (*monban.Recovery, error)
	CountRecoveryCheck(ctx context.Context, id string) (int, error)
	MarkRecoveryCode(ctx context.Context, id string, at time.Time) error
	MarkRecoverySecond(ctx context.Context, id string, at time.Time) error
	ResetPassword(ctx context.Context, recoveryID, accountID, hash string, at time.Time, ev monban.AuditEvent,
		n *monban.Notice, msgs []*monban.Message) error

	CreateContactChange(ctx context.Context, c *monban.ContactChange) error
	ContactChangeByID(ctx context.Context, id string) (*monban.ContactChange, error)
	ContactChangeByUndo(ctx context.Context, hash []byte) (*monban.ContactChange, error)
	CompleteContactChange(ctx context.Context, c *monban.ContactChange, undoHash []byte, at time.Time,
		ev monban.AuditEvent, n *monban.Notice, msgs []*monban.Message) error
	UndoContactChange(ctx context.Context, c *monban.ContactChange, unusableHash string, at time.Time, ev monban.AuditEvent) error
}

// Codes sends and checks one-time codes.
type Codes interface {
	Start(ctx context.Context, in codes.StartInput) (*monban.Flow, error)
	Verify(ctx context.Context, flowID, accountID, code string) (*monban.Flow, error)
	Config() codes.Config
	FailureAttempt(accountID string, p monban.Purpose) throttle.Attempt
}

// Factors checks second factors (internal/factors).
type Factors interface {
	VerifyTOTP(ctx context.Context, accountID, code string, from factors.From) error
	UseRecoveryCode(ctx context.Context, accountID, code string, from factors.From) error
}

// Notices composes notices to be stored with the change they announce.
type Notices interface {
	Compose(ctx context.Context, accountID, topic string, params map[string]string, opts notices.Options) (*monban.Notice, []*monban.Message, error)
}

// Throttle is the sign-in throttle: a password reset clears it, and the
// password typed to confirm a contact change is throttled like a sign-in.
type Throttle interface {
	Begin(ctx context.Context, a throttle.Attempt) (*throttle.Ticket, error)
	Failed(ctx context.Context, t *throttle.Ticket)
	Succeeded(ctx context.Context, t *throttle.Ticket, accountIDs ...string) error
	Clear(ctx context.Context, auth, accountID string) error
	// ClearAfterReset forgets the password's and second factors' counters.
	ClearAfterReset(ctx context.Context, accountID string) error
	// CheckToken counts wrong "this wasn't me" links per network.
	CheckToken(ctx context.Context, k throttle.Token, ip string, compare func() error) error
}

// Hasher hashes and verifies passwords.
type Hasher interface {
	Hash(ctx context.Context, pw string) (string, error)
	Verify(ctx context.Context, encoded, pw string) (ok, needsRehash bool, err error)
}

// Policy decides whether a new password is acceptable.
type Policy interface {
	Check(pw string, twoStep bool, contextWords ...string) error
}

// Normalizer turns typed identifiers into their stored form.
type Normalizer interface {
	Normalize(kind monban.IdentifierKind, raw string) (string, error)
	Classify(raw string) (monban.IdentifierKind, string, error)
}

// Notifier wakes the outbox worker.
type Notifier interface{ Notify() }

// Config holds the rules of recovery.
type Config struct {
	Lifetime          time.Duration // of a login-help attempt, default 24 h
	PerIdentifierHour int           // login-help requests per identifier, default 5
	PerIPHour         int           // per IP, default 20
	UndoValid         time.Duration // of a "this wasn't me" link, default 14 days
	PublicURL         string        // where links point, e.g. https://id.example.jp
}

// DefaultConfig returns the defaults described on Config.
func DefaultConfig() Config {
	return Config{Lifetime: 24 * time.Hour, PerIdentifierHour: 5, PerIPHour: 20, UndoValid: 14 * 24 * time.Hour}
}

// Deps are the capabilities recovery uses. Factors, Locks and Throttle are
// required: New refuses to build a service without them.
type Deps struct {
	Store    Store
	Codes    Codes
	Factors  Factors
	Locks    Locks // lifts a lock a password reset may lift (risk.Service)
	Notices  Notices
	Throttle Throttle
	Hasher   Hasher
	// Passwords proves a signed-in person's password again before a
	// contact change (account.Service).
	Passwords PasswordChecker
	Policy    Policy
	IDs       Normalizer
	Outbox    Notifier
	Clock     monban.Clock
	Random    io.Reader
	Log       *slog.Logger
}

// PasswordChecker proves the password of a signed-in session's account
// again: throttled like a sign-in, a wrong one audited and reported to the
// risk rules (account.Service.CheckPassword).
type PasswordChecker interface {
	CheckPassword(ctx context.Context, cur *account.Current, pw string, m account.Meta) error
}

// Service implements login help and contact changes.
type Service struct {
	Deps
	cfg Config
}

// New returns a Service; zero fields of cfg take the defaults.
func New(d Deps, cfg Config) (*Service, error) {
	switch {
	case d.Factors == nil:
		return nil, errors.New("recovery: no second-factor checks")
	case d.Locks == nil:
		return nil, errors.New("recovery: no lock service")
	case d.Throttle == nil:
		return nil, errors.New("recovery: no throttle")
	}
	def := DefaultConfig()
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = def.Lifetime
	}
	if cfg.PerIdentifierHour == 0 {
		cfg.PerIdentifierHour = def.PerIdentifierHour
	}
	if cfg.PerIPHour == 0 {
		cfg.PerIPHour = def.PerIPHour
	}
	if cfg.UndoValid <= 0 {
		cfg.UndoValid = def.UndoValid
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{Deps: d, cfg: cfg}, nil
}

// Meta describes where a request came from.
type Meta struct {
	IP        string
	UserAgent string
	DeviceID  string
}

func (m Meta) audit(action, accountID string, at time.Time, detail map[string]string) monban.AuditEvent {
	return monban.AuditEvent{At: at, AccountID: accountID, Action: action, IP: m.IP, UserAgent: m.UserAgent, Detail: detail}
}

func (s *Service) wake() {
	if s.Outbox != nil {
		s.Outbox.Notify()
	}
}

// newToken returns 256 random bits, URL-safe, and their stored hash.
func (s *Service) newToken() (string, []byte, error) {
	var b [32]byte
	if _, err := io.ReadFull(s.Random, b[:]); err != nil {
		return "", nil, monban.Internalf("token: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	return tok, hashToken(tok), nil
}

func hashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

func hashHex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:16])
}

// unusableHash is a password hash no one knows the password of.
func (s *Service) unusableHash(ctx context.Context) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(s.Random, b[:]); err != nil {
		return "", monban.Internalf("random: %w", err)
	}
	return s.Hasher.Hash(ctx, base64.RawStdEncoding.EncodeToString(b[:]))
}

var _ io.Reader = rand.Reader
