package account

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/pacing"
)

// SignInInput is a password sign-in attempt.
type SignInInput struct {
	Identifier string // username (with or without "@"), email or phone
	Password   string
	// AccountID picks one account when a phone number belongs to several and
	// the password matched more than one of them.
	AccountID string
	Meta      Meta
}

// Choice is one account a person may pick after proving the password for a
// phone number shared by several accounts.
type Choice struct {
	AccountID string
	Username  string
	Email     string
}

// SignInResult is either a session or, for a shared phone number, the
// accounts the password proved control of.
type SignInResult struct {
	SignedIn *SignedIn
	Choices  []Choice
	Held     *Held // a second proof is needed first (2-step or a new device)
}

// errSignInFailed is the one answer for unknown identifiers, wrong passwords
// and disabled accounts, so that none of them can be told apart.
func errSignInFailed() error {
	return monban.Errorf(monban.EUnauthorized, "signin.failed")
}

// SignIn checks a password against the accounts the identifier names.
func (s *Service) SignIn(ctx context.Context, in SignInInput) (*SignInResult, error) {
	res, err := s.signIn(ctx, in)
	if err == nil && res.SignedIn != nil {
		s.recordSignIn(ctx, res.SignedIn, in.Meta)
	}
	switch {
	case err == nil && res.SignedIn != nil:
		s.onOutcome(OutcomeSuccess)
	case err == nil && res.Held != nil:
		s.onOutcome(OutcomePending)
	case err == nil:
		s.onOutcome(OutcomeChoose)
	case monban.ErrorCodeOf(err) == monban.EUnauthorized:
		s.onOutcome(OutcomeFailure)
	}
	return res, err
}

func (s *Service) signIn(ctx context.Context, in SignInInput) (*SignInResult, error) {
	chosen, choices, err := s.authenticate(ctx, in)
	if err != nil || chosen == nil {
		return choices, err
	}
	held, pass, err := s.hold(ctx, chosen, in.Meta)
	if err != nil || held != nil {
		return &SignInResult{Held: held}, err
	}
	level, methods := monban.AuthPassword, []string{"pwd"}
	var also []monban.AuditEvent
	if pass != nil {
		if len(pass.Methods) > 0 {
			level, methods = monban.AuthTwoStep, append(methods, pass.Methods...)
		}
		also = pass.Audit
	}
	si, err := s.startSession(ctx, chosen, level, methods, in.Meta, monban.AuditSignedIn, also...)
	if err != nil {
		return nil, err
	}
	return &SignInResult{SignedIn: si}, nil
}

// ProvePassword runs every check of a password sign-in — throttling, the
// same answer and cost for unknown identifiers, the choice between
// accounts sharing a phone number — without starting a session or asking
// the second-step gate: for flows that need more than the password before
// any session exists (a transfer to a new device). It returns the account,
// or the choices when the password fits several.
func (s *Service) ProvePassword(ctx context.Context, in SignInInput) (*monban.Account, []Choice, error) {
	chosen, choices, err := s.authenticate(ctx, in)
	if err != nil || chosen == nil {
		if choices != nil {
			return nil, choices.Choices, err
		}
		return nil, nil, err
	}
	return chosen, nil, nil
}

// authenticate checks the password and returns the account it proves, or
// the choices between several.
func (s *Service) authenticate(ctx context.Context, in SignInInput) (*monban.Account, *SignInResult, error) {
	if len(in.Password) > MaxPasswordBytes {
		return nil, nil, monban.Errorf(monban.EInvalid, "password.too_long").WithField("password").WithParams(map[string]any{"max": 256})
	}
	kind, value, err := s.ids.Classify(in.Identifier)
	if err != nil {
		// A malformed identifier can name no account: answer as for an
		// unknown one, at the same cost.
		if err := s.throttleUnknown(ctx, in); err != nil {
			return nil, nil, err
		}
		s.hasher.VerifyDummy(ctx, in.Password)
		if err := s.auditUnknown(ctx, in, "malformed:"+in.Identifier); err != nil {
			return nil, nil, err
		}
		return nil, nil, errSignInFailed()
	}
	accounts, err := s.store.AccountsByIdentifier(ctx, kind, value)
	if err != nil {
		return nil, nil, err
	}
	// Throttled before any hash runs, known and unknown identifiers alike.
	ticket, err := s.throttleBegin(ctx, in, string(kind)+":"+value, accounts)
	if err != nil {
		return nil, nil, err
	}
	if len(accounts) == 0 {
		s.hasher.VerifyDummy(ctx, in.Password)
		// A write like the audit entry of a wrong password for a known
		// account, so the answer takes about as long; it also lets
		// operators see stuffing against names that do not exist.
		if err := s.auditUnknown(ctx, in, string(kind)+":"+value); err != nil {
			return nil, nil, err
		}
		s.throttleFailed(ctx, ticket)
		return nil, nil, errSignInFailed()
	}
	var matched []*monban.Account
	for i := range accounts {
		a := &accounts[i]
		ok, rehash, err := s.hasher.Verify(ctx, a.PasswordHash, in.Password)
		if err != nil {
			return nil, nil, err
		}
		if !ok || a.Status != monban.AccountActive {
			continue
		}
		if rehash {
			s.rehash(ctx, a, in)
		}
		matched = append(matched, a)
	}
	now := s.clock.Now()
	if len(matched) == 0 {
		for _, a := range accounts {
			if err := s.store.AppendAudit(ctx, in.Meta.audit(monban.AuditSignInFailed, a.ID, now)); err != nil {
				return nil, nil, err
			}
			s.record(ctx, a.ID, monban.SignalSignInFailure, in.Meta)
		}
		s.throttleFailed(ctx, ticket)
		// A real account's failure also records a risk signal: the route's
		// pacer sets every failure's answer time by these, so none of the
		// others stands out.
		pacing.Costly(ctx)
		return nil, nil, errSignInFailed()
	}
	if err := s.throttleSucceeded(ctx, ticket, matched); err != nil {
		return nil, nil, err
	}
	// The right password: an answer that proves it tells a stranger
	// nothing about which names exist, so it need not wait.
	pacing.Skip(ctx)
	chosen := matched[0]
	if len(matched) > 1 {
		chosen = nil
		for _, a := range matched {
			if a.ID == in.AccountID {
				chosen = a
			}
		}
		if chosen == nil {
			res, err := s.choices(ctx, matched)
			return nil, res, err
		}
	}
	return chosen, nil, nil
}

// rehash upgrades a hash made with old parameters. A failure here must not
// fail the sign-in: the old hash still works.
func (s *Service) rehash(ctx context.Context, a *monban.Account, in SignInInput) {
	h, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return
	}
	ev := in.Meta.audit(monban.AuditPasswordRehash, a.ID, s.clock.Now())
	if err := s.store.UpdatePasswordHash(ctx, a.ID, h, ev); err == nil {
		a.PasswordHash = h
	}
}

func (s *Service) choices(ctx context.Context, accounts []*monban.Account) (*SignInResult, error) {
	res := &SignInResult{}
	for _, a := range accounts {
		ids, err := s.store.IdentifiersByAccount(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		c := Choice{AccountID: a.ID}
		for _, id := range ids {
			switch id.Kind {
			case monban.KindUsername:
				c.Username = id.Value
			case monban.KindEmail:
				c.Email = id.Value
			}
		}
		res.Choices = append(res.Choices, c)
	}
	return res, nil
}

// IsSignInFailure reports whether err is the uniform sign-in failure.
func IsSignInFailure(err error) bool {
	return errors.Is(err, monban.ErrSignInFailed)
}

// auditUnknown records a failed sign-in that names no account.
func (s *Service) auditUnknown(ctx context.Context, in SignInInput, identifier string) error {
	ev := in.Meta.audit(monban.AuditSignInFailed, "", s.clock.Now())
	ev.Detail = map[string]string{"identifier": identifierDigest(identifier)}
	return s.store.AppendAudit(ctx, ev)
}

// identifierDigest names an identifier in the audit log without storing
// what someone typed for an account that does not exist.
func identifierDigest(v string) string {
	h := sha256.Sum256([]byte(v))
	return hex.EncodeToString(h[:8])
}
