package account

import (
	"context"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/throttle"
)

// CheckPassword proves the password of cur's account again before a
// sensitive change. It is a password try like a sign-in and spends the
// same budget: claimed on the sign-in throttle's counters before the hash
// runs, so a stolen session cannot guess faster there than at the sign-in
// form. A throttled try is refused as a sign-in is ("signin.throttled"
// with the next allowed time, or "signin.password_disabled"), with no hash
// and nothing written. A wrong password is audited, reported to the risk
// rules as a failed sign-in and answered "reauth.wrong_password"; a right
// one resets the counter.
func (s *Service) CheckPassword(ctx context.Context, cur *Current, pw string, m Meta) error {
	if len(pw) > MaxPasswordBytes {
		return monban.Errorf(monban.EInvalid, "password.too_long").WithField("password").WithParams(map[string]any{"max": 256})
	}
	a, err := s.store.AccountByID(ctx, cur.Account.ID)
	if err != nil {
		return err
	}
	ticket, err := s.throttleBegin(ctx, SignInInput{Meta: reauthDevice(cur, m)}, "", []monban.Account{*a})
	if err != nil {
		return err
	}
	ok, _, err := s.hasher.Verify(ctx, a.PasswordHash, pw)
	if err != nil {
		return err
	}
	if !ok {
		return s.reauthFailed(ctx, cur, ticket, m)
	}
	return s.throttleSucceeded(ctx, ticket, []*monban.Account{a})
}

// reauthDevice keeps the request's device for the throttle only when it is
// the device the session belongs to: that device counts on its own counter,
// as a known device does at sign-in; a session token carried to another
// browser counts as a stranger, on the account's shared counter and the IP
// limits.
func reauthDevice(cur *Current, m Meta) Meta {
	if m.DeviceID != cur.Session.DeviceID {
		m.DeviceID = ""
	}
	return m
}

// reauthFailed records a wrong password: in the audit log, as a failed
// sign-in for the risk rules, and (from a stranger's device) against the
// IP limits.
func (s *Service) reauthFailed(ctx context.Context, cur *Current, ticket *throttle.Ticket, m Meta) error {
	ev := m.audit(monban.AuditReauthFailed, cur.Account.ID, s.clock.Now())
	ev.Detail = map[string]string{"session_id": cur.Session.ID}
	if err := s.store.AppendAudit(ctx, ev); err != nil {
		return err
	}
	s.record(ctx, cur.Account.ID, monban.SignalSignInFailure, m)
	s.throttleFailed(ctx, ticket)
	return monban.Errorf(monban.EUnauthorized, "reauth.wrong_password").WithField("password")
}
