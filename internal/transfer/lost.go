package transfer

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/codes"
	"github.com/monban-dev/monban/internal/factors"
	"github.com/monban-dev/monban/internal/identifier"
	"github.com/monban-dev/monban/internal/throttle"
)

// Ways to prove a transfer without the old device, besides the password.
const (
	WaySMS      = "sms"   // the transfer code to the registered number
	WayEmail    = "email" // a code to the verified email address
	WayApproval = "approval"
	WayTOTP     = "totp"
	WayPasskey  = "passkey"
	WayGrant    = "grant" // support's bypass of the transfer code
)

// StartInput is the new device's identifier and password.
type StartInput struct {
	Identifier, Password string
	AccountID            string // picks one of several accounts sharing a phone number
	Meta                 account.Meta
	Lang                 string
}

// Started is a lost-device transfer that waits for its second proof, with
// the secret the new device holds (shown once), or the accounts to choose
// from.
type Started struct {
	Transfer *monban.Transfer
	Secret   string
	Choices  []account.Choice
}

// Start proves the password on the new device and opens the transfer. The
// password alone never moves anything: the transfer then waits for a
// second proof. Wrong passwords are answered and throttled exactly as at
// sign-in.
func (s *Service) Start(ctx context.Context, in StartInput) (*Started, error) {
	acc, choices, err := s.accounts.ProvePassword(ctx, account.SignInInput{Identifier: in.Identifier, Password: in.Password,
		AccountID: in.AccountID, Meta: in.Meta})
	if err != nil {
		return nil, err
	}
	if acc == nil {
		return &Started{Choices: choices}, nil
	}
	secret, hash, err := s.secret()
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	kind := in.Meta.Kind
	if kind == "" {
		kind = monban.SessionWeb
	}
	deviceID := in.Meta.DeviceID
	if deviceID == "" {
		deviceID = monban.NewID("dev")
	}
	lang := in.Lang
	if lang == "" {
		lang = acc.Lang
	}
	t := &monban.Transfer{ID: monban.NewID("trf"), AccountID: acc.ID, Kind: monban.TransferLost, State: monban.TransferPending,
		SecretHash: hash, NewDeviceID: deviceID, NewDeviceLabel: account.DeviceLabel(in.Meta.UserAgent), NewKind: kind,
		IP: in.Meta.IP, UserAgent: truncate(in.Meta.UserAgent, 512), Lang: lang, CreatedAt: now, ExpiresAt: now.Add(s.cfg.LostLifetime)}
	ev := monban.AuditEvent{At: now, AccountID: acc.ID, Action: monban.AuditTransferStarted, IP: in.Meta.IP, UserAgent: in.Meta.UserAgent,
		Detail: map[string]string{"transfer_id": t.ID, "device_id": deviceID}}
	if err := s.store.StartTransfer(ctx, t, ev); err != nil {
		if errors.Is(err, monban.ErrTransferInProgress) {
			return nil, s.inProgress(ctx, acc.ID)
		}
		return nil, err
	}
	return &Started{Transfer: t, Secret: secret}, nil
}

// inProgress names when the account's open transfer ends, so the answer
// to a second start says how long to wait.
func (s *Service) inProgress(ctx context.Context, accountID string) error {
	e := monban.Errorf(monban.EConflict, "transfer.in_progress")
	if t, err := s.store.OpenTransfer(ctx, accountID, s.clock.Now()); err == nil {
		e.RetryAt = t.ExpiresAt
	}
	return e
}

// View is what the new device's pages show of a lost-device transfer.
type View struct {
	Transfer       *monban.Transfer
	State          monban.TransferState // at now
	Phone          string               // the registered number, masked ("080-****-5678"); "" if none
	PhoneConfirmed bool
	Ways           []string // open now, strongest first
	Sessions       int      // other signed-in sessions that can approve
	Approval       monban.PendingState
	Code           *codes.Status // the last code sent, if any
	Reach          *codes.Reach  // where that code is and what else can be done (codes.Ways)
	Grant          *monban.Grant // a usable bypass of the transfer code
	AttemptsLeft   int
	ResetAt        time.Time // when sends are allowed again, if the limit is used up
	SupportURL     string
}

// View returns the transfer h names as its pages show it.
func (s *Service) View(ctx context.Context, h Handle) (*View, error) {
	t, err := s.open(ctx, h)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	v := &View{Transfer: t, State: t.StateAt(now), PhoneConfirmed: !t.PhoneConfirmedAt.IsZero(), SupportURL: s.cfg.SupportURL}
	phone, email, err := s.contacts(ctx, t.AccountID)
	if err != nil {
		return nil, err
	}
	if phone != "" {
		v.Phone = identifier.MaskPhone(phone)
	}
	if t.PendingID != "" {
		p, err := s.store.PendingByID(ctx, t.PendingID)
		if err != nil {
			return nil, err
		}
		v.Approval = p.StateAt(now)
	}
	if t.FlowID != "" {
		if v.Code, err = s.codes.Status(ctx, t.FlowID, t.AccountID); err != nil {
			return nil, err
		}
	}
	if err := s.fillLimits(ctx, v, now); err != nil {
		return nil, err
	}
	gs, err := s.store.GrantsByAccount(ctx, t.AccountID, now)
	if err != nil {
		return nil, err
	}
	for i := range gs {
		if gs[i].Step == monban.GrantTransferCode {
			v.Grant = &gs[i]
		}
	}
	ss, err := s.store.SessionsByAccount(ctx, t.AccountID, now)
	if err != nil {
		return nil, err
	}
	v.Sessions = len(ss)
	if v.PhoneConfirmed || phone == "" {
		v.Ways, err = s.ways(ctx, t, phone, email, v)
	}
	if err == nil && v.Code != nil {
		v.Reach, err = s.reach(ctx, t, phone, email, v)
	}
	return v, err
}

// reach answers for the transfer's last code with the ways this transfer
// has open: the other verified contact, passkey, approval while another
// session may answer, support.
func (s *Service) reach(ctx context.Context, t *monban.Transfer, phone, email string, v *View) (*codes.Reach, error) {
	var cs []codes.Contact
	if phone != "" && slices.Contains(v.Ways, WaySMS) {
		cs = append(cs, codes.Contact{Kind: monban.KindPhone, Value: phone, Verified: true})
	}
	if email != "" && slices.Contains(v.Ways, WayEmail) {
		cs = append(cs, codes.Contact{Kind: monban.KindEmail, Value: email, Verified: true})
	}
	fs, err := s.codes.Facts(ctx, t.FlowID, t.AccountID, cs)
	if err != nil {
		return nil, err
	}
	fs.Passkey, fs.TOTP = slices.Contains(v.Ways, WayPasskey), slices.Contains(v.Ways, WayTOTP)
	fs.Approval, fs.OtherSessions = slices.Contains(v.Ways, WayApproval), v.Sessions
	r := codes.Ways(fs, s.clock.Now())
	return &r, nil
}

func (s *Service) fillLimits(ctx context.Context, v *View, now time.Time) error {
	l := s.attemptLimit(v.Transfer.AccountID)
	next, err := s.store.PeekLimits(ctx, now, []monban.Limit{l})
	if err != nil {
		return err
	}
	if next.After(now) {
		v.ResetAt = next
		return nil
	}
	// Sends left in this window: a peek with Max lowered to k refuses once
	// k sends were made, so probe k = Max-1, Max-2, … (Max is small).
	v.AttemptsLeft = 1
	for n := 2; n <= l.Max; n++ {
		probe := l
		probe.Max = l.Max - n + 1
		if next, err := s.store.PeekLimits(ctx, now, []monban.Limit{probe}); err != nil {
			return err
		} else if next.After(now) {
			break
		}
		v.AttemptsLeft = n
	}
	return nil
}

// ways lists how the transfer can be proven now.
func (s *Service) ways(ctx context.Context, t *monban.Transfer, phone, email string, v *View) ([]string, error) {
	fs, err := s.factors.List(ctx, t.AccountID)
	if err != nil {
		return nil, err
	}
	var out []string
	has := map[monban.FactorKind]bool{}
	for _, f := range fs {
		has[f.Kind] = f.Active() || has[f.Kind]
	}
	if v.Grant != nil {
		out = append(out, WayGrant)
	}
	if v.Sessions > 0 && t.PendingID != "" {
		out = append(out, WayApproval)
	}
	if has[monban.FactorPasskey] && s.factors.PasskeysEnabled() {
		out = append(out, WayPasskey)
	}
	if has[monban.FactorTOTP] {
		out = append(out, WayTOTP)
	}
	if phone != "" {
		out = append(out, WaySMS)
	}
	if email != "" {
		out = append(out, WayEmail)
	}
	return out, nil
}

// contacts returns the account's verified phone and email address.
func (s *Service) contacts(ctx context.Context, accountID string) (phone, email string, err error) {
	ids, err := s.store.IdentifiersByAccount(ctx, accountID)
	if err != nil {
		return "", "", err
	}
	for _, id := range ids {
		if !id.Verified {
			continue
		}
		switch id.Kind {
		case monban.KindPhone:
			phone = id.Value
		case monban.KindEmail:
			email = id.Value
		}
	}
	return phone, email, nil
}

// PhoneCheck is a typed number shown back before anything is sent.
type PhoneCheck struct {
	Typed   string // as parsed, national format: "090-1234-5678"
	E164    string
	Matches bool  // it is the registered number
	Guard   error // the SMS guard's refusal of the registered number, if any
}

// CheckPhone parses the number the person typed and says, without sending
// or storing anything, whether it is the registered one and whether SMS can
// reach it. A typo (seed 001: 090 for 080) is shown back, never texted.
// A well-formed number is a guess at the digits behind the mask: it is
// claimed on the account's counter (throttle.Phone, across transfers)
// before the compare, and past five wrong ones refused until the time of
// the next try ("transfer.phone_throttled"). A malformed one spends nothing.
func (s *Service) CheckPhone(ctx context.Context, h Handle, raw string) (*PhoneCheck, error) {
	t, err := s.open(ctx, h)
	if err != nil {
		return nil, err
	}
	if err := s.goingOn(t); err != nil {
		return nil, err
	}
	p, err := identifier.NormalizePhone(raw, "JP")
	if err != nil {
		return nil, monban.Errorf(monban.EInvalid, "transfer.phone_invalid").WithField("phone")
	}
	pc := &PhoneCheck{Typed: p.National, E164: p.E164}
	var phone string
	errWrong := errors.New("not the registered number")
	err = s.guard.Check(ctx, throttle.Attempt{Authenticator: throttle.Phone, AccountIDs: []string{t.AccountID}, IP: h.Meta.IP},
		func() error {
			var err error
			if phone, _, err = s.contacts(ctx, t.AccountID); err != nil {
				return err
			}
			if pc.Matches = phone != "" && p.E164 == phone; !pc.Matches {
				return errWrong
			}
			return nil
		})
	if err != nil && err != errWrong {
		return nil, err
	}
	if pc.Matches {
		if _, gerr := s.codes.Destination(monban.ChannelSMS, phone); gerr != nil {
			pc.Guard = gerr
		}
	}
	return pc, nil
}

// ConfirmPhone records that the person confirmed the registered number
// (typed in full, it must match) and opens the approve-or-deny prompt in
// the account's other signed-in sessions.
func (s *Service) ConfirmPhone(ctx context.Context, h Handle, raw string) error {
	pc, err := s.CheckPhone(ctx, h, raw)
	if err != nil {
		return err
	}
	if !pc.Matches {
		return monban.Errorf(monban.EInvalid, "transfer.phone_mismatch").WithField("phone")
	}
	t, err := s.open(ctx, h)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	var p *monban.PendingSignIn
	if t.PendingID == "" {
		_, hash, err := s.secret() // nobody holds it: the prompt is answered only, never finished as a sign-in
		if err != nil {
			return err
		}
		p = &monban.PendingSignIn{ID: monban.NewID("psi"), SecretHash: hash, AccountID: t.AccountID, DeviceID: t.NewDeviceID,
			Kind: t.NewKind, IP: t.IP, UserAgent: t.UserAgent, Reason: monban.HoldTransfer, State: monban.PendingWaiting,
			ApprovalAskedAt: now, ApprovalExpiresAt: t.ExpiresAt, CreatedAt: now, ExpiresAt: t.ExpiresAt}
	}
	ev := monban.AuditEvent{At: now, AccountID: t.AccountID, Action: monban.AuditTransferPhone, IP: h.Meta.IP, UserAgent: h.Meta.UserAgent,
		Detail: map[string]string{"transfer_id": t.ID}}
	return s.store.ConfirmTransferPhone(ctx, t.ID, now, p, ev)
}

// ready opens a pending transfer whose phone step is done (or which has no
// registered number).
func (s *Service) ready(ctx context.Context, h Handle) (*monban.Transfer, error) {
	t, err := s.open(ctx, h)
	if err != nil {
		return nil, err
	}
	if err := s.goingOn(t); err != nil {
		return nil, err
	}
	if t.PhoneConfirmedAt.IsZero() {
		phone, _, err := s.contacts(ctx, t.AccountID)
		if err != nil {
			return nil, err
		}
		if phone != "" {
			return nil, monban.Errorf(monban.EInvalid, "transfer.phone_first")
		}
	}
	return t, nil
}

// SendCode sends a transfer code to the registered number (way "sms") or
// a code to the verified email address (way "email"). Each send counts
// against the account's daily transfer attempts; a used-up limit answers
// with the exact reset time.
func (s *Service) SendCode(ctx context.Context, h Handle, way string) (*monban.Flow, error) {
	t, err := s.ready(ctx, h)
	if err != nil {
		return nil, err
	}
	if t.State != monban.TransferPending {
		return nil, monban.Errorf(monban.EConflict, "transfer.proven")
	}
	phone, email, err := s.contacts(ctx, t.AccountID)
	if err != nil {
		return nil, err
	}
	in := codes.StartInput{AccountID: t.AccountID, Purpose: monban.PurposeTransfer, Lang: h.Lang, IP: h.Meta.IP,
		Limits: []monban.Limit{s.attemptLimit(t.AccountID)}}
	switch {
	case way == WaySMS && phone != "":
		in.Channel, in.Destination = monban.ChannelSMS, phone
	case way == WayEmail && email != "":
		in.Channel, in.Destination = monban.ChannelEmail, email
	default:
		return nil, monban.Errorf(monban.EInvalid, "transfer.way_unavailable").WithField("way")
	}
	if in.Lang == "" {
		in.Lang = t.Lang
	}
	if t.FlowID != "" {
		// A second press within the cooldown must not spend an attempt.
		if st, err := s.codes.Status(ctx, t.FlowID, t.AccountID); err == nil && st.Flow.Channel == in.Channel &&
			s.clock.Now().Before(st.Flow.NextSendAt) {
			return nil, monban.RateLimited("code.resend_cooldown", st.Flow.NextSendAt)
		}
	}
	f, err := s.codes.Start(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := s.store.SetTransferFlow(ctx, t.ID, f.ID); err != nil {
		return nil, err
	}
	return f, nil
}

// VerifyCode completes the transfer with the code sent by SendCode.
func (s *Service) VerifyCode(ctx context.Context, h Handle, code string) (*Done, error) {
	t, err := s.ready(ctx, h)
	if err != nil {
		return nil, err
	}
	if t.FlowID == "" {
		return nil, monban.Errorf(monban.EInvalid, "transfer.no_code_sent")
	}
	f, err := s.codes.Verify(ctx, t.FlowID, t.AccountID, code)
	if err != nil {
		return nil, err
	}
	method := monban.TransferByCode
	if f.Channel == monban.ChannelEmail {
		method = monban.TransferByEmail
	}
	return s.proven(ctx, t, method, h.Meta)
}

// VerifyTOTP completes the transfer with an authenticator app's code.
func (s *Service) VerifyTOTP(ctx context.Context, h Handle, code string) (*Done, error) {
	t, err := s.ready(ctx, h)
	if err != nil {
		return nil, err
	}
	// The transfer's device is new by nature: its guesses count on the
	// account's counter for strangers, shared with the sign-in step.
	if err := s.factors.VerifyTOTP(ctx, t.AccountID, code, factors.From{DeviceID: h.Meta.DeviceID, IP: h.Meta.IP}); err != nil {
		return nil, err
	}
	return s.proven(ctx, t, monban.TransferByTOTP, h.Meta)
}

// PasskeyOptions starts a passkey assertion for the transfer's account.
func (s *Service) PasskeyOptions(ctx context.Context, h Handle) (*factors.Options, error) {
	t, err := s.ready(ctx, h)
	if err != nil {
		return nil, err
	}
	return s.factors.BeginPasskeyCheck(ctx, t.AccountID)
}

// VerifyPasskey completes the transfer with a passkey assertion.
func (s *Service) VerifyPasskey(ctx context.Context, h Handle, ceremonyID string, response []byte) (*Done, error) {
	t, err := s.ready(ctx, h)
	if err != nil {
		return nil, err
	}
	if err := s.factors.FinishPasskeyCheck(ctx, t.AccountID, ceremonyID, response); err != nil {
		return nil, err
	}
	return s.proven(ctx, t, monban.TransferByPasskey, h.Meta)
}

// proven records the second proof and moves the account. If the move
// fails, the transfer stays proven and Complete finishes it.
func (s *Service) proven(ctx context.Context, t *monban.Transfer, method string, m account.Meta) (*Done, error) {
	if t.State == monban.TransferPending {
		now := s.clock.Now()
		ev := monban.AuditEvent{At: now, AccountID: t.AccountID, Action: monban.AuditTransferProven, IP: m.IP, UserAgent: m.UserAgent,
			Detail: map[string]string{"transfer_id": t.ID, "method": method}}
		if err := s.store.ApproveTransfer(ctx, t.ID, method, now, ev); err != nil {
			return nil, err
		}
		t.State, t.Method = monban.TransferApproved, method
	}
	return s.complete(ctx, t, move{method: t.Method, from: []monban.TransferState{monban.TransferApproved}, meta: m})
}

// Complete finishes a transfer that is proven: by an earlier proof whose
// move did not run, or by an approval from another signed-in session.
// Anything else is "transfer.not_proven": the password alone is never
// enough.
func (s *Service) Complete(ctx context.Context, h Handle) (*Done, error) {
	t, err := s.ready(ctx, h)
	if err != nil {
		return nil, err
	}
	if t.State == monban.TransferApproved {
		return s.complete(ctx, t, move{method: t.Method, from: []monban.TransferState{monban.TransferApproved}, meta: h.Meta})
	}
	if t.PendingID == "" {
		return nil, monban.Errorf(monban.EConflict, "transfer.not_proven")
	}
	p, err := s.store.PendingByID(ctx, t.PendingID)
	if err != nil {
		return nil, err
	}
	switch p.StateAt(s.clock.Now()) {
	case monban.PendingApproved:
	case monban.PendingDenied:
		ev := monban.AuditEvent{At: s.clock.Now(), AccountID: t.AccountID, Action: monban.AuditTransferCancelled, IP: h.Meta.IP,
			UserAgent: h.Meta.UserAgent, Detail: map[string]string{"transfer_id": t.ID, "why": "denied"}}
		if err := s.store.CancelTransfer(ctx, t.ID, s.clock.Now(), ev); err != nil && monban.ErrorCodeOf(err) != monban.EConflict {
			return nil, err
		}
		return nil, monban.Errorf(monban.EConflict, "transfer.denied")
	default:
		return nil, monban.Errorf(monban.EConflict, "transfer.not_proven")
	}
	return s.complete(ctx, t, move{method: monban.TransferByApproval, from: []monban.TransferState{monban.TransferPending},
		pendingID: p.ID, keep: p.DecidedBy, meta: h.Meta})
}

// UseGrant completes the transfer with the support-granted bypass of the
// transfer code: only inside its window, only once, only for this account.
// The grant is spent in the transaction that moves the account.
func (s *Service) UseGrant(ctx context.Context, h Handle) (*Done, error) {
	t, err := s.ready(ctx, h)
	if err != nil {
		return nil, err
	}
	return s.complete(ctx, t, move{method: monban.TransferByGrant, from: []monban.TransferState{monban.TransferPending},
		grant: true, meta: h.Meta})
}

// Cancel gives up the transfer.
func (s *Service) Cancel(ctx context.Context, h Handle) error {
	t, err := s.open(ctx, h)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	ev := monban.AuditEvent{At: now, AccountID: t.AccountID, Action: monban.AuditTransferCancelled, IP: h.Meta.IP, UserAgent: h.Meta.UserAgent,
		Detail: map[string]string{"transfer_id": t.ID, "why": "given_up"}}
	return s.store.CancelTransfer(ctx, t.ID, now, ev)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
