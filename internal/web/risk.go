package web

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/factors"
	"github.com/monban-dev/monban/internal/humantime"
	"github.com/monban-dev/monban/internal/identifier"
	"github.com/monban-dev/monban/internal/risk"
)

// RiskService is what the lock pages and the signal and admin APIs need.
type RiskService interface {
	Ingest(ctx context.Context, sigs []monban.Signal) ([]risk.Outcome, error)
	StartUnlock(ctx context.Context, accountID, lang, ip string) (*monban.Flow, error)
	FinishUnlock(ctx context.Context, accountID, flowID, code string) (*monban.Lock, error)
	UnlockWithPassword(ctx context.Context, cur *account.Current, pw string, m account.Meta) (*monban.Lock, error)
	UnlockWithTOTP(ctx context.Context, accountID, code string, from factors.From) (*monban.Lock, error)
	UnlockWithPasskey(ctx context.Context, accountID, ceremonyID string, response []byte) (*monban.Lock, error)
	UnlockPhone(ctx context.Context, accountID string) (string, error)
	Rollback(ctx context.Context, o risk.RollbackOptions) (risk.RollbackProgress, error)
	Tripped() []string
}

// supportURL is where a locked person reaches support without signing in.
// The support desk is a later capability; the lock page links to it now.
const supportURL = "/support/new?category=locked"

// passwordResetURL is login help, which resets a forgotten password.
const passwordResetURL = "/help/signin"

// lockView is what the lock page and GET /api/v1/lock show: the category
// and the ways out, never the rule.
type lockView struct {
	Kind       string   `json:"kind"`
	Category   string   `json:"category"`
	Title      string   `json:"title"`
	Reason     string   `json:"reason"`
	What       string   `json:"what_you_can_do"`
	Since      string   `json:"since"`
	Until      string   `json:"until,omitempty"`
	SinceLocal string   `json:"-"`
	UntilLocal string   `json:"-"`
	WaysOut    []string `json:"ways_out"`
	Phone      string   `json:"phone,omitempty"` // masked, where the code goes
	SupportURL string   `json:"support_url"`
	ResetURL   string   `json:"password_reset_url,omitempty"`
	Code       bool     `json:"-"`
	Password   bool     `json:"-"`
	Reset      bool     `json:"-"`
	Second     bool     `json:"-"`
}

func (s *Server) lockView(ctx context.Context, l *monban.Lock, lang string) lockView {
	t := func(k string) string { return s.cat.T(lang, k, nil) }
	v := lockView{Kind: string(l.Kind), Category: l.Category, Title: t("lock.title." + string(l.Kind)),
		Reason: t("lock.category." + l.Category), What: t("lock.what." + string(l.Kind)),
		Since: l.CreatedAt.UTC().Format(time.RFC3339), SinceLocal: pageFuncs["fmtTime"].(func(string, time.Time) string)(lang, l.CreatedAt),
		SupportURL: supportURL}
	if !l.ExpiresAt.IsZero() {
		v.Until = l.ExpiresAt.UTC().Format(time.RFC3339)
		v.UntilLocal = humantime.NextTry(lang, l.ExpiresAt, s.clock.Now()) // the lock lifts then: rounded up
	}
	for _, w := range l.WaysOut {
		v.WaysOut = append(v.WaysOut, string(w))
	}
	v.Code, v.Password, v.Reset, v.Second = l.Allows(monban.WayCode), l.Allows(monban.WayPassword),
		l.Allows(monban.WayPasswordReset), l.Allows(monban.WaySecondFactor)
	if v.Code {
		if p, err := s.risk.UnlockPhone(ctx, l.AccountID); err == nil {
			v.Phone = identifier.MaskPhone(p)
		} else {
			v.Code = false // no verified phone: the code way is not open
			v.WaysOut = slices.DeleteFunc(v.WaysOut, func(w string) bool { return w == string(monban.WayCode) })
		}
	}
	if v.Reset {
		v.ResetURL = passwordResetURL
	}
	return v
}

// lockedPage authenticates a session for a way out: a locked account's
// session is admitted here, with its lock.
func (s *Server) lockedPage(r *http.Request) (*account.Current, error) {
	if c := callerOf(r, whoLocked); c != nil {
		return c.cur, nil
	}
	return s.authCookie(r, account.AllowLocked(r.Context()))
}

func (s *Server) lockedAPI(r *http.Request) (*account.Current, error) {
	if c := callerOf(r, whoLocked); c != nil {
		return c.cur, nil
	}
	return s.authBearer(r, account.AllowLocked(r.Context()))
}

// requireLocked returns the signed-in, locked account, or redirects: to
// sign-in without a session, to the account page without a lock.
func (s *Server) requireLocked(w http.ResponseWriter, r *http.Request) (*account.Current, bool, error) {
	cur, err := s.lockedPage(r)
	if err != nil {
		return nil, false, err
	}
	if cur == nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return nil, false, nil
	}
	if cur.Lock == nil {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return nil, false, nil
	}
	return cur, true, nil
}

// pageLocked explains the lock and offers its ways out.
func (s *Server) pageLocked(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requireLocked(w, r)
	if !ok {
		return err
	}
	return s.renderLocked(w, r, cur, http.StatusOK, nil)
}

func (s *Server) renderLocked(w http.ResponseWriter, r *http.Request, cur *account.Current, status int, formErr error) error {
	v := s.view(w, r, "lock.page_title")
	v.SignedIn = true
	v.Data = s.lockView(r.Context(), cur.Lock, v.Lang)
	if formErr != nil {
		return s.formError(w, r, v, "locked", formErr)
	}
	s.render(w, r, status, "locked", v)
	return nil
}

// pageLockedCode sends the unlock code to the verified phone.
func (s *Server) pageLockedCode(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requireLocked(w, r)
	if !ok {
		return err
	}
	f, err := s.risk.StartUnlock(r.Context(), cur.Account.ID, s.cat.Lang(r), clientIP(r))
	if err != nil {
		return s.renderLocked(w, r, cur, 0, err)
	}
	s.notifyOutbox()
	http.Redirect(w, r, "/locked/code/"+f.ID, http.StatusSeeOther)
	return nil
}

func (s *Server) lockedCodeView(w http.ResponseWriter, r *http.Request, cur *account.Current) (*View, error) {
	st, err := s.codes.Status(r.Context(), r.PathValue("id"), cur.Account.ID)
	if err != nil {
		return nil, err
	}
	if st.Flow.Purpose != monban.PurposeUnlock {
		return nil, errNotFound()
	}
	v := s.view(w, r, "lock.code_title")
	v.SignedIn = true
	fv, err := s.flowView(r.Context(), st, cur, v.Lang)
	if err != nil {
		return nil, err
	}
	fv.Alternatives = nil // the lock page lists the other ways out
	v.Data = fv
	v.Reach = s.reachView(v.Lang, "/locked/code/"+fv.FlowID+"/status", "/locked", fv.Reach)
	return v, nil
}

func (s *Server) pageLockedCodeForm(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requireLocked(w, r)
	if !ok {
		return err
	}
	v, err := s.lockedCodeView(w, r, cur)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "locked_code", v)
	return nil
}

// pageLockedCodeStatus feeds the unlock code page's live status.
func (s *Server) pageLockedCodeStatus(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.lockedPage(r)
	if err != nil {
		return err
	}
	if cur == nil || cur.Lock == nil {
		return monban.Errorf(monban.EUnauthorized, "session.invalid")
	}
	return s.codeStatus(w, r, cur, monban.PurposeUnlock)
}

func (s *Server) pageLockedCodeSubmit(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requireLocked(w, r)
	if !ok {
		return err
	}
	code := r.PostFormValue("code")
	if err := fieldLimit("code", code, 32); err != nil {
		return err
	}
	if _, uerr := s.risk.FinishUnlock(r.Context(), cur.Account.ID, r.PathValue("id"), code); uerr != nil {
		v, err := s.lockedCodeView(w, r, cur)
		if err != nil {
			return err
		}
		return s.formError(w, r, v, "locked_code", uerr)
	}
	http.Redirect(w, r, "/account?done=unlocked", http.StatusSeeOther)
	return nil
}

func (s *Server) pageLockedPassword(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requireLocked(w, r)
	if !ok {
		return err
	}
	pw := r.PostFormValue("password")
	if err := fieldLimit("password", pw, 1024); err != nil {
		return err
	}
	if _, err := s.risk.UnlockWithPassword(r.Context(), cur, pw, s.meta(r, monban.SessionWeb, s.deviceID(r))); err != nil {
		return s.renderLocked(w, r, cur, 0, err)
	}
	http.Redirect(w, r, "/account?done=unlocked", http.StatusSeeOther)
	return nil
}

// apiLock tells an app why the account is locked and how out.
func (s *Server) apiLock(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.lockedAPI(r)
	if err != nil {
		return err
	}
	if cur.Lock == nil {
		return writeJSON(w, http.StatusOK, map[string]any{"locked": false})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"locked": true, "lock": s.lockView(r.Context(), cur.Lock, s.cat.Lang(r))})
}

func (s *Server) apiLockCode(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.lockedAPI(r)
	if err != nil {
		return err
	}
	f, err := s.risk.StartUnlock(r.Context(), cur.Account.ID, s.cat.Lang(r), clientIP(r))
	if err != nil {
		return err
	}
	s.notifyOutbox()
	return s.apiFlowStatus(w, r, cur, f.ID, http.StatusCreated)
}

func (s *Server) apiLockCodeVerify(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.lockedAPI(r)
	if err != nil {
		return err
	}
	var req struct {
		Code string `json:"code"`
	}
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if _, err := s.risk.FinishUnlock(r.Context(), cur.Account.ID, r.PathValue("id"), req.Code); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"locked": false})
}

func (s *Server) apiLockPassword(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.lockedAPI(r)
	if err != nil {
		return err
	}
	var req struct {
		Password string `json:"password"`
	}
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if _, err := s.risk.UnlockWithPassword(r.Context(), cur, req.Password, s.meta(r, monban.SessionApp, cur.Session.DeviceID)); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"locked": false})
}

// maxSignalsPerRequest bounds one batch.
const maxSignalsPerRequest = 1000

// signalJSON is one signal as a host app sends it.
type signalJSON struct {
	AccountID  string            `json:"account_id"`
	Type       string            `json:"type"`
	At         *time.Time        `json:"at,omitempty"`
	IP         string            `json:"ip,omitempty"`
	DeviceID   string            `json:"device_id,omitempty"`
	Phone      string            `json:"phone,omitempty"`
	Amount     int64             `json:"amount,omitempty"`
	Currency   string            `json:"currency,omitempty"`
	Instrument string            `json:"instrument,omitempty"`
	Attrs      map[string]string `json:"attrs,omitempty"`
}

func (j signalJSON) signal() monban.Signal {
	s := monban.Signal{AccountID: j.AccountID, Type: j.Type, IP: j.IP, DeviceID: j.DeviceID, Phone: j.Phone,
		Amount: j.Amount, Currency: strings.ToUpper(j.Currency), Instrument: j.Instrument, Attrs: j.Attrs}
	if j.At != nil {
		s.At = *j.At
	}
	return s
}

// apiSignals takes one signal or a batch ({"signals": […]}) from a host
// app and answers what the rules decided for each.
func (s *Server) apiSignals(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.hostKey(r); err != nil {
		return err
	}
	var req struct {
		signalJSON
		Signals []signalJSON `json:"signals,omitempty"`
	}
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	var sigs []monban.Signal
	switch {
	case len(req.Signals) > 0 && req.Type == "":
		if len(req.Signals) > maxSignalsPerRequest {
			return monban.Errorf(monban.EInvalid, "signal.batch_too_large").WithField("signals").
				WithParams(map[string]any{"max": maxSignalsPerRequest})
		}
		for _, j := range req.Signals {
			sigs = append(sigs, j.signal())
		}
	case len(req.Signals) == 0:
		sigs = []monban.Signal{req.signal()}
	default:
		return monban.Errorf(monban.EInvalid, "signal.one_or_batch").WithField("signals")
	}
	out, err := s.risk.Ingest(r.Context(), sigs)
	if err != nil {
		return err
	}
	type result struct {
		Action string `json:"action"`
		LockID string `json:"lock_id,omitempty"`
	}
	res := make([]result, len(out))
	for i, o := range out {
		res[i] = result{Action: o.Action, LockID: o.LockID}
	}
	return writeJSON(w, http.StatusAccepted, map[string]any{"accepted": len(sigs), "results": res})
}

// apiAdminRollback lifts a rule's locks in force, for as long as a request
// may take; the answer says whether it is done, and calling again goes on.
func (s *Server) apiAdminRollback(w http.ResponseWriter, r *http.Request) error {
	k, err := s.adminAPIKey(r)
	if err != nil {
		return err
	}
	var req struct {
		Rule    string     `json:"rule"`
		Version string     `json:"version,omitempty"`
		Since   *time.Time `json:"since,omitempty"`
		Until   *time.Time `json:"until,omitempty"`
		DryRun  bool       `json:"dry_run,omitempty"`
	}
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Rule == "" || len(req.Rule) > 64 || len(req.Version) > 64 {
		return monban.Errorf(monban.EInvalid, "rollback.rule").WithField("rule")
	}
	f := monban.LockFilter{RuleID: req.Rule, Version: req.Version}
	if req.Since != nil {
		f.Since = *req.Since
	}
	if req.Until != nil {
		f.Until = *req.Until
	}
	p, err := s.risk.Rollback(r.Context(), risk.RollbackOptions{Filter: f, DryRun: req.DryRun, By: "apikey:" + k.ID,
		Deadline: time.Now().Add(requestTimeout / 2)})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"dry_run": req.DryRun, "total": p.Total, "lifted": p.Lifted,
		"skipped": p.Skipped, "done": p.Done, "rate_per_s": p.Rate, "sample_accounts": p.Sample})
}

// apiAdminBreakers lists the rule versions whose breaker tripped.
func (s *Server) apiAdminBreakers(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.adminAPIKey(r); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"tripped": s.risk.Tripped()})
}
