package oidc

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/seal"
)

// Store is the storage the provider needs (sqlstore.DB).
type Store interface {
	CreateOIDCClient(ctx context.Context, c *monban.OIDCClient, ev monban.AuditEvent) error
	OIDCClient(ctx context.Context, id string) (*monban.OIDCClient, error)
	OIDCClients(ctx context.Context) ([]monban.OIDCClient, error)
	DeleteOIDCClient(ctx context.Context, id string, at time.Time, ev monban.AuditEvent) error

	CreateOIDCAuthRequest(ctx context.Context, a *monban.OIDCAuthRequest) error
	OIDCAuthRequest(ctx context.Context, id string) (*monban.OIDCAuthRequest, error)
	CompleteOIDCAuthRequest(ctx context.Context, a *monban.OIDCAuthRequest, now time.Time) error
	SaveOIDCCode(ctx context.Context, authRequestID string, hash []byte, now, expires time.Time) error
	ConsumeOIDCCode(ctx context.Context, hash []byte, now time.Time, ev monban.AuditEvent) (*monban.OIDCAuthRequest, error)

	CreateOIDCTokens(ctx context.Context, tokens []monban.OIDCToken, rotated []byte, now time.Time, ev monban.AuditEvent) error
	OIDCRefreshToken(ctx context.Context, hash []byte) (*monban.OIDCToken, error)
	OIDCToken(ctx context.Context, id string) (*monban.OIDCToken, error)
	RevokeOIDCFamily(ctx context.Context, familyID, reason string, now time.Time, ev monban.AuditEvent) error
	RevokeOIDCToken(ctx context.Context, id, clientID string, now time.Time) error
	RevokeOIDCTokensOf(ctx context.Context, accountID, clientID string, now time.Time) error

	OIDCSigningKeys(ctx context.Context, now time.Time) ([]monban.SigningKey, error)
	AddOIDCSigningKey(ctx context.Context, k *monban.SigningKey) error

	AccountByID(ctx context.Context, id string) (*monban.Account, error)
	IdentifiersByAccount(ctx context.Context, accountID string) ([]monban.Identifier, error)
}

// Config holds the provider's lifetimes and paths.
type Config struct {
	// Issuer is the provider's public URL (no trailing slash). Empty: the
	// issuer is taken from each request's host (development only).
	Issuer         string
	AuthRequestTTL time.Duration // time to sign in and agree
	CodeTTL        time.Duration
	AccessTTL      time.Duration
	RefreshTTL     time.Duration
	IDTokenTTL     time.Duration
	KeyRotateEvery time.Duration // a new signing key this often
	// LoginPath is where op sends the browser with the request id.
	LoginPath string
}

// DefaultConfig: codes live a minute, access tokens an hour, refresh
// tokens thirty days; the signing key changes every thirty days.
var DefaultConfig = Config{
	AuthRequestTTL: 15 * time.Minute,
	CodeTTL:        time.Minute,
	AccessTTL:      time.Hour,
	RefreshTTL:     30 * 24 * time.Hour,
	IDTokenTTL:     time.Hour,
	KeyRotateEvery: 30 * 24 * time.Hour,
	LoginPath:      "/oauth/login",
}

// Service is the OpenID Connect provider's state.
type Service struct {
	store  Store
	box    *seal.Box
	clock  monban.Clock
	random io.Reader
	cfg    Config
	log    *slog.Logger
	secret []byte

	keyMu     sync.Mutex
	keysUntil time.Time // cache of parsed keys, refreshed after this
	keys      *keyring

	onLogout func(ctx context.Context, accountID string) // RP-initiated logout
}

// New returns the provider's service. secret derives the key that
// encrypts opaque access tokens; box seals the signing keys.
func New(store Store, box *seal.Box, secret []byte, clock monban.Clock, random io.Reader, cfg Config, log *slog.Logger) *Service {
	d := DefaultConfig
	for _, p := range []struct{ dst, def *time.Duration }{
		{&cfg.AuthRequestTTL, &d.AuthRequestTTL}, {&cfg.CodeTTL, &d.CodeTTL}, {&cfg.AccessTTL, &d.AccessTTL},
		{&cfg.RefreshTTL, &d.RefreshTTL}, {&cfg.IDTokenTTL, &d.IDTokenTTL}, {&cfg.KeyRotateEvery, &d.KeyRotateEvery},
	} {
		if *p.dst <= 0 {
			*p.dst = *p.def
		}
	}
	if cfg.LoginPath == "" {
		cfg.LoginPath = d.LoginPath
	}
	cfg.Issuer = strings.TrimRight(cfg.Issuer, "/")
	return &Service{store: store, box: box, secret: secret, clock: clock, random: random, cfg: cfg, log: log}
}

// OnLogout registers what RP-initiated logout does besides revoking the
// client's tokens (the web layer ends the browser's monban session).
func (s *Service) OnLogout(f func(ctx context.Context, accountID string)) { s.onLogout = f }

// Config returns the service's configuration.
func (s *Service) Config() Config { return s.cfg }

func (s *Service) derive(purpose string) [32]byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("monban oidc " + purpose))
	var k [32]byte
	copy(k[:], m.Sum(nil))
	return k
}

func hash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func (s *Service) randomToken(prefix string) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(s.random, b[:]); err != nil {
		return "", monban.Internalf("oidc token: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Login is what the login page needs to know about a request.
type Login struct {
	Request *monban.OIDCAuthRequest
	Client  *monban.OIDCClient
}

// errRequestGone is the answer for unknown, expired and finished requests.
func errRequestGone() error { return monban.Errorf(monban.ENotFound, "oidc.request_gone") }

// Pending returns an authorization request still waiting for its person.
func (s *Service) Pending(ctx context.Context, id string) (*Login, error) {
	if len(id) > 64 {
		return nil, errRequestGone()
	}
	a, err := s.store.OIDCAuthRequest(ctx, id)
	if monban.IsNotFound(err) {
		return nil, errRequestGone()
	}
	if err != nil {
		return nil, err
	}
	if a.Done() || !s.clock.Now().Before(a.ExpiresAt) {
		return nil, errRequestGone()
	}
	c, err := s.store.OIDCClient(ctx, a.ClientID)
	if monban.IsNotFound(err) {
		return nil, errRequestGone()
	}
	if err != nil {
		return nil, err
	}
	return &Login{Request: a, Client: c}, nil
}

// ACR values: how strongly the session was authenticated.
const (
	ACRPassword = "urn:monban:acr:1" // one factor
	ACRTwoStep  = "urn:monban:acr:2" // two factors, or a passkey
)

// AMR returns the authentication methods of a session (RFC 8176 values
// as the session recorded them, plus "mfa" for two factors) and its acr.
func AMR(sess *monban.Session) (amr []string, acr string) {
	amr = slices.Clone(sess.Methods)
	acr = ACRPassword
	if sess.AuthLevel >= monban.AuthTwoStep {
		acr = ACRTwoStep
		if !slices.Contains(amr, "mfa") {
			amr = append(amr, "mfa")
		}
	}
	return amr, acr
}

// NeedsSignIn reports whether the browser's session is not good enough for
// the request: prompt=login asks for a sign-in after the request was made,
// max_age bounds how long ago the session signed in.
func (s *Service) NeedsSignIn(a *monban.OIDCAuthRequest, sess *monban.Session) bool {
	if sess == nil {
		return true
	}
	if !sess.CreatedAt.Before(a.CreatedAt) {
		return false // signed in for this very request
	}
	if slices.Contains(a.Prompt, "login") {
		return true
	}
	return a.MaxAge >= 0 && s.clock.Now().Sub(sess.CreatedAt) > time.Duration(a.MaxAge)*time.Second
}

// Complete records that the session's person signed in (and agreed) for
// the request. The browser then goes to CallbackPath.
func (s *Service) Complete(ctx context.Context, a *monban.OIDCAuthRequest, sess *monban.Session) error {
	a.AccountID, a.SessionID, a.AuthTime = sess.AccountID, sess.ID, sess.CreatedAt
	a.AMR, a.ACR = AMR(sess)
	err := s.store.CompleteOIDCAuthRequest(ctx, a, s.clock.Now())
	if monban.IsNotFound(err) {
		return errRequestGone()
	}
	return err
}

// CallbackPath is where the browser collects the code after Complete.
func (s *Service) CallbackPath(id string) string {
	return "/oauth/authorize/callback?id=" + url.QueryEscape(id)
}

// ErrorRedirect is the relying party's redirect URI carrying an OAuth
// error (e.g. login_required for prompt=none). Only for a request whose
// redirect URI was checked against the client's.
func ErrorRedirect(a *monban.OIDCAuthRequest, code string) string {
	q := url.Values{"error": {code}}
	if a.State != "" {
		q.Set("state", a.State)
	}
	sep := "?"
	if strings.Contains(a.RedirectURI, "?") {
		sep = "&"
	}
	return a.RedirectURI + sep + q.Encode()
}
