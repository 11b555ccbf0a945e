package codes

import (
	"context"
	"crypto/hmac"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/monban-dev/monban"
)

// Verify checks the code the person typed for their flow. It returns the
// completed flow on success; a wrong, malformed or mistyped code is
// "code.wrong" with the number of the code's tries left and counts as a
// failure. Each check is also a counted try on the account's counter for the
// flow's purpose (FailureAttempt), claimed before the compare: past
// Config.FreeFailures wrong codes, across flows and resends, every check
// is refused with "code.too_many_failures" and the time of the next try.
func (s *Service) Verify(ctx context.Context, flowID, accountID, code string) (*monban.Flow, error) {
	f, err := s.flow(ctx, flowID, accountID)
	if err != nil {
		return nil, err
	}
	digits, ok := normalizeInput(code)
	var want []byte
	if ok {
		want = s.hash(f.ID, digits)
	}
	match := func(h []byte) bool { return ok && hmac.Equal(h, want) }
	var done *monban.Flow
	err = s.guard.Check(ctx, s.FailureAttempt(accountID, f.Purpose), func() error {
		var err error
		done, err = s.store.CheckCode(ctx, f.ID, accountID, s.clock.Now(), s.cfg.MaxChecks, match)
		return err
	})
	if err != nil {
		if e, isDomain := monban.AsError(err); isDomain && e.Is(monban.ErrCodeWrong) {
			s.log.InfoContext(ctx, "wrong code", "flow", f.ID, "account", accountID, "purpose", f.Purpose)
		}
		return nil, err
	}
	s.log.InfoContext(ctx, "code accepted", "flow", f.ID, "account", accountID, "purpose", f.Purpose)
	return done, nil
}

// Code lengths that can ever be valid.
const (
	minDigits = 4
	maxDigits = 8
)

// normalizeInput turns what a person typed into the code's digits: NFKC
// folds full-width digits, and spaces and hyphens (as phones and IMEs insert
// them) are dropped. ok is false unless 4 to 8 ASCII digits remain.
func normalizeInput(raw string) (digits string, ok bool) {
	if len(raw) > 64 {
		return "", false
	}
	var b strings.Builder
	for _, r := range norm.NFKC.String(raw) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case unicode.IsSpace(r) || isDash(r) || r == '\u200b' || r == '\ufeff':
		default:
			return "", false
		}
		if b.Len() > maxDigits {
			return "", false
		}
	}
	if b.Len() < minDigits {
		return "", false
	}
	return b.String(), true
}

// isDash reports whether r is a hyphen, dash, minus or the katakana long
// vowel mark that Japanese IMEs produce for "-".
func isDash(r rune) bool {
	switch r {
	case '-', 'ー', '‐', '‑', '‒', '–', '—', '―', '−', '－', 'ｰ':
		return true
	}
	return false
}
