package node

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/monban-dev/monban/internal/delivery"
)

// Config is monban's whole configuration. It is read from a YAML file
// (--config or MONBAN_CONFIG), then MONBAN_* environment variables, then
// flags, each overriding the one before. The README lists every key.
type Config struct {
	Addr     string `yaml:"addr" env:"MONBAN_ADDR"`
	Data     string `yaml:"data" env:"MONBAN_DATA"`
	Database string `yaml:"database" env:"MONBAN_DATABASE"` // PostgreSQL DSN; empty: SQLite in Data
	Dev      bool   `yaml:"dev" env:"MONBAN_DEV"`
	Secret   string `yaml:"secret" env:"MONBAN_SECRET"` // hex, ≥32 bytes; empty: Data/secret.key
	LogLevel string `yaml:"log_level" env:"MONBAN_LOG_LEVEL"`
	TLSCert  string `yaml:"tls_cert" env:"MONBAN_TLS_CERT"`
	TLSKey   string `yaml:"tls_key" env:"MONBAN_TLS_KEY"`

	SessionIdle     time.Duration `yaml:"session_idle_timeout" env:"MONBAN_SESSION_IDLE_TIMEOUT"`
	SessionAbsolute time.Duration `yaml:"session_absolute_timeout" env:"MONBAN_SESSION_ABSOLUTE_TIMEOUT"`

	// PaceFloor is the least time an answer of a public route that takes
	// an identifier takes (web/paced.go); 0: 10 ms, negative: none.
	PaceFloor time.Duration `yaml:"pace_floor" env:"MONBAN_PACE_FLOOR"`

	HashMemoryKiB     uint32 `yaml:"password_hash_memory_kib" env:"MONBAN_PASSWORD_HASH_MEMORY_KIB"`
	HashTime          uint32 `yaml:"password_hash_time" env:"MONBAN_PASSWORD_HASH_TIME"`
	HashThreads       uint8  `yaml:"password_hash_threads" env:"MONBAN_PASSWORD_HASH_THREADS"`
	HashMaxConcurrent int    `yaml:"password_hash_max_concurrent" env:"MONBAN_PASSWORD_HASH_MAX_CONCURRENT"`

	// Delivery. PublicURL is this service's address as providers reach it
	// (for delivery-report callbacks).
	PublicURL string `yaml:"public_url" env:"MONBAN_PUBLIC_URL"`
	// Passkeys: "on" (the default) or "off". Passkeys (WebAuthn) are bound
	// to a domain name, so public_url must name one: an IP address is
	// refused at start while passkeys are on (in --dev they are turned off
	// instead, with a log line).
	Passkeys     string `yaml:"passkeys" env:"MONBAN_PASSKEYS"`
	MailFrom     string `yaml:"mail_from" env:"MONBAN_MAIL_FROM"`
	MailFromName string `yaml:"mail_from_name" env:"MONBAN_MAIL_FROM_NAME"`

	// DKIM signs every email when a private key (PEM, RSA or Ed25519) is
	// given; the domain defaults to MailFrom's. The README shows the DNS
	// record to publish.
	DKIMPrivateKeyFile string `yaml:"dkim_private_key_file" env:"MONBAN_DKIM_PRIVATE_KEY_FILE"`
	DKIMSelector       string `yaml:"dkim_selector" env:"MONBAN_DKIM_SELECTOR"`
	DKIMDomain         string `yaml:"dkim_domain" env:"MONBAN_DKIM_DOMAIN"`

	SMTPHost     string `yaml:"smtp_host" env:"MONBAN_SMTP_HOST"`
	SMTPPort     int    `yaml:"smtp_port" env:"MONBAN_SMTP_PORT"`
	SMTPUsername string `yaml:"smtp_username" env:"MONBAN_SMTP_USERNAME"`
	SMTPPassword string `yaml:"smtp_password" env:"MONBAN_SMTP_PASSWORD"`
	SMTPTLS      string `yaml:"smtp_tls" env:"MONBAN_SMTP_TLS"` // starttls, tls or none
	// SMSProvider and VoiceProvider name the provider for each channel:
	// "kannel" (SMS) or the name of an http_providers entry. Empty: the dev
	// outbox in dev mode, no channel otherwise.
	SMSProvider    string         `yaml:"sms_provider" env:"MONBAN_SMS_PROVIDER"`
	VoiceProvider  string         `yaml:"voice_provider" env:"MONBAN_VOICE_PROVIDER"`
	KannelURL      string         `yaml:"kannel_sendsms_url" env:"MONBAN_KANNEL_SENDSMS_URL"`
	KannelUsername string         `yaml:"kannel_username" env:"MONBAN_KANNEL_USERNAME"`
	KannelPassword string         `yaml:"kannel_password" env:"MONBAN_KANNEL_PASSWORD"`
	KannelFrom     string         `yaml:"kannel_from" env:"MONBAN_KANNEL_FROM"`
	HTTPProviders  []HTTPProvider `yaml:"http_providers"`

	// One-time codes and the SMS-pumping guard.
	CodeDigits       int           `yaml:"code_digits" env:"MONBAN_CODE_DIGITS"`
	CodeLifetime     time.Duration `yaml:"code_lifetime" env:"MONBAN_CODE_LIFETIME"`
	SMSRegions       []string      `yaml:"sms_allowed_regions" env:"MONBAN_SMS_ALLOWED_REGIONS"`
	SMSBudgetPerHour int           `yaml:"sms_budget_per_hour" env:"MONBAN_SMS_BUDGET_PER_HOUR"`
	OutboxWorkers    int           `yaml:"outbox_workers" env:"MONBAN_OUTBOX_WORKERS"`

	// Sign-in throttling against credential stuffing: failed sign-ins from
	// devices no account knows, per IP (IPv6 /64) per hour and in all per
	// minute. 0: the default (100 and 3000); negative: off.
	SignInFailuresPerIPHour int `yaml:"signin_failures_per_ip_hour" env:"MONBAN_SIGNIN_FAILURES_PER_IP_HOUR"`
	SignInFailuresPerMinute int `yaml:"signin_failures_per_minute" env:"MONBAN_SIGNIN_FAILURES_PER_MINUTE"`
	// Accounts opened from one address (IPv4, or IPv6 /64) per hour and per
	// day, counted before the password is hashed. 0: the default (10 and
	// 50); negative: off.
	SignUpsPerIPHour int `yaml:"signups_per_ip_hour" env:"MONBAN_SIGNUPS_PER_IP_HOUR"`
	SignUpsPerIPDay  int `yaml:"signups_per_ip_day" env:"MONBAN_SIGNUPS_PER_IP_DAY"`
	// TokenFailuresPerIPHour bounds wrong approval and "this wasn't me"
	// links per IP (IPv6 /64) per hour. 0: the default (10); negative: off.
	TokenFailuresPerIPHour int `yaml:"token_failures_per_ip_hour" env:"MONBAN_TOKEN_FAILURES_PER_IP_HOUR"`
	// SupportContact is shown where a person cannot recover alone, until
	// the support desk exists: e.g. "support@example.jp / 0120-000-000".
	SupportContact string `yaml:"support_contact" env:"MONBAN_SUPPORT_CONTACT"`

	// Risk: the rules file (YAML, conditions in CEL; empty: signals are
	// recorded, nothing is locked), how long signals are kept (default
	// 90 days). The admin API takes API keys created with --admin.
	RulesFile     string        `yaml:"rules_file" env:"MONBAN_RULES_FILE"`
	RiskRetention time.Duration `yaml:"risk_retention" env:"MONBAN_RISK_RETENTION"`
}

// HTTPProvider configures an SMS or voice provider reached over HTTP; see
// delivery.HTTPProviderConfig for the meaning of each field.
type HTTPProvider struct {
	Name              string            `yaml:"name"`
	Channel           string            `yaml:"channel"` // sms or voice
	Method            string            `yaml:"method"`
	URL               string            `yaml:"url"`
	Headers           map[string]string `yaml:"headers"`
	BodyFormat        string            `yaml:"body_format"` // form or json
	Body              map[string]string `yaml:"body"`
	BasicAuthUser     string            `yaml:"basic_auth_user"`
	BasicAuthPassword string            `yaml:"basic_auth_password"`
	IDFrom            string            `yaml:"id_from"`
	ErrorFrom         string            `yaml:"error_from"`
	IdempotencyHeader string            `yaml:"idempotency_header"`
	Timeout           time.Duration     `yaml:"timeout"`
	CallbackSecret    string            `yaml:"callback_secret"` // hex
	CallbackIDField   string            `yaml:"callback_id_field"`
	CallbackMsgField  string            `yaml:"callback_message_id_field"`
	CallbackStatus    string            `yaml:"callback_status_field"`
	CallbackReason    string            `yaml:"callback_reason_field"`
	DeliveredStatuses []string          `yaml:"delivered_statuses"`
	FailedStatuses    []string          `yaml:"failed_statuses"`
	SentStatuses      []string          `yaml:"sent_statuses"`
}

func (p HTTPProvider) config(publicURL string) (delivery.HTTPProviderConfig, error) {
	secret, err := hex.DecodeString(p.CallbackSecret)
	if err != nil {
		return delivery.HTTPProviderConfig{}, fmt.Errorf("http provider %s: callback_secret must be hex: %w", p.Name, err)
	}
	return delivery.HTTPProviderConfig{
		Name: p.Name, Channel: monbanChannel(p.Channel), Method: p.Method, URL: p.URL, Headers: p.Headers,
		BodyFormat: p.BodyFormat, Body: p.Body, BasicAuthUser: p.BasicAuthUser, BasicAuthPassword: p.BasicAuthPassword,
		IDFrom: p.IDFrom, ErrorFrom: p.ErrorFrom, IdempotencyHeader: p.IdempotencyHeader, Timeout: p.Timeout,
		CallbackSecret: secret, CallbackBaseURL: publicURL, CallbackIDField: p.CallbackIDField,
		CallbackMessageIDField: p.CallbackMsgField, CallbackStatusField: p.CallbackStatus, CallbackReasonField: p.CallbackReason,
		DeliveredStatuses: p.DeliveredStatuses, FailedStatuses: p.FailedStatuses, SentStatuses: p.SentStatuses,
	}, nil
}

// DefaultConfig is the configuration with nothing set.
func DefaultConfig() Config {
	return Config{
		Addr: "127.0.0.1:8080", Data: "./monban-data", LogLevel: "info",
		SessionIdle: 7 * 24 * time.Hour, SessionAbsolute: 30 * 24 * time.Hour,
		HashMemoryKiB: 19456, HashTime: 2, HashThreads: 1,
		PublicURL: "http://localhost:8080", MailFrom: "no-reply@monban.localhost", MailFromName: "monban",
		SMTPPort: 587, SMTPTLS: "starttls",
	}
}

// dsn is the database to open: the configured PostgreSQL DSN or the SQLite
// file in the data directory.
// DSN is the database to open.
func (c Config) DSN() string {
	if c.Database != "" {
		return c.Database
	}
	return filepath.Join(c.Data, "monban.db")
}

// secret returns the server secret: configured, or kept in the data
// directory (created on first start). Nodes that share a PostgreSQL
// database must share MONBAN_SECRET.
// SecretBytes returns the server secret.
func (c Config) SecretBytes() ([]byte, error) {
	if c.Secret != "" {
		b, err := hex.DecodeString(c.Secret)
		if err != nil || len(b) < 32 {
			return nil, errors.New("config: secret must be at least 32 bytes, hex-encoded (e.g. `openssl rand -hex 32`)")
		}
		return b, nil
	}
	p := filepath.Join(c.Data, "secret.key")
	if b, err := os.ReadFile(p); err == nil {
		return hex.DecodeString(strings.TrimSpace(string(b)))
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if err := os.WriteFile(p, []byte(hex.EncodeToString(b[:])+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	return b[:], nil
}
