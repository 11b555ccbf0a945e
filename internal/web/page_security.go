package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/identifier"
	"github.com/monban-dev/monban/internal/notices"
)

// The security settings: factors, 2-step verification, trusted devices,
// re-authentication, and answering approve-or-deny prompts.

type factorRow struct {
	ID, Name   string
	Kind       monban.FactorKind
	CreatedAt  time.Time
	LastUsedAt time.Time
	Remaining  int
}

type trustRow struct {
	ID, Label    string
	TrustedUntil time.Time
	Current      bool
}

type securityPage struct {
	TwoStep      bool
	Factors      []factorRow
	Strong       bool
	HasRecovery  bool
	Passkeys     bool
	Devices      []trustRow
	Recent       bool
	VerifiedSMS  string
	VerifiedMail string
}

func (s *Server) pageSecurity(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	v, err := s.securityView(w, r, cur)
	if err != nil {
		return err
	}
	if k, ok := doneKeys[r.URL.Query().Get("done")]; ok {
		v.Notice = v.T(k)
	}
	s.render(w, r, http.StatusOK, "security", v)
	return nil
}

// doneKeys are the notices after a change, by the page's done= value.
var doneKeys = map[string]string{
	"totp": "security.done_totp", "renamed": "security.done_renamed", "removed": "security.done_removed",
	"on": "security.done_on", "off": "security.done_off", "untrusted": "security.done_untrusted",
	"passkey": "security.done_passkey", "codes": "security.done_codes", "approved": "security.done_approved",
	"denied": "security.done_denied",
}

func (s *Server) securityView(w http.ResponseWriter, r *http.Request, cur *account.Current) (*View, error) {
	ctx := r.Context()
	fs, err := s.factors.List(ctx, cur.Account.ID)
	if err != nil {
		return nil, err
	}
	ov, err := s.accounts.Overview(ctx, cur)
	if err != nil {
		return nil, err
	}
	a, err := s.actor(r, cur)
	if err != nil {
		return nil, err
	}
	v := s.view(w, r, "security.title")
	v.SignedIn = true
	d := securityPage{TwoStep: cur.Account.TwoStep, Passkeys: s.factors.PasskeysEnabled(), Recent: s.factors.Recent(a.AuthAt)}
	for _, f := range fs {
		d.Factors = append(d.Factors, factorRow{ID: f.ID, Name: f.Name, Kind: f.Kind, CreatedAt: f.CreatedAt, LastUsedAt: f.LastUsedAt, Remaining: f.Remaining})
		d.Strong = d.Strong || f.Kind.Strong()
		d.HasRecovery = d.HasRecovery || f.Kind == monban.FactorRecoveryCodes
	}
	for _, id := range ov.Identifiers {
		if id.Verified && id.Kind == monban.KindPhone {
			d.VerifiedSMS = identifier.MaskPhone(id.Value)
		}
		if id.Verified && id.Kind == monban.KindEmail {
			d.VerifiedMail = identifier.MaskEmail(id.Value)
		}
	}
	for _, dev := range ov.Devices {
		d.Devices = append(d.Devices, trustRow{ID: dev.ID, Label: dev.Label, TrustedUntil: dev.TrustedUntil,
			Current: dev.ID == cur.Session.DeviceID})
	}
	for i := range d.Devices {
		if !d.Devices[i].TrustedUntil.After(s.clock.Now()) {
			d.Devices[i].TrustedUntil = time.Time{}
		}
	}
	v.Data = d
	return v, nil
}

// changeError turns a refusal that needs a fresh password into the
// re-authentication page, which comes back to next.
func (s *Server) changeError(w http.ResponseWriter, r *http.Request, cur *account.Current, next string, err error) error {
	if errKey(err) == "reauth.required" {
		http.Redirect(w, r, "/account/reauth?next="+url.QueryEscape(next), http.StatusSeeOther)
		return nil
	}
	v, verr := s.securityView(w, r, cur)
	if verr != nil {
		return verr
	}
	return s.formError(w, r, v, "security", err)
}

// safeNext keeps a redirect on this site's account pages.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/account") && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return "/account/security"
}

func (s *Server) pageReauth(w http.ResponseWriter, r *http.Request) error {
	_, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	v := s.view(w, r, "reauth.title")
	v.SignedIn = true
	v.Form.Set("next", safeNext(r.URL.Query().Get("next")))
	s.render(w, r, http.StatusOK, "reauth", v)
	return nil
}

func (s *Server) pageReauthSubmit(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	next := safeNext(r.PostFormValue("next"))
	if rerr := s.twostep.Reauthenticate(r.Context(), cur, r.PostFormValue("password"), s.meta(r, monban.SessionWeb, s.deviceID(r))); rerr != nil {
		v := s.view(w, r, "reauth.title")
		v.SignedIn = true
		v.Form.Set("next", next)
		return s.formError(w, r, v, "reauth", rerr)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

type totpPage struct {
	FactorID, Secret string
	// QR is a data: URL the server drew; html/template would blank an
	// untyped one in src.
	QR template.URL
}

func (s *Server) pageTOTPEnrol(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	a, err := s.actor(r, cur)
	if err != nil {
		return err
	}
	en, eerr := s.factors.EnrolTOTP(r.Context(), a, s.accountLabel(r, cur))
	if eerr != nil {
		return s.changeError(w, r, cur, "/account/security", eerr)
	}
	v := s.view(w, r, "totp.title")
	v.SignedIn = true
	v.Data = totpPage{FactorID: en.FactorID, Secret: en.Secret, QR: template.URL(en.QR)}
	s.render(w, r, http.StatusOK, "totp_enrol", v)
	return nil
}

// accountLabel names the account in the authenticator app.
func (s *Server) accountLabel(r *http.Request, cur *account.Current) string {
	ov, err := s.accounts.Overview(r.Context(), cur)
	if err == nil {
		for _, id := range ov.Identifiers {
			if id.Kind == monban.KindUsername {
				return id.Value
			}
		}
	}
	return cur.Account.ID
}

func (s *Server) pageTOTPConfirm(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	a, err := s.actor(r, cur)
	if err != nil {
		return err
	}
	code, name := r.PostFormValue("code"), r.PostFormValue("name")
	if err := formLimits("code", code, "name", name); err != nil {
		return err
	}
	id := r.PathValue("id")
	if cerr := s.confirmTOTP(r, cur, a, id, code, name); cerr != nil {
		if k := errKey(cerr); k == "totp.wrong" || k == "totp.replayed" {
			v := s.view(w, r, "totp.title")
			v.SignedIn = true
			v.Data = totpPage{FactorID: id, Secret: r.PostFormValue("secret"), QR: ""}
			return s.formError(w, r, v, "totp_enrol", cerr)
		}
		return s.changeError(w, r, cur, "/account/security", cerr)
	}
	http.Redirect(w, r, "/account/security?done=totp", http.StatusSeeOther)
	return nil
}

func (s *Server) pageRecoveryCodes(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	a, err := s.actor(r, cur)
	if err != nil {
		return err
	}
	codes, gerr := s.newRecoveryCodes(r, cur, a)
	if gerr != nil {
		return s.changeError(w, r, cur, "/account/security", gerr)
	}
	v := s.view(w, r, "rcodes.title")
	v.SignedIn = true
	v.Data = codes
	s.render(w, r, http.StatusOK, "recovery_codes", v)
	return nil
}

func (s *Server) pageFactorRename(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	a, err := s.actor(r, cur)
	if err != nil {
		return err
	}
	name := r.PostFormValue("name")
	if err := fieldLimit("name", name, 256); err != nil {
		return err
	}
	if rerr := s.factors.Rename(r.Context(), a, r.PathValue("id"), name); rerr != nil {
		return s.changeError(w, r, cur, "/account/security", rerr)
	}
	http.Redirect(w, r, "/account/security?done=renamed", http.StatusSeeOther)
	return nil
}

func (s *Server) pageFactorRemove(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	a, err := s.actor(r, cur)
	if err != nil {
		return err
	}
	if rerr := s.removeFactor(r, cur, a, r.PathValue("id")); rerr != nil {
		return s.changeError(w, r, cur, "/account/security", rerr)
	}
	http.Redirect(w, r, "/account/security?done=removed", http.StatusSeeOther)
	return nil
}

// pageTwoStep turns 2-step verification on or off. Turning it on with only
// SMS or email codes first explains the risk and offers an authenticator
// app or a passkey (NIST SP 800-63B-4 §3.2.9); confirm=codes goes on.
func (s *Server) pageTwoStep(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	a, err := s.actor(r, cur)
	if err != nil {
		return err
	}
	on := r.PostFormValue("on") == "1"
	weak, err := s.codesOnlyTwoStep(r, cur, on, r.PostFormValue("confirm") == "codes")
	if err != nil {
		return err
	}
	if weak {
		v, err := s.securityView(w, r, cur)
		if err != nil {
			return err
		}
		s.render(w, r, http.StatusOK, "twostep_sms", v)
		return nil
	}
	if terr := s.setTwoStep(r, cur, a, on); terr != nil {
		return s.changeError(w, r, cur, "/account/security", terr)
	}
	done := "off"
	if on {
		done = "on"
	}
	http.Redirect(w, r, "/account/security?done="+done, http.StatusSeeOther)
	return nil
}

// factorChanged tells the account's contacts that its 2-step settings
// changed (notice topic "factor.changed").
func (s *Server) factorChanged(r *http.Request, cur *account.Current, what string) {
	if s.notices == nil {
		return
	}
	if _, err := s.notices.Send(r.Context(), cur.Account.ID, monban.TopicFactorChanged, map[string]string{"factor": what}, notices.Options{}); err != nil {
		s.log.WarnContext(r.Context(), "factor notice", "err", err)
	}
}

func (s *Server) pageUntrustDevice(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	if err := s.twostep.Untrust(r.Context(), cur, r.PathValue("id"), s.meta(r, monban.SessionWeb, s.deviceID(r))); err != nil {
		return err
	}
	http.Redirect(w, r, "/account/security?done=untrusted", http.StatusSeeOther)
	return nil
}

// pagePasskeyOptions starts adding a passkey (JSON for twostep.js).
func (s *Server) pagePasskeyOptions(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.pageCurrent(r)
	if err != nil {
		return err
	}
	if cur == nil {
		return monban.Errorf(monban.EUnauthorized, "session.invalid")
	}
	if err := s.checkJSONCSRF(r); err != nil {
		return err
	}
	return s.writePasskeyOptions(w, r, cur)
}

// pagePasskeyAdd stores the new passkey (JSON for twostep.js).
func (s *Server) pagePasskeyAdd(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.pageCurrent(r)
	if err != nil {
		return err
	}
	if cur == nil {
		return monban.Errorf(monban.EUnauthorized, "session.invalid")
	}
	body, ceremony, err := s.ceremonyBody(w, r)
	if err != nil {
		return err
	}
	a, err := s.actor(r, cur)
	if err != nil {
		return err
	}
	if err := s.addPasskey(r, cur, a, ceremony, body, r.URL.Query().Get("name")); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"next": "/account/security?done=passkey"})
}
