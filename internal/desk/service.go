package desk

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"strings"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/notices"
	"github.com/monban-dev/monban/internal/seal"
	"github.com/monban-dev/monban/internal/sqlstore"
	"github.com/monban-dev/monban/internal/throttle"
)

// Store is the storage the desk needs.
type Store interface {
	GrantStore
	AccountByID(ctx context.Context, id string) (*monban.Account, error)
	AccountsByIdentifier(ctx context.Context, kind monban.IdentifierKind, value string) ([]monban.Account, error)
	IdentifiersByAccount(ctx context.Context, accountID string) ([]monban.Identifier, error)
	HitLimits(ctx context.Context, now time.Time, limits []monban.Limit) error
	PeekLimits(ctx context.Context, now time.Time, limits []monban.Limit) (time.Time, error)

	FileCaseMatching(ctx context.Context, c *monban.Case, req *monban.CaseMessage, m sqlstore.CaseMatch,
		effects func(c *monban.Case, merged bool) (sqlstore.CaseEffects, error)) (*monban.Case, bool, error)
	UpdateCase(ctx context.Context, id string, fn func(c *monban.Case) (sqlstore.CaseEffects, error)) (*monban.Case, error)
	CaseByID(ctx context.Context, id string) (*monban.Case, error)
	CaseThread(ctx context.Context, caseID string) ([]monban.CaseMessage, error)
	QueueCases(ctx context.Context, f monban.CaseFilter, now time.Time) ([]monban.Case, error)
	CasesByAccount(ctx context.Context, accountID string) ([]monban.Case, error)
	CaseCounts(ctx context.Context) (map[string]int, error)
	CaseMetrics(ctx context.Context, since, until time.Time) (*monban.CaseMetrics, error)

	SetKnowledge(ctx context.Context, accountID string, hashes map[string][]byte, at time.Time, ev monban.AuditEvent) error
	Knowledge(ctx context.Context, accountID string) (map[string][]byte, error)
	RecordIdentityChecks(ctx context.Context, checks []monban.IdentityCheck, evs []monban.AuditEvent) error
	IdentityChecks(ctx context.Context, caseID string) ([]monban.IdentityCheck, error)

	AgentByUsername(ctx context.Context, username string) (*monban.Agent, error)
	AgentByID(ctx context.Context, id string) (*monban.Agent, error)
	AgentTOTP(ctx context.Context, agentID string) ([]byte, int64, error)
	SetAgentTOTP(ctx context.Context, agentID string, sealed []byte, step int64, ev monban.AuditEvent) error
	UseAgentTOTPStep(ctx context.Context, agentID string, step int64) error
	CreateAgentSession(ctx context.Context, s *sqlstore.AgentSession, ev monban.AuditEvent) error
	AgentSessionByTokenHash(ctx context.Context, hash []byte) (*sqlstore.AgentSession, error)
	TouchAgentSession(ctx context.Context, id string, level int, at, expires time.Time, ev monban.AuditEvent) error
	RevokeAgentSession(ctx context.Context, id string, at time.Time) error

	// The account's timeline.
	AuditByAccount(ctx context.Context, accountID string, limit int) ([]monban.AuditEvent, error)
	MessagesByAccount(ctx context.Context, accountID string, limit int) ([]monban.Message, error)
	LocksByAccount(ctx context.Context, accountID string) ([]monban.Lock, error)
	SignalsByAccount(ctx context.Context, accountID string, limit int) ([]monban.Signal, error)
	DevicesByAccount(ctx context.Context, accountID string) ([]monban.Device, error)
	FactorsByAccount(ctx context.Context, accountID string) ([]monban.Factor, error)

	// Account actions.
	VerifyPhone(ctx context.Context, accountID, phone string, at time.Time, ev monban.AuditEvent) error
	RemoveFactor(ctx context.Context, accountID, factorID string, twoStepOff bool, ev monban.AuditEvent) error
	SetTwoStep(ctx context.Context, accountID string, on bool, ev monban.AuditEvent) error
}

// Locks is the lock store's side the desk uses: the risk service.
type Locks interface {
	ActiveLock(ctx context.Context, accountID string) (*monban.Lock, error)
	Lift(ctx context.Context, l *monban.Lock, by, how string) error
}

// PasswordChecker checks an agent's password (argon2id).
type PasswordChecker interface {
	Verify(ctx context.Context, encoded, pw string) (ok, needsRehash bool, err error)
	VerifyDummy(ctx context.Context, pw string)
}

// Throttle is the counted path for agents' passwords
// (throttle.Service.Check with throttle.DeskPassword) and status links
// (CheckToken).
type Throttle interface {
	Check(ctx context.Context, a throttle.Attempt, compare func() error) error
	CheckToken(ctx context.Context, k throttle.Token, ip string, compare func() error) error
}

// Notifier wakes the outbox worker.
type Notifier interface{ Notify() }

// Config tunes the desk.
type Config struct {
	PublicURL      string        // where status links point, e.g. https://id.example.jp
	PoWMax         int64         // proof-of-work difficulty (the solver tries up to this many numbers)
	MaxDescription int           // characters
	PerIPHour      int           // requests per IP per hour
	PerIPDay       int           // requests per IP per day
	PerAccountDay  int           // requests per account (or identifier) per day
	SessionIdle    time.Duration // an agent session ends after this long unused
	SessionMax     time.Duration // and this long after sign-in, whatever happens
	FailedChecks   int           // failed identity checks per case before the checklist closes
	Issuer         string        // the name in agents' authenticator apps
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxDescription, 4000)
	def(&c.PerIPHour, 5)
	def(&c.PerIPDay, 20)
	def(&c.PerAccountDay, 5)
	def(&c.FailedChecks, 5)
	if c.PoWMax <= 0 {
		c.PoWMax = 50000
	}
	if c.SessionIdle <= 0 {
		c.SessionIdle = 15 * time.Minute
	}
	if c.SessionMax <= 0 {
		c.SessionMax = 8 * time.Hour
	}
	if c.Issuer == "" {
		c.Issuer = "monban desk"
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	return c
}

// Deps are what the desk is built from.
type Deps struct {
	Store    Store
	Clock    monban.Clock
	Box      *seal.Box
	Secret   []byte // keys status links, knowledge hashes and proof-of-work challenges
	Notices  *notices.Service
	Locks    Locks // nil: no lock store
	Password PasswordChecker
	Throttle Throttle // counts wrong agent passwords and status links
	Notify   Notifier
	Log      *slog.Logger
}

// Service is the support desk.
type Service struct {
	d      Deps
	cfg    Config
	Grants *Grants
}

// New returns the desk.
func New(d Deps, cfg Config) *Service {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{d: d, cfg: cfg.withDefaults(), Grants: NewGrants(d.Store, d.Clock)}
}

// Config returns the desk's settings with defaults filled in.
func (s *Service) Config() Config { return s.cfg }

// key derives a purpose's key from the server secret.
func (s *Service) key(purpose string) []byte {
	m := hmac.New(sha256.New, s.d.Secret)
	m.Write([]byte("monban desk " + purpose))
	return m.Sum(nil)
}

func (s *Service) mac(purpose, value string) []byte {
	m := hmac.New(sha256.New, s.key(purpose))
	m.Write([]byte(value))
	return m.Sum(nil)
}

// StatusToken is the secret part of a case's status link.
func (s *Service) StatusToken(caseID string) string {
	return base64.RawURLEncoding.EncodeToString(s.mac("status link", caseID)[:18])
}

// StatusURL is the link to a case's status page, sent to its contact.
func (s *Service) StatusURL(caseID string) string {
	return s.cfg.PublicURL + "/support/case/" + caseID + "/" + s.StatusToken(caseID)
}

func (s *Service) wake() {
	if s.d.Notify != nil {
		s.d.Notify.Notify()
	}
}
