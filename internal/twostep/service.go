package twostep

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/codes"
	"github.com/monban-dev/monban/internal/factors"
	"github.com/monban-dev/monban/internal/notices"
	"github.com/monban-dev/monban/internal/throttle"
)

// Store is the storage the second step needs.
type Store interface {
	AccountByID(ctx context.Context, id string) (*monban.Account, error)
	IdentifiersByAccount(ctx context.Context, accountID string) ([]monban.Identifier, error)
	DeviceByID(ctx context.Context, accountID, deviceID string) (*monban.Device, error)
	SessionsByAccount(ctx context.Context, accountID string, now time.Time) ([]monban.Session, error)
	CreatePending(ctx context.Context, p *monban.PendingSignIn, ev monban.AuditEvent) error
	PendingByID(ctx context.Context, id string) (*monban.PendingSignIn, error)
	SetPendingFlow(ctx context.Context, id, flowID string) error
	AskApproval(ctx context.Context, id string, linkHash []byte, now, expires time.Time, limits []monban.Limit, ev monban.AuditEvent,
		n *monban.Notice, msgs []*monban.Message) error
	DecidePending(ctx context.Context, id string, to monban.PendingState, by string, at time.Time, ev monban.AuditEvent) error
	CompletePending(ctx context.Context, id string, at time.Time) error
	OpenApprovals(ctx context.Context, accountID string, now time.Time) ([]monban.PendingSignIn, error)
	SetDeviceTrust(ctx context.Context, accountID, deviceID string, until time.Time, ev monban.AuditEvent) error
	RecordReauth(ctx context.Context, sessionID string, at time.Time, ev monban.AuditEvent) error
	ReauthAt(ctx context.Context, sessionID string) (time.Time, error)
	AppendAudit(ctx context.Context, ev monban.AuditEvent) error
}

// Factors is what the second step needs of internal/factors.
type Factors interface {
	List(ctx context.Context, accountID string) ([]monban.Factor, error)
	VerifyTOTP(ctx context.Context, accountID, code string, from factors.From) error
	UseRecoveryCode(ctx context.Context, accountID, code string, from factors.From) error
	FinishPasskeyCheck(ctx context.Context, accountID, ceremonyID string, response []byte) error
	FinishPasskeySignIn(ctx context.Context, ceremonyID string, response []byte) (string, error)
	PasskeysEnabled() bool
}

// Codes is what the second step needs of internal/codes.
type Codes interface {
	Start(ctx context.Context, in codes.StartInput) (*monban.Flow, error)
	Verify(ctx context.Context, flowID, accountID, code string) (*monban.Flow, error)
	Facts(ctx context.Context, flowID, accountID string, contacts []codes.Contact) (codes.Facts, error)
}

// Notices composes the message that carries the one-time approval link
// (notices.Service), stored with the prompt in one transaction.
type Notices interface {
	Compose(ctx context.Context, accountID, topic string, params map[string]string, opts notices.Options) (*monban.Notice, []*monban.Message, error)
}

// Config holds the second-step rules.
type Config struct {
	PendingLifetime  time.Duration // a held sign-in waits this long, default 10 minutes
	ApprovalLifetime time.Duration // an approve-or-deny prompt stays open, default 5 minutes
	ApprovalsPerHour int           // prompts per account per hour, default 5
	// ApproverMaxAge: a session may approve only if it signed in (or
	// re-authenticated) this recently, default 14 days.
	ApproverMaxAge time.Duration
	TrustDays      int // "remember this device" lasts this long, default 30
	// PublicURL is monban's address, e.g. "https://id.example.jp": the
	// approval link sent by email and SMS starts with it.
	PublicURL string
}

func (c *Config) fill() {
	if c.PendingLifetime <= 0 {
		c.PendingLifetime = 10 * time.Minute
	}
	if c.ApprovalLifetime <= 0 {
		c.ApprovalLifetime = 5 * time.Minute
	}
	if c.ApprovalsPerHour == 0 {
		c.ApprovalsPerHour = 5
	}
	if c.ApproverMaxAge <= 0 {
		c.ApproverMaxAge = 14 * 24 * time.Hour
	}
	if c.TrustDays <= 0 {
		c.TrustDays = 30
	}
}

// Service implements the second step.
type Service struct {
	store    Store
	accounts *account.Service
	factors  Factors
	codes    Codes
	clock    monban.Clock
	random   io.Reader
	cfg      Config
	log      *slog.Logger
	notify   func(ctx context.Context, accountID, topic string, params map[string]string)
	notices  Notices
	tokens   Tokens
}

// Tokens is the counted path one-time approval links are checked on
// (throttle.Service.CheckToken): wrong links per network.
type Tokens interface {
	CheckToken(ctx context.Context, k throttle.Token, ip string, compare func() error) error
}

// OnNotice registers how the account's contacts are told of a sign-in from
// a new device (notices.Service.Send with topic "signin.new_device").
func (s *Service) OnNotice(f func(ctx context.Context, accountID, topic string, params map[string]string)) {
	s.notify = f
}

// SendLinks has the approval link sent to the account's verified email
// addresses and phones whenever a prompt opens. Without it, only the
// account's signed-in sessions see the prompt.
func (s *Service) SendLinks(n Notices) { s.notices = n }

// New returns a Service and installs it as the accounts' sign-in gate.
// tokens counts wrong approval links.
func New(store Store, accounts *account.Service, factors Factors, codes Codes, tokens Tokens, clock monban.Clock, random io.Reader, cfg Config, log *slog.Logger) *Service {
	cfg.fill()
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: store, accounts: accounts, factors: factors, codes: codes, tokens: tokens, clock: clock, random: random, cfg: cfg, log: log}
	accounts.SetGate(s)
	return s
}

// Config returns the rules in force.
func (s *Service) Config() Config { return s.cfg }

var _ account.Gate = (*Service)(nil)

// Ways to finish a held sign-in.
const (
	WaySMS      = "sms"
	WayVoice    = "voice" // the code read out by a call to the verified phone
	WayEmail    = "email"
	WayTOTP     = "totp"
	WayPasskey  = "passkey"
	WayApproval = "approval"
	WayRecovery = "recovery_code"
)

// MethodTrustedDevice is recorded on a session of a 2-step account that a
// remembered device let in without asking again.
const MethodTrustedDevice = "device"

// Methods recorded on the session (RFC 8176 where one fits).
var wayMethod = map[string]string{WaySMS: "sms", WayVoice: "tel", WayEmail: "email", WayTOTP: "otp", WayPasskey: "hwk",
	WayApproval: "approval", WayRecovery: "recovery_code"}

func (s *Service) secret() (string, []byte, error) {
	var b [32]byte
	if _, err := io.ReadFull(s.random, b[:]); err != nil {
		return "", nil, monban.Internalf("pending secret: %w", err)
	}
	sec := base64.RawURLEncoding.EncodeToString(b[:])
	return sec, hashSecret(sec), nil
}

func hashSecret(sec string) []byte {
	h := sha256.Sum256([]byte(sec))
	return h[:]
}

// Hold decides, after a right password, whether the sign-in may start a
// session now. It holds it when 2-step is on (unless the device is trusted:
// then the device's trust stands in for the second factor) or when the
// device is new to the account. An account with no way to give a second
// proof on a new device (no verified contact, no factor) signs in on the
// password alone, and the audit says so.
func (s *Service) Hold(ctx context.Context, a *monban.Account, m account.Meta) (*account.Held, *account.Pass, error) {
	now := s.clock.Now()
	var dev *monban.Device
	if m.DeviceID != "" {
		d, err := s.store.DeviceByID(ctx, a.ID, m.DeviceID)
		if err != nil && !monban.IsNotFound(err) {
			return nil, nil, err
		}
		dev = d
	}
	reason := ""
	switch {
	case a.TwoStep && dev != nil && dev.Trusted(now):
		return nil, &account.Pass{Methods: []string{MethodTrustedDevice}}, nil
	case a.TwoStep:
		reason = monban.HoldTwoStep
	case dev == nil:
		reason = monban.HoldNewDevice
	default:
		return nil, nil, nil
	}
	ways, err := s.ways(ctx, a.ID, reason)
	if err != nil {
		return nil, nil, err
	}
	if len(ways) == 0 || (len(ways) == 1 && ways[0] == WayApproval && reason == monban.HoldNewDevice) {
		ev := monban.AuditEvent{At: now, AccountID: a.ID, Action: monban.AuditSignInUnchecked, IP: m.IP, UserAgent: m.UserAgent,
			Detail: map[string]string{"reason": reason, "why": "no verified contact or factor"}}
		return nil, &account.Pass{Audit: []monban.AuditEvent{ev}}, nil
	}
	secret, hash, err := s.secret()
	if err != nil {
		return nil, nil, err
	}
	deviceID := m.DeviceID
	if deviceID == "" {
		deviceID = monban.NewID("dev")
	}
	kind := m.Kind
	if kind == "" {
		kind = monban.SessionWeb
	}
	p := &monban.PendingSignIn{ID: monban.NewID("psi"), SecretHash: hash, AccountID: a.ID, DeviceID: deviceID, Kind: kind,
		IP: m.IP, UserAgent: truncate(m.UserAgent, 512), Reason: reason, State: monban.PendingWaiting,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.PendingLifetime)}
	ev := monban.AuditEvent{At: now, AccountID: a.ID, Action: monban.AuditSignInPending, IP: m.IP, UserAgent: m.UserAgent,
		Detail: map[string]string{"pending_id": p.ID, "reason": reason, "device_id": deviceID}}
	if err := s.store.CreatePending(ctx, p, ev); err != nil {
		return nil, nil, err
	}
	return &account.Held{ID: p.ID, Secret: secret, Reason: reason, Ways: ways, ExpiresAt: p.ExpiresAt}, nil, nil
}

// ways lists how a held sign-in of the account can be finished, strongest
// first, the recovery code last.
func (s *Service) ways(ctx context.Context, accountID, reason string) ([]string, error) {
	fs, err := s.factors.List(ctx, accountID)
	if err != nil {
		return nil, err
	}
	ids, err := s.store.IdentifiersByAccount(ctx, accountID)
	if err != nil {
		return nil, err
	}
	var out []string
	has := map[monban.FactorKind]bool{}
	for _, f := range fs {
		if f.Kind != monban.FactorRecoveryCodes || f.Remaining > 0 {
			has[f.Kind] = true
		}
	}
	if has[monban.FactorPasskey] && s.factors.PasskeysEnabled() {
		out = append(out, WayPasskey)
	}
	if has[monban.FactorTOTP] {
		out = append(out, WayTOTP)
	}
	for _, id := range ids {
		if !id.Verified {
			continue
		}
		switch id.Kind {
		case monban.KindEmail:
			out = append(out, WayEmail)
		case monban.KindPhone:
			out = append(out, WaySMS, WayVoice)
		}
	}
	out = append(out, WayApproval)
	if has[monban.FactorRecoveryCodes] {
		out = append(out, WayRecovery)
	}
	return out, nil
}

// Pending is a held sign-in as its waiting device sees it.
type Pending struct {
	*monban.PendingSignIn
	State monban.PendingState // at now, expiry applied
	Ways  []string
}

// Open returns the held sign-in that secret unlocks. A wrong secret or an
// unknown id is "signin.pending_invalid"; nothing tells them apart.
func (s *Service) Open(ctx context.Context, id, secret string) (*Pending, error) {
	if id == "" || secret == "" || len(id) > 64 || len(secret) > 128 {
		return nil, errInvalid()
	}
	p, err := s.store.PendingByID(ctx, id)
	if monban.IsNotFound(err) {
		return nil, errInvalid()
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(p.SecretHash, hashSecret(secret)) != 1 {
		return nil, errInvalid()
	}
	ways, err := s.ways(ctx, p.AccountID, p.Reason)
	if err != nil {
		return nil, err
	}
	// Approval is a way only while another device is signed in: otherwise
	// the page would wait for nobody.
	if n, err := s.approvers(ctx, p); err != nil {
		return nil, err
	} else if n == 0 {
		ways = slices.DeleteFunc(ways, func(w string) bool { return w == WayApproval })
	}
	return &Pending{PendingSignIn: p, State: p.StateAt(s.clock.Now()), Ways: ways}, nil
}

func errInvalid() error { return monban.Errorf(monban.EUnauthorized, "signin.pending_invalid") }

// usable refuses a held sign-in that can no longer be finished, saying why.
func usable(p *Pending, way string) error {
	switch p.State {
	case monban.PendingExpired:
		return monban.Errorf(monban.EConflict, "signin.pending_expired")
	case monban.PendingDenied:
		return monban.Errorf(monban.EConflict, "signin.pending_denied")
	case monban.PendingCompleted:
		return monban.Errorf(monban.EConflict, "signin.pending_over")
	}
	if way != "" && !contains(p.Ways, way) {
		return monban.Errorf(monban.EInvalid, "signin.way_unavailable").WithField("method")
	}
	return nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

func equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
