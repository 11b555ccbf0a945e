package factors

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"image/png"
	"strings"
	"time"
	"unicode"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/text/unicode/norm"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/throttle"
)

// TOTP parameters: what every authenticator app understands (RFC 6238
// defaults). Skew is one step either way, for clocks a little off.
const (
	totpPeriod = 30
	totpDigits = otp.DigitsSix
	totpSkew   = 1
)

// Enrolment is a TOTP factor waiting for its first code: the page shows the
// QR code and the manual key, once.
type Enrolment struct {
	FactorID string
	Secret   string // base32, for typing into the app by hand
	URL      string // otpauth:// URI
	QR       string // data:image/png;base64,… of the URI
}

// EnrolTOTP creates an unconfirmed TOTP factor for the actor and returns
// what the app needs. It counts for nothing until ConfirmTOTP accepts a
// first code from it.
func (s *Service) EnrolTOTP(ctx context.Context, a Actor, accountName string) (*Enrolment, error) {
	if err := s.recent(a); err != nil {
		return nil, err
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: s.cfg.Issuer, AccountName: accountName,
		Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1, SecretSize: 20, Rand: s.random})
	if err != nil {
		return nil, monban.Internalf("totp generate: %w", err)
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return nil, monban.Internalf("totp qr: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, monban.Internalf("totp qr png: %w", err)
	}
	now := s.clock.Now()
	f := &monban.Factor{ID: monban.NewID("fac"), AccountID: a.AccountID, Kind: monban.FactorTOTP,
		Name: "Authenticator", CreatedAt: now}
	if err := s.store.CreateFactor(ctx, f, s.box.Seal([]byte(key.Secret())), "", monban.AuditEvent{}); err != nil {
		return nil, err
	}
	return &Enrolment{FactorID: f.ID, Secret: key.Secret(), URL: key.URL(),
		QR: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())}, nil
}

// ConfirmTOTP accepts the first code of an enrolled app, names the factor
// and makes it count. It is not a counted try: the secret was just shown
// to this recently re-authenticated session, so there is nothing to guess.
func (s *Service) ConfirmTOTP(ctx context.Context, a Actor, factorID, code, name string) error {
	if err := s.recent(a); err != nil {
		return err
	}
	f, secret, last, err := s.store.FactorSecret(ctx, a.AccountID, factorID)
	if monban.IsNotFound(err) || err == nil && f.Kind != monban.FactorTOTP {
		return monban.Errorf(monban.ENotFound, "factor.not_found")
	}
	if err != nil {
		return err
	}
	if !f.ConfirmedAt.IsZero() {
		return monban.Errorf(monban.EConflict, "totp.already_confirmed")
	}
	step, err := s.matchTOTP(secret, code, last)
	if err != nil {
		return err
	}
	ev := a.audit(monban.AuditFactorAdded, s.clock.Now(), map[string]string{"factor_id": f.ID, "kind": string(f.Kind)})
	if err := s.store.UseTOTPStep(ctx, a.AccountID, f.ID, step, s.clock.Now(), true, ev); err != nil {
		return err
	}
	if name = cleanName(name); name != "" {
		return s.Rename(ctx, a, f.ID, name)
	}
	return nil
}

// VerifyTOTP checks a code from one of the account's confirmed TOTP apps.
// Each code is accepted once (a later or equal time step is never accepted
// again, across nodes), within one step of clock skew. A wrong code is
// EUnauthorized "totp.wrong"; a replayed one EConflict "totp.replayed".
//
// Every well-formed code is a counted try (throttle.TOTP, per account; the
// owner's known device on its own counter): claimed before the compare and
// refused, with the time of the next try, while a delay runs, or as
// "totp.disabled" after 100 consecutive failures. Input that cannot be a
// code is "totp.wrong" and spends nothing.
func (s *Service) VerifyTOTP(ctx context.Context, accountID, code string, from From) error {
	if _, ok := normalizeDigits(code, int(totpDigits)); !ok {
		return errTOTPWrong()
	}
	return s.guard.Check(ctx, attempt(throttle.TOTP, accountID, from), func() error {
		return s.verifyTOTP(ctx, accountID, code)
	})
}

func (s *Service) verifyTOTP(ctx context.Context, accountID, code string) error {
	all, err := s.store.FactorsByAccount(ctx, accountID)
	if err != nil {
		return err
	}
	var replayed error
	for _, f := range all {
		if f.Kind != monban.FactorTOTP || !f.Active() {
			continue
		}
		_, secret, last, err := s.store.FactorSecret(ctx, accountID, f.ID)
		if err != nil {
			return err
		}
		step, err := s.matchTOTP(secret, code, last)
		if monban.ErrorCodeOf(err) == monban.EConflict {
			replayed = err
			continue
		}
		if err != nil {
			if monban.ErrorCodeOf(err) == monban.EInternal {
				return err
			}
			continue
		}
		ev := monban.AuditEvent{At: s.clock.Now(), AccountID: accountID, Action: monban.AuditFactorUsed,
			Detail: map[string]string{"factor_id": f.ID, "kind": string(f.Kind)}}
		return s.store.UseTOTPStep(ctx, accountID, f.ID, step, s.clock.Now(), false, ev)
	}
	if replayed != nil {
		return replayed
	}
	return errTOTPWrong()
}

func errTOTPWrong() error {
	return monban.Errorf(monban.EUnauthorized, "totp.wrong").WithField("code")
}

// matchTOTP returns the time step whose code is code, looking one step
// either side of now; a match at or before the last accepted step is a
// replay.
func (s *Service) matchTOTP(sealed []byte, code string, last int64) (int64, error) {
	digits, ok := normalizeDigits(code, int(totpDigits))
	if !ok {
		return 0, errTOTPWrong()
	}
	raw, err := s.box.Open(sealed)
	if err != nil {
		return 0, monban.Internalf("totp secret: %w", err)
	}
	now := s.clock.Now()
	opts := totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}
	cur := now.Unix() / totpPeriod
	matched := int64(-1)
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		step := cur + d
		want, err := totp.GenerateCodeCustom(string(raw), time.Unix(step*totpPeriod, 0), opts)
		if err != nil {
			return 0, monban.Internalf("totp code: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(digits)) == 1 {
			matched = step
		}
	}
	switch {
	case matched < 0:
		return 0, errTOTPWrong()
	case matched <= last:
		return 0, monban.Errorf(monban.EConflict, "totp.replayed").WithField("code")
	}
	return matched, nil
}

// normalizeDigits folds full-width digits (NFKC) and drops spaces and
// dashes; ok only if exactly n ASCII digits remain.
func normalizeDigits(raw string, n int) (string, bool) {
	if len(raw) > 64 {
		return "", false
	}
	var b strings.Builder
	for _, r := range norm.NFKC.String(raw) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case unicode.IsSpace(r) || r == '-' || r == 'ー' || r == '−':
		default:
			return "", false
		}
	}
	return b.String(), b.Len() == n
}

// cleanName trims a factor's name and drops control characters.
func cleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, norm.NFC.String(s))
	return strings.TrimSpace(s)
}
