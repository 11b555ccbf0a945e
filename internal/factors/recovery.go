package factors

import (
	"context"
	"io"
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/throttle"
)

// Recovery codes: ten codes of 16 Crockford base32 characters (80 bits
// each), shown in groups of four. They are stored as HMAC-SHA256 under the
// server key rather than with argon2: at 80 random bits a code cannot be
// guessed offline even with the key, and the keyed hash makes the table
// useless without it, while a check stays one index lookup instead of ten
// deliberate-cost hashes per try. Lookups compare keyed hashes, so their
// timing says nothing about the code.
const (
	RecoveryCodeCount = 10
	recoveryCodeLen   = 16
	crockford         = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)

// GenerateRecoveryCodes replaces the actor's recovery codes with ten new
// ones and returns them, formatted, to be shown once.
func (s *Service) GenerateRecoveryCodes(ctx context.Context, a Actor) ([]string, error) {
	if err := s.recent(a); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	f := &monban.Factor{ID: monban.NewID("fac"), AccountID: a.AccountID, Kind: monban.FactorRecoveryCodes,
		Name: "Recovery codes", CreatedAt: now, ConfirmedAt: now}
	codes := make([]string, RecoveryCodeCount)
	hashes := make([][]byte, RecoveryCodeCount)
	for i := range codes {
		c, err := s.newRecoveryCode()
		if err != nil {
			return nil, err
		}
		codes[i] = formatRecoveryCode(c)
		hashes[i] = s.mac("recovery", a.AccountID, c)
	}
	ev := a.audit(monban.AuditRecoveryCodesNew, now, map[string]string{"factor_id": f.ID})
	if err := s.store.ReplaceRecoveryCodes(ctx, f, hashes, ev); err != nil {
		return nil, err
	}
	return codes, nil
}

// UseRecoveryCode accepts one of the account's unused recovery codes, once.
// Spaces, dashes and case do not matter, and the letters Crockford's
// alphabet leaves out are read as the digits they look like. A wrong, used
// or malformed code is EUnauthorized "recovery_code.wrong".
//
// Every well-formed code is a counted try (throttle.RecoveryCode), claimed
// before the lookup exactly as VerifyTOTP's; a malformed one spends nothing.
func (s *Service) UseRecoveryCode(ctx context.Context, accountID, code string, from From) error {
	c, ok := normalizeRecoveryCode(code)
	if !ok {
		return monban.Errorf(monban.EUnauthorized, "recovery_code.wrong").WithField("code")
	}
	return s.guard.Check(ctx, attempt(throttle.RecoveryCode, accountID, from), func() error {
		now := s.clock.Now()
		ev := monban.AuditEvent{At: now, AccountID: accountID, Action: monban.AuditRecoveryCodeUsed}
		return s.store.UseRecoveryCode(ctx, accountID, s.mac("recovery", accountID, c), now, ev)
	})
}

func (s *Service) newRecoveryCode() (string, error) {
	b := make([]byte, recoveryCodeLen)
	if _, err := io.ReadFull(s.random, b); err != nil {
		return "", monban.Internalf("recovery code random: %w", err)
	}
	for i := range b {
		b[i] = crockford[b[i]&31] // 256 is a multiple of 32: no bias
	}
	return string(b), nil
}

func formatRecoveryCode(c string) string {
	return c[0:4] + "-" + c[4:8] + "-" + c[8:12] + "-" + c[12:16]
}

// normalizeRecoveryCode folds what a person typed into the stored form.
func normalizeRecoveryCode(raw string) (string, bool) {
	if len(raw) > 64 {
		return "", false
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(norm.NFKC.String(raw)) {
		switch {
		case r == ' ' || r == '-' || r == '\t' || r == 'ー' || r == '−':
			continue
		case r == 'O':
			r = '0'
		case r == 'I' || r == 'L':
			r = '1'
		}
		if !strings.ContainsRune(crockford, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	return b.String(), b.Len() == recoveryCodeLen
}
