package codes

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/seal"
	"github.com/monban-dev/monban/internal/throttle"
)

// Store is the storage the code use cases need.
type Store interface {
	IssueCode(ctx context.Context, in monban.CodeIssue) error
	CheckCode(ctx context.Context, flowID, accountID string, now time.Time, maxChecks int,
		match func(hash []byte) bool) (*monban.Flow, error)
	FlowByID(ctx context.Context, id string) (*monban.Flow, error)
	MessagesByFlow(ctx context.Context, flowID string) ([]monban.Message, error)
	PeekLimits(ctx context.Context, now time.Time, limits []monban.Limit) (time.Time, error)
}

// Config holds the code rules. In New, a zero field takes its default; a
// negative limit switches that limit off.
type Config struct {
	Digits    map[monban.Purpose]int           // code length per purpose: 4 to 8, default 6
	Lifetime  time.Duration                    // of each code, default 10 minutes
	Lifetimes map[monban.Purpose]time.Duration // per-purpose overrides of Lifetime
	// EmailLifetimes override Lifetimes for codes sent by email, which may
	// sit in a spam folder for a while (login help: up to 24 hours); SMS and
	// voice codes keep the short lifetime.
	EmailLifetimes map[monban.Purpose]time.Duration
	MaxChecks      int           // wrong tries per code, default 5
	FlowLifetime   time.Duration // resends stay within a flow this long, default 1 hour
	// Cooldowns[n-1] is the wait before the nth resend; the last repeats.
	Cooldowns []time.Duration

	PerDestinationHour int // codes to one address or number
	PerDestinationDay  int
	PerAccountHour     int // codes for one account
	PerIPHour          int // code requests from one IP (IPv6: one /64)
	PerPrefixHour      int // codes to numbers sharing all but their last four digits
	// FreeFailures is how many wrong codes per account and purpose, across
	// flows and resends, are free (default 5: one code's checks); each
	// further one makes the next check wait 30 s, doubling to an hour
	// (throttle.CodePolicy), until a right code resets the count. A new
	// code never does (NIST SP 800-63B-4 §3.1.3.2).
	FreeFailures int

	AllowedRegions   []string // where SMS and voice codes may go (ISO 3166), default JP
	SMSGlobalPerHour int      // SMS-pumping budgets: all SMS and voice codes…
	SMSPrefixPerHour int      // …and those to one prefix; exceeding one raises the alarm
}

// DefaultConfig returns the defaults described on Config.
func DefaultConfig() Config {
	return Config{
		Lifetime:     10 * time.Minute,
		MaxChecks:    5,
		FlowLifetime: time.Hour,
		Cooldowns:    []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute},

		PerDestinationHour: 5,
		PerDestinationDay:  10,
		PerAccountHour:     10,
		PerIPHour:          20,
		PerPrefixHour:      30,
		FreeFailures:       5,

		EmailLifetimes: map[monban.Purpose]time.Duration{monban.PurposeRecovery: 24 * time.Hour},

		AllowedRegions:   []string{"JP"},
		SMSGlobalPerHour: 2000,
		SMSPrefixPerHour: 30,
	}
}

// DefaultDigits is the code length of a purpose not named in Config.Digits.
const DefaultDigits = 6

// DigitsFor returns the code length for purpose p.
func (c Config) DigitsFor(p monban.Purpose) int {
	if n := c.Digits[p]; n > 0 {
		return n
	}
	return DefaultDigits
}

// LifetimeFor returns how long a code for purpose p stays valid.
func (c Config) LifetimeFor(p monban.Purpose) time.Duration {
	if d := c.Lifetimes[p]; d > 0 {
		return d
	}
	return c.Lifetime
}

// EmailLifetimeFor returns how long an emailed code for purpose p stays
// valid.
func (c Config) EmailLifetimeFor(p monban.Purpose) time.Duration {
	if d := c.EmailLifetimes[p]; d > 0 {
		return d
	}
	return c.LifetimeFor(p)
}

// lifetimeOn returns how long a code for p sent over ch stays valid.
func (c Config) lifetimeOn(p monban.Purpose, ch monban.Channel) time.Duration {
	if ch == monban.ChannelEmail {
		return c.EmailLifetimeFor(p)
	}
	return c.LifetimeFor(p)
}

// cooldown returns the wait after the sends-th send before the next one.
func (c Config) cooldown(sends int) time.Duration {
	i := min(max(sends-1, 0), len(c.Cooldowns)-1)
	return c.Cooldowns[i]
}

func (c *Config) fillDefaults() error {
	d := DefaultConfig()
	for p, n := range c.Digits {
		if n < 4 || n > 8 {
			return fmt.Errorf("codes: %d digits for %s: want 4 to 8", n, p)
		}
	}
	for _, p := range []*time.Duration{&c.Lifetime, &c.FlowLifetime} {
		if *p < 0 {
			return fmt.Errorf("codes: negative lifetime %v", *p)
		}
	}
	if c.Lifetime == 0 {
		c.Lifetime = d.Lifetime
	}
	if c.FlowLifetime == 0 {
		c.FlowLifetime = d.FlowLifetime
	}
	if c.MaxChecks <= 0 {
		c.MaxChecks = d.MaxChecks
	}
	if len(c.Cooldowns) == 0 {
		c.Cooldowns = d.Cooldowns
	}
	for _, cd := range c.Cooldowns {
		if cd <= 0 {
			return fmt.Errorf("codes: cooldown %v: want > 0", cd)
		}
	}
	for _, f := range []struct {
		v   *int
		def int
	}{
		{&c.PerDestinationHour, d.PerDestinationHour}, {&c.PerDestinationDay, d.PerDestinationDay},
		{&c.PerAccountHour, d.PerAccountHour}, {&c.PerIPHour, d.PerIPHour}, {&c.PerPrefixHour, d.PerPrefixHour},
		{&c.FreeFailures, d.FreeFailures},
		{&c.SMSGlobalPerHour, d.SMSGlobalPerHour}, {&c.SMSPrefixPerHour, d.SMSPrefixPerHour},
	} {
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if len(c.AllowedRegions) == 0 {
		c.AllowedRegions = d.AllowedRegions
	}
	return nil
}

// Service implements the code use cases.
type Service struct {
	store  Store
	box    *seal.Box
	clock  monban.Clock
	random io.Reader
	key    []byte
	cfg    Config
	log    *slog.Logger
	alarm  func(scope string)
	guard  Throttle
}

// Throttle is the counted path every code check goes through
// (throttle.Service.Check): the failure count per account and purpose lives
// there, with the other guessable secrets'.
type Throttle interface {
	Check(ctx context.Context, a throttle.Attempt, compare func() error) error
}

// New returns a Service. random is the source of codes (crypto/rand.Reader
// in production); key is the HMAC key the stored code hashes are made with;
// guard counts wrong codes across flows and is required.
func New(store Store, box *seal.Box, clock monban.Clock, random io.Reader, key []byte, cfg Config, log *slog.Logger, guard Throttle) (*Service, error) {
	if guard == nil {
		return nil, fmt.Errorf("codes: no throttle: wrong codes would not be counted across flows")
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("codes: HMAC key of %d bytes: want at least 32", len(key))
	}
	if err := cfg.fillDefaults(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, box: box, clock: clock, random: random, key: key, cfg: cfg, log: log,
		alarm: func(string) {}, guard: guard}, nil
}

// Config returns the rules in force, defaults filled in.
func (s *Service) Config() Config { return s.cfg }

// OnBudgetAlarm registers f to be called, with the budget's scope ("global"
// or "prefix:+8190123"), each time an SMS budget refuses a send: the caller
// counts it in a metric and logs the alarm.
func (s *Service) OnBudgetAlarm(f func(scope string)) { s.alarm = f }

// hash is the stored form of code in flowID: binding the flow into the MAC
// means a code can complete only the flow (and so the purpose) it was made
// for.
func (s *Service) hash(flowID, code string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(flowID))
	m.Write([]byte{'|'})
	m.Write([]byte(code))
	return m.Sum(nil)
}

// newCode returns n uniform random digits: bytes of 250 and above are
// dropped so that every digit is equally likely (no modulo bias).
func (s *Service) newCode(n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, n+4)
	for len(out) < n {
		if _, err := io.ReadFull(s.random, buf); err != nil {
			return "", monban.Internalf("code random: %w", err)
		}
		for _, b := range buf {
			if b < 250 && len(out) < n {
				out = append(out, '0'+b%10)
			}
		}
	}
	return string(out), nil
}
