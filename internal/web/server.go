package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/apikey"
	"github.com/monban-dev/monban/internal/desk"
	"github.com/monban-dev/monban/internal/factors"
	"github.com/monban-dev/monban/internal/notices"
	"github.com/monban-dev/monban/internal/oidc"
	"github.com/monban-dev/monban/internal/recovery"
	"github.com/monban-dev/monban/internal/transfer"
	"github.com/monban-dev/monban/internal/twostep"
	"github.com/monban-dev/monban/internal/webhooks"
)

// Config is what the web layer needs to know about its deployment.
type Config struct {
	Dev          bool   // dev banner; cookies without Secure for plain http on localhost
	TLS          bool   // served over TLS: HSTS
	Secret       []byte // signs device cookies and CSRF tokens
	ServiceName  string // shown in page titles
	MaxBodyBytes int64  // request body limit
	SenderDomain string // the domain codes are mailed from (for carrier-mail advice)

	// SupportContact is shown where a person cannot recover alone.
	SupportContact string

	// PaceFloor is the least time a paced answer takes (paced.go); 0:
	// paceFloor, negative: none (for tests that do not measure time).
	PaceFloor time.Duration
}

// Pinger reports whether the database is reachable.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Server serves monban over HTTP.
type Server struct {
	pacers   pacers // one per route in pacedRoutes (paced.go)
	cfg      Config
	accounts *account.Service
	keys     *apikey.Keys
	db       Pinger
	cat      *Catalog
	pages    *pages
	clock    monban.Clock
	log      *slog.Logger
	metrics  *Metrics
	handler  http.Handler
	risk     RiskService
	mux      *http.ServeMux
	openapi  []byte

	schemas map[string]*reqSchema // request bodies from docs/openapi.yaml, by route pattern
	drift   sync.Map              // route pattern → how its Go type differs from its schema

	codes     CodeService
	outbox    Notifier
	receipts  ReceiptStore
	parsers   map[string]ReceiptParser
	devOutbox DevOutbox

	notices     *notices.Service
	noticeStore NoticeStore

	webhooks *webhooks.Service // host-app subscriptions and deliveries
	audit    AuditStore

	recovery *recovery.Service

	oidc *oidcEndpoints // "sign in with monban" (oidc.go)

	factors *factors.Service // second factors
	twostep *twostep.Service // held sign-ins, approvals, re-authentication

	desk *desk.Service // support requests without sign-in, the agent console

	transfer *transfer.Service // moving an account to a new device
}

// Notifier wakes the outbox worker after a message is queued.
type Notifier interface{ Notify() }

// Deps are the capabilities the server exposes.
type Deps struct {
	Accounts *account.Service
	Keys     *apikey.Keys
	DB       Pinger
	Clock    monban.Clock
	Log      *slog.Logger
	Metrics  *Metrics
	OpenAPI  []byte
	Risk     RiskService // signals, lock pages, rollback

	Codes     CodeService
	Outbox    Notifier
	Receipts  ReceiptStore
	Parsers   map[string]ReceiptParser // provider name → receipt parser
	DevOutbox DevOutbox                // development mode only

	Notices     *notices.Service // message center and the public check
	NoticeStore NoticeStore

	Webhooks *webhooks.Service
	Audit    AuditStore // audit export (admin API, an account's own activity)

	Recovery *recovery.Service // login help and contact changes

	OIDC *oidc.Service // OpenID Connect provider; nil: none

	Factors *factors.Service
	TwoStep *twostep.Service

	Desk *desk.Service // support desk; nil: none

	Transfer *transfer.Service // moving to a new device; nil: none
}

// New builds the server and its routes.
func New(cfg Config, d Deps) (*Server, error) {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = "monban"
	}
	cat, err := LoadCatalog()
	if err != nil {
		return nil, err
	}
	p, err := loadPages()
	if err != nil {
		return nil, err
	}
	if d.Metrics == nil {
		d.Metrics = NewMetrics()
	}
	s := &Server{cfg: cfg, accounts: d.Accounts, keys: d.Keys, db: d.DB, cat: cat, pages: p,
		clock: d.Clock, log: d.Log, metrics: d.Metrics, openapi: d.OpenAPI,
		codes: d.Codes, outbox: d.Outbox, receipts: d.Receipts, parsers: d.Parsers, devOutbox: d.DevOutbox,
		notices: d.Notices, noticeStore: d.NoticeStore}
	if s.schemas, err = requestSchemas(monban.OpenAPI); err != nil {
		return nil, err
	}
	s.factors, s.twostep = d.Factors, d.TwoStep
	s.recovery = d.Recovery
	s.webhooks, s.audit = d.Webhooks, d.Audit
	s.risk = d.Risk
	s.desk = d.Desk
	s.transfer = d.Transfer
	if s.oidc, err = newOIDCEndpoints(s, d.OIDC); err != nil {
		return nil, err
	}
	s.pacers = newPacers(cfg.PaceFloor)
	if err := s.pacers.check(s.routes()); err != nil {
		return nil, err
	}
	h, err := s.buildMux()
	if err != nil {
		return nil, err
	}
	s.handler = s.refuseAmbiguousFraming(h)
	return s, nil
}

// Handler returns the root HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Metrics returns the server's metrics registry.
func (s *Server) Metrics() *Metrics { return s.metrics }

type ctxKey int

const (
	requestIDKey ctxKey = iota
	bodyKey             // the JSON body, checked against the route's schema
	framingKey          // the *framingConn the request came on
)

// reqInfo is what the server knows of one request: its id, and the caller
// its route's wrapper resolved (access.go), kept here so that resolving
// costs no context or request copy of its own.
type reqInfo struct {
	id     string
	caller caller
}

func requestID(ctx context.Context) string {
	if ri, _ := ctx.Value(requestIDKey).(*reqInfo); ri != nil {
		return ri.id
	}
	return ""
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusRecorder remembers the status for logs and metrics.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (to flush a
// paced answer before the work it put off).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// requestTimeout bounds every request so that a stuck dependency turns into
// a fast 503 instead of a pile of waiting goroutines.
const requestTimeout = 15 * time.Second

// observe wraps every request: request id, timeout, security headers, panic
// recovery, metrics and one log line.
func (s *Server) observe(pattern string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			id = newRequestID()
		}
		ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), requestIDKey, &reqInfo{id: id}), requestTimeout)
		defer cancel()
		r = r.WithContext(ctx)
		w.Header().Set("X-Request-Id", id)
		s.securityHeaders(w)
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				s.log.ErrorContext(ctx, "panic", "panic", p, "request_id", id)
				if rec.status == 0 {
					s.writeProblem(rec, r, monban.Internalf("panic: %v", p))
				}
			}
			d := time.Since(start)
			s.metrics.observe(pattern, rec.status, d)
			if !s.quiet(pattern) {
				s.log.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("request_id", id),
					slog.String("method", r.Method), slog.String("route", pattern), slog.Int("status", rec.status),
					slog.Duration("duration", d))
			}
		}()
		h.ServeHTTP(rec, r)
	})
}

// quiet routes are not logged per request: the session check and probes run
// thousands of times a second and are counted in metrics instead.
func (s *Server) quiet(pattern string) bool {
	return pattern == routeIntrospect || pattern == "GET /healthz" || pattern == "GET /readyz" || pattern == "GET /metrics"
}

func (s *Server) securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	if s.cfg.TLS {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
}

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

// clientIP is the peer address. Behind a proxy the operator terminates at
// the proxy; forwarded headers are not trusted by default.
func clientIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}
