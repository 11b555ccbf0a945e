package transfer

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/codes"
	"github.com/monban-dev/monban/internal/factors"
	"github.com/monban-dev/monban/internal/notices"
	"github.com/monban-dev/monban/internal/throttle"
)

// Store is the storage transfers need.
type Store interface {
	AccountByID(ctx context.Context, id string) (*monban.Account, error)
	IdentifiersByAccount(ctx context.Context, accountID string) ([]monban.Identifier, error)
	SessionsByAccount(ctx context.Context, accountID string, now time.Time) ([]monban.Session, error)
	OfferTransfer(ctx context.Context, t *monban.Transfer, ev monban.AuditEvent) error
	StartTransfer(ctx context.Context, t *monban.Transfer, ev monban.AuditEvent) error
	TransferByID(ctx context.Context, id string) (*monban.Transfer, error)
	OpenTransfer(ctx context.Context, accountID string, now time.Time) (*monban.Transfer, error)
	TransferByBindingHash(ctx context.Context, hash []byte) (*monban.Transfer, error)
	ConfirmTransferPhone(ctx context.Context, id string, now time.Time, p *monban.PendingSignIn, ev monban.AuditEvent) error
	SetTransferFlow(ctx context.Context, id, flowID string) error
	ApproveTransfer(ctx context.Context, id, method string, now time.Time, ev monban.AuditEvent) error
	CancelTransfer(ctx context.Context, id string, now time.Time, ev monban.AuditEvent) error
	CompleteTransfer(ctx context.Context, c monban.TransferCompletion) (*monban.Transfer, []string, error)
	PendingByID(ctx context.Context, id string) (*monban.PendingSignIn, error)
	GrantsByAccount(ctx context.Context, accountID string, usableAt time.Time) ([]monban.Grant, error)
	HitLimits(ctx context.Context, now time.Time, limits []monban.Limit) error
	PeekLimits(ctx context.Context, now time.Time, limits []monban.Limit) (time.Time, error)
	AppendAudit(ctx context.Context, ev monban.AuditEvent) error
}

// Codes is what transfers need of internal/codes.
type Codes interface {
	Start(ctx context.Context, in codes.StartInput) (*monban.Flow, error)
	Verify(ctx context.Context, flowID, accountID, code string) (*monban.Flow, error)
	Status(ctx context.Context, flowID, accountID string) (*codes.Status, error)
	Destination(ch monban.Channel, raw string) (string, error)
	Facts(ctx context.Context, flowID, accountID string, contacts []codes.Contact) (codes.Facts, error)
}

// Factors is what transfers need of internal/factors.
type Factors interface {
	List(ctx context.Context, accountID string) ([]monban.Factor, error)
	VerifyTOTP(ctx context.Context, accountID, code string, from factors.From) error
	BeginPasskeyCheck(ctx context.Context, accountID string) (*factors.Options, error)
	FinishPasskeyCheck(ctx context.Context, accountID, ceremonyID string, response []byte) error
	PasskeysEnabled() bool
}

// Guard is the counted path the registered number is checked on
// (throttle.Service.Check with throttle.Phone).
type Guard interface {
	Check(ctx context.Context, a throttle.Attempt, compare func() error) error
}

// Notices composes the account.transferred notice, stored with the move.
type Notices interface {
	Compose(ctx context.Context, accountID, topic string, params map[string]string, opts notices.Options) (*monban.Notice, []*monban.Message, error)
}

// Config holds the transfer rules.
type Config struct {
	// LostLifetime: a transfer without the old device stays open this long
	// after the password, default 30 minutes.
	LostLifetime time.Duration
	// AttemptsPerDay: transfer and email codes sent per account per 24 h
	// window, default 3 (seed 001's "attempt limit reached").
	AttemptsPerDay int
	// Binding codes entered wrongly: per address (IPv6: /64) per hour,
	// default 10, and in total per minute, default 300.
	BindingFailuresPerIPHour int
	BindingFailuresPerMinute int
	PublicURL                string // the QR code opens PublicURL/transfer/receive
	SupportURL               string // default /support/new?category=transfer
}

func (c *Config) fill() {
	if c.LostLifetime <= 0 {
		c.LostLifetime = 30 * time.Minute
	}
	if c.AttemptsPerDay == 0 {
		c.AttemptsPerDay = 3
	}
	if c.BindingFailuresPerIPHour == 0 {
		c.BindingFailuresPerIPHour = 10
	}
	if c.BindingFailuresPerMinute == 0 {
		c.BindingFailuresPerMinute = 300
	}
	if c.SupportURL == "" {
		c.SupportURL = "/support/new?category=transfer"
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
}

// Service implements transfers.
type Service struct {
	store    Store
	accounts *account.Service
	codes    Codes
	factors  Factors
	notices  Notices
	guard    Guard
	clock    monban.Clock
	random   io.Reader
	key      []byte
	cfg      Config
	log      *slog.Logger
}

// New returns a Service. key is the HMAC key binding codes are stored
// under (at least 32 bytes); notices may be nil (no notice is sent); guard
// counts wrong registered numbers.
func New(store Store, accounts *account.Service, c Codes, f Factors, n Notices, guard Guard, clock monban.Clock, random io.Reader,
	key []byte, cfg Config, log *slog.Logger) (*Service, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("transfer: HMAC key of %d bytes: want at least 32", len(key))
	}
	cfg.fill()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, accounts: accounts, codes: c, factors: f, notices: n, guard: guard, clock: clock, random: random,
		key: key, cfg: cfg, log: log}, nil
}

// Config returns the rules in force.
func (s *Service) Config() Config { return s.cfg }

// attemptLimit counts code sends of an account's transfers in the last 24
// hours, rolling (not reset at midnight UTC, which is 09:00 in Japan).
func (s *Service) attemptLimit(accountID string) monban.Limit {
	return monban.Limit{Key: "transfer:acct:d:" + accountID, Window: 24 * time.Hour, Step: time.Minute, Max: s.cfg.AttemptsPerDay, Err: "transfer.attempts"}
}

func (s *Service) bindingLimits(ip string) []monban.Limit {
	return []monban.Limit{
		{Key: "transfer:bind:ip:h:" + monban.IPScope(ip), Window: time.Hour, Max: s.cfg.BindingFailuresPerIPHour, Err: "transfer.too_many_codes"},
		{Key: "transfer:bind:all:m", Window: time.Minute, Max: s.cfg.BindingFailuresPerMinute, Err: "transfer.too_many_codes"},
	}
}

func (s *Service) bindingHash(code string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("transfer-binding|" + code))
	return m.Sum(nil)
}

func (s *Service) secret() (string, []byte, error) {
	var b [32]byte
	if _, err := io.ReadFull(s.random, b[:]); err != nil {
		return "", nil, monban.Internalf("transfer secret: %w", err)
	}
	sec := base64.RawURLEncoding.EncodeToString(b[:])
	return sec, hashSecret(sec), nil
}

func hashSecret(sec string) []byte {
	h := sha256.Sum256([]byte(sec))
	return h[:]
}

// Handle is how the new device names its lost-device transfer: the id and
// the secret it was given at the start, and the request it comes with.
type Handle struct {
	ID, Secret string
	Meta       account.Meta
	Lang       string
}

// open returns the transfer h unlocks. A wrong secret or unknown id is
// "transfer.invalid"; nothing tells them apart.
func (s *Service) open(ctx context.Context, h Handle) (*monban.Transfer, error) {
	if h.ID == "" || h.Secret == "" || len(h.ID) > 64 || len(h.Secret) > 128 {
		return nil, errInvalid()
	}
	t, err := s.store.TransferByID(ctx, h.ID)
	if monban.IsNotFound(err) {
		return nil, errInvalid()
	}
	if err != nil {
		return nil, err
	}
	if t.Kind != monban.TransferLost || subtle.ConstantTimeCompare(t.SecretHash, hashSecret(h.Secret)) != 1 {
		return nil, errInvalid()
	}
	return t, nil
}

func errInvalid() error { return monban.Errorf(monban.EUnauthorized, "transfer.invalid") }

// goingOn refuses a transfer that can no longer go on, saying why.
func (s *Service) goingOn(t *monban.Transfer) error {
	switch t.StateAt(s.clock.Now()) {
	case monban.TransferExpired:
		return monban.Errorf(monban.EConflict, "transfer.expired")
	case monban.TransferCompleted:
		return monban.Errorf(monban.EConflict, "transfer.completed")
	case monban.TransferCancelled:
		return monban.Errorf(monban.EConflict, "transfer.cancelled")
	}
	return nil
}

// Get returns a transfer for the host app (API key): its state, how it was
// proven and which device now holds the account.
func (s *Service) Get(ctx context.Context, id string) (*monban.Transfer, error) {
	if len(id) > 64 {
		return nil, monban.Errorf(monban.ENotFound, "transfer.not_found")
	}
	t, err := s.store.TransferByID(ctx, id)
	if monban.IsNotFound(err) {
		return nil, monban.Errorf(monban.ENotFound, "transfer.not_found")
	}
	if err != nil {
		return nil, err
	}
	t.State = t.StateAt(s.clock.Now())
	return t, nil
}

// Now is the service's clock, for pages that show remaining time.
func (s *Service) Now() time.Time { return s.clock.Now() }
