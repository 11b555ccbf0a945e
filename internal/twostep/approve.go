package twostep

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/notices"
	"github.com/monban-dev/monban/internal/throttle"
)

// Approve-or-deny: a waiting sign-in asks every recent session of the
// account (and a one-time link sent to the verified contacts) "is this
// you?". Approve lets the waiting device finish; deny ends it and records a
// hostile attempt.

// Link is the one-time approval link's token: "<pending id>.<secret>".
type Link string

// AskApproval opens the prompt for the held sign-in and returns the token
// of its one-time link. Prompts are limited per account per hour.
func (s *Service) AskApproval(ctx context.Context, f Finish) (Link, error) {
	p, err := s.Open(ctx, f.ID, f.Secret)
	if err != nil {
		return "", err
	}
	if err := usable(p, WayApproval); err != nil {
		return "", err
	}
	now := s.clock.Now()
	expires := now.Add(s.cfg.ApprovalLifetime)
	if expires.After(p.ExpiresAt) {
		expires = p.ExpiresAt
	}
	secret, hash, err := s.secret()
	if err != nil {
		return "", err
	}
	link := Link(p.ID + "." + secret)
	limits := []monban.Limit{{Key: "approval:acct:h:" + p.AccountID, Window: time.Hour, Max: s.cfg.ApprovalsPerHour, Err: "approval.too_many"}}
	ev := monban.AuditEvent{At: now, AccountID: p.AccountID, Action: monban.AuditSignInAskedApproval, IP: f.Meta.IP, UserAgent: f.Meta.UserAgent,
		Detail: map[string]string{"pending_id": p.ID}}
	n, msgs, err := s.linkMessages(ctx, p, link, expires)
	if err != nil {
		return "", err
	}
	if err := s.store.AskApproval(ctx, p.ID, hash, now, expires, limits, ev, n, msgs); err != nil {
		return "", err
	}
	return link, nil
}

// LinkURL is the page a one-time approval link opens.
func (s *Service) LinkURL(l Link) string { return s.cfg.PublicURL + "/approve/" + string(l) }

// linkMessages composes the notice that sends the link to the account's
// verified email addresses and phones: the device, address and deadline
// are shown in the message center too, the link only in the messages.
func (s *Service) linkMessages(ctx context.Context, p *Pending, l Link, expires time.Time) (*monban.Notice, []*monban.Message, error) {
	if s.notices == nil {
		return nil, nil, nil
	}
	params := map[string]string{"device": account.DeviceLabel(p.UserAgent), "ip": p.IP, "until": expires.UTC().Format(time.RFC3339)}
	n, msgs, err := s.notices.Compose(ctx, p.AccountID, monban.TopicSignInApproval, params,
		notices.Options{Private: map[string]string{"approve_url": s.LinkURL(l)}})
	if err != nil {
		return nil, nil, err
	}
	// A channel whose code did not arrive never carries the fallback: no
	// link by SMS to the phone that just failed.
	r, err := s.Reach(ctx, p)
	if err != nil || r == nil || !r.Undelivered {
		return n, msgs, err
	}
	by := map[string]bool{}
	for _, c := range r.ApprovalBy {
		by[c.Value] = true
	}
	msgs = slices.DeleteFunc(msgs, func(m *monban.Message) bool { return !by[m.Destination] })
	return n, msgs, nil
}

// Prompt is one open approve-or-deny question.
type Prompt struct {
	ID        string
	Reason    string // monban.HoldTwoStep, HoldNewDevice or HoldTransfer (a move to a new device)
	Device    string // label from the user agent
	IP        string
	At        time.Time
	ExpiresAt time.Time
}

func promptOf(p *monban.PendingSignIn) Prompt {
	return Prompt{ID: p.ID, Reason: p.Reason, Device: account.DeviceLabel(p.UserAgent), IP: p.IP, At: p.CreatedAt, ExpiresAt: p.ApprovalExpiresAt}
}

// canApprove reports whether cur's session may answer prompts: it must
// have signed in (or re-authenticated) within ApproverMaxAge. A session
// too old sees no prompts and cannot decide.
func (s *Service) canApprove(ctx context.Context, cur *account.Current) (bool, error) {
	auth, err := s.AuthAt(ctx, cur)
	if err != nil {
		return false, err
	}
	return s.clock.Now().Sub(auth) <= s.cfg.ApproverMaxAge, nil
}

// Prompts returns the open prompts cur's session may answer: none for a
// session that is not recent, and never a prompt raised by its own device.
func (s *Service) Prompts(ctx context.Context, cur *account.Current) ([]Prompt, error) {
	ok, err := s.canApprove(ctx, cur)
	if err != nil || !ok {
		return []Prompt{}, err
	}
	ps, err := s.store.OpenApprovals(ctx, cur.Account.ID, s.clock.Now())
	if err != nil {
		return nil, err
	}
	out := []Prompt{}
	for i := range ps {
		if ps[i].DeviceID != cur.Session.DeviceID {
			out = append(out, promptOf(&ps[i]))
		}
	}
	return out, nil
}

// Decide approves or denies a prompt from a signed-in session of the
// account. A replayed decision is "approval.decided"; an expired prompt
// "approval.expired".
func (s *Service) Decide(ctx context.Context, cur *account.Current, pendingID string, approve bool, m account.Meta) error {
	ok, err := s.canApprove(ctx, cur)
	if err != nil {
		return err
	}
	if !ok {
		return monban.Errorf(monban.EForbidden, "approval.session_too_old")
	}
	p, err := s.store.PendingByID(ctx, pendingID)
	if monban.IsNotFound(err) || err == nil && (p.AccountID != cur.Account.ID || p.DeviceID == cur.Session.DeviceID) {
		return monban.Errorf(monban.ENotFound, "approval.not_found")
	}
	if err != nil {
		return err
	}
	return s.decide(ctx, p, approve, cur.Session.ID, m)
}

// LinkPrompt returns the prompt a one-time link opens, without deciding.
// A wrong link counts against ip's window (throttle.ApprovalToken).
func (s *Service) LinkPrompt(ctx context.Context, token, ip string) (*Prompt, error) {
	p, err := s.linked(ctx, token, ip)
	if err != nil {
		return nil, err
	}
	// A decided or lapsed prompt says so instead of offering buttons that
	// can only fail.
	now := s.clock.Now()
	switch {
	case p.State != monban.PendingWaiting:
		return nil, monban.Errorf(monban.EConflict, "approval.decided")
	case !now.Before(p.ApprovalExpiresAt) || !now.Before(p.ExpiresAt):
		return nil, monban.Errorf(monban.EConflict, "approval.expired")
	}
	pr := promptOf(p)
	return &pr, nil
}

// DecideByLink approves or denies through the one-time link.
func (s *Service) DecideByLink(ctx context.Context, token string, approve bool, m account.Meta) error {
	p, err := s.linked(ctx, token, m.IP)
	if err != nil {
		return err
	}
	return s.decide(ctx, p, approve, "link", m)
}

// linked finds the held sign-in a link's token names, on the counted path
// for tokens: a malformed token is a wrong one (a link cut short by a mail
// client), counted alike.
func (s *Service) linked(ctx context.Context, token, ip string) (*monban.PendingSignIn, error) {
	var p *monban.PendingSignIn
	err := s.tokens.CheckToken(ctx, throttle.ApprovalToken, ip, func() error {
		id, secret, ok := strings.Cut(token, ".")
		if !ok || len(token) > 200 {
			return monban.Errorf(monban.ENotFound, "approval.not_found")
		}
		var err error
		p, err = s.store.PendingByID(ctx, id)
		if monban.IsNotFound(err) || err == nil && (len(p.LinkHash) == 0 || !equal(p.LinkHash, hashSecret(secret))) {
			return monban.Errorf(monban.ENotFound, "approval.not_found")
		}
		return err
	})
	return p, err
}

func (s *Service) decide(ctx context.Context, p *monban.PendingSignIn, approve bool, by string, m account.Meta) error {
	now := s.clock.Now()
	to, action := monban.PendingApproved, monban.AuditSignInApproved
	if !approve {
		to, action = monban.PendingDenied, monban.AuditSignInDenied
	}
	// The denial's event carries the attempt's address and browser: it is
	// the signal later risk rules read as a hostile sign-in.
	ev := monban.AuditEvent{At: now, AccountID: p.AccountID, Action: action, IP: m.IP, UserAgent: m.UserAgent,
		Detail: map[string]string{"pending_id": p.ID, "by": by, "attempt_ip": p.IP, "attempt_device": account.DeviceLabel(p.UserAgent)}}
	if err := s.store.DecidePending(ctx, p.ID, to, by, now, ev); err != nil {
		return err
	}
	if !approve {
		s.log.WarnContext(ctx, "sign-in denied", "account", p.AccountID, "pending", p.ID, "attempt_ip", p.IP)
	}
	return nil
}

// AuthAt is when cur's session last proved the password: at sign-in or at
// a later re-authentication.
func (s *Service) AuthAt(ctx context.Context, cur *account.Current) (time.Time, error) {
	at, err := s.store.ReauthAt(ctx, cur.Session.ID)
	if err != nil {
		return time.Time{}, err
	}
	if at.Before(cur.Session.CreatedAt) {
		at = cur.Session.CreatedAt
	}
	return at, nil
}

// Reauthenticate checks the password again for cur's session, so that a
// sensitive change can follow within the factors' window.
func (s *Service) Reauthenticate(ctx context.Context, cur *account.Current, password string, m account.Meta) error {
	if err := s.accounts.CheckPassword(ctx, cur, password, m); err != nil {
		return err
	}
	now := s.clock.Now()
	ev := monban.AuditEvent{At: now, AccountID: cur.Account.ID, Action: monban.AuditReauthenticated, IP: m.IP, UserAgent: m.UserAgent,
		Detail: map[string]string{"session_id": cur.Session.ID}}
	return s.store.RecordReauth(ctx, cur.Session.ID, now, ev)
}

// Untrust ends the trust of one of the account's devices: its next
// sign-in with 2-step on asks for the second step again.
func (s *Service) Untrust(ctx context.Context, cur *account.Current, deviceID string, m account.Meta) error {
	ev := monban.AuditEvent{At: s.clock.Now(), AccountID: cur.Account.ID, Action: monban.AuditDeviceUntrusted, IP: m.IP, UserAgent: m.UserAgent,
		Detail: map[string]string{"device_id": deviceID, "by_session_id": cur.Session.ID}}
	err := s.store.SetDeviceTrust(ctx, cur.Account.ID, deviceID, time.Time{}, ev)
	if monban.IsNotFound(err) {
		return monban.Errorf(monban.ENotFound, "device.not_found")
	}
	return err
}
