package account

import (
	"context"
	"strings"
	"time"

	"github.com/monban-dev/monban"
)

// RegisterInput is what a person gives to open an account.
type RegisterInput struct {
	Username string
	Email    string
	Phone    string
	Password string
	Lang     string
	Meta     Meta
}

// MaxPasswordBytes bounds the password bytes accepted before any hashing, so
// an oversized input cannot make the hash expensive.
const MaxPasswordBytes = 1024

// Register opens an account with a password and at least one identifier and
// signs the person in. Identifiers start unverified.
func (s *Service) Register(ctx context.Context, in RegisterInput) (*SignedIn, error) {
	now := s.clock.Now()
	var ids []monban.Identifier
	for _, f := range []struct {
		kind monban.IdentifierKind
		raw  string
	}{{monban.KindUsername, in.Username}, {monban.KindEmail, in.Email}, {monban.KindPhone, in.Phone}} {
		if strings.TrimSpace(f.raw) == "" {
			continue
		}
		v, err := s.ids.Normalize(f.kind, f.raw)
		if err != nil {
			return nil, err
		}
		ids = append(ids, monban.Identifier{Kind: f.kind, Value: v, CreatedAt: now})
	}
	if len(ids) == 0 {
		return nil, monban.Errorf(monban.EInvalid, "register.identifier_required").WithField("username")
	}
	if len(in.Password) > MaxPasswordBytes {
		return nil, monban.Errorf(monban.EInvalid, "password.too_long").WithField("password").WithParams(map[string]any{"max": 256})
	}
	if err := s.policy.Check(in.Password, false, contextWords(ids)...); err != nil {
		return nil, err
	}
	// Counted before the hash, and whether or not the identifiers are free:
	// a script opening accounts (or probing which names are taken) from one
	// address is slowed like one guessing passwords.
	if err := s.limits.HitLimits(ctx, now, s.signUpLimits(in.Meta.IP)); err != nil {
		return nil, err
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	a := &monban.Account{
		ID: monban.NewID("acc"), Status: monban.AccountActive, PasswordHash: hash,
		Lang: normLang(in.Lang), CreatedAt: now, UpdatedAt: now,
	}
	for i := range ids {
		ids[i].AccountID = a.ID
	}
	if err := s.store.CreateAccount(ctx, a, ids, in.Meta.audit(monban.AuditRegistered, a.ID, now)); err != nil {
		return nil, err
	}
	return s.startSession(ctx, a, monban.AuthPassword, []string{"pwd"}, in.Meta, monban.AuditSignedIn)
}

// Limiter counts tries against windowed limits, all or none, atomically
// across nodes (the store).
type Limiter interface {
	HitLimits(ctx context.Context, now time.Time, limits []monban.Limit) error
}

// signUpLimits are the per-address limits of opening accounts.
func (s *Service) signUpLimits(ip string) []monban.Limit {
	scope := monban.IPScope(ip)
	return []monban.Limit{
		{Key: "signup:ip:h:" + scope, Window: time.Hour, Max: s.cfg.SignUpsPerIPHour, Err: "limit.signup_ip"},
		{Key: "signup:ip:d:" + scope, Window: 24 * time.Hour, Step: time.Minute, Max: s.cfg.SignUpsPerIPDay, Err: "limit.signup_ip"},
	}
}

// contextWords are the words a password must not contain: the person's own
// identifiers.
func contextWords(ids []monban.Identifier) []string {
	var words []string
	for _, id := range ids {
		switch id.Kind {
		case monban.KindUsername:
			words = append(words, id.Value)
		case monban.KindEmail:
			local, _, _ := strings.Cut(id.Value, "@")
			words = append(words, local)
		case monban.KindPhone:
			words = append(words, strings.TrimPrefix(id.Value, "+"))
		}
	}
	return words
}

func normLang(l string) string {
	if strings.HasPrefix(strings.ToLower(l), "en") {
		return "en"
	}
	return "ja"
}
