package web

import (
	"net/http"
	"strings"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/identifier"
)

// The verify pages: confirm the destination, send a code, enter it, and a
// "didn't get a code?" page that never loops back.

type confirmPage struct {
	Kind          monban.IdentifierKind
	Channel       monban.Channel
	Value         string
	Display       string
	Carrier       string
	CarrierSender string
	// Refused: the SMS guard will not send to this number (a region not
	// allowed); the page says why and offers the correction, not the send.
	Refused bool
}

// requirePage returns the signed-in account or redirects to sign-in.
func (s *Server) requirePage(w http.ResponseWriter, r *http.Request) (*account.Current, bool, error) {
	cur, err := s.pageCurrent(r)
	if err != nil {
		return nil, false, err
	}
	if cur == nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return nil, false, nil
	}
	return cur, true, nil
}

func (s *Server) pageVerifyConfirm(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	notice := ""
	if r.URL.Query().Get("fixed") == "1" {
		notice = "phone.fixed"
	}
	return s.renderConfirm(w, r, cur, monban.IdentifierKind(r.URL.Query().Get("kind")), notice)
}

func (s *Server) renderConfirm(w http.ResponseWriter, r *http.Request, cur *account.Current, kind monban.IdentifierKind, noticeKey string) error {
	id, err := s.verifyTarget(r.Context(), cur, kind)
	if err != nil {
		return err
	}
	v := s.view(w, r, "confirm.title")
	v.SignedIn = true
	p := confirmPage{Kind: id.Kind, Value: id.Value, Display: id.Value, Channel: monban.ChannelEmail}
	if id.Kind == monban.KindPhone {
		p.Channel, p.Display = monban.ChannelSMS, displayIdentifier(*id)
	} else if c, ok := identifier.Carrier(id.Value); ok {
		p.Carrier, p.CarrierSender = c, s.cfg.SenderDomain
	}
	if noticeKey != "" {
		v.Notice = v.T(noticeKey)
	}
	if p.Channel == monban.ChannelSMS {
		// Say before the send button what the send would meet, instead of
		// an error page after it.
		if _, gerr := s.codes.Destination(p.Channel, id.Value); gerr != nil {
			p.Refused = true
			v.Data = p
			return s.formError(w, r, v, "confirm", gerr)
		}
	}
	v.Data = p
	s.render(w, r, http.StatusOK, "confirm", v)
	return nil
}

// pageCorrectPhone replaces a mistyped, still unverified number and shows
// the corrected one back before anything is sent.
func (s *Server) pageCorrectPhone(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	raw := r.PostFormValue("phone")
	if err := fieldLimit("phone", raw, 64); err != nil {
		return err
	}
	if _, err := s.accounts.CorrectPhone(r.Context(), cur, raw, s.meta(r, monban.SessionWeb, s.deviceID(r))); err != nil {
		v := s.view(w, r, "confirm.title")
		v.SignedIn = true
		id, terr := s.verifyTarget(r.Context(), cur, monban.KindPhone)
		if terr != nil {
			return err
		}
		v.Data = confirmPage{Kind: id.Kind, Value: id.Value, Display: raw, Channel: monban.ChannelSMS}
		return s.formError(w, r, v, "confirm", err)
	}
	// Redirect, so that reloading the page cannot post the correction again.
	http.Redirect(w, r, "/verify/confirm?kind=phone&fixed=1", http.StatusSeeOther)
	return nil
}

func (s *Server) pageVerifyStart(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	f, err := s.startVerify(r, cur, r.PostFormValue("kind"), r.PostFormValue("channel"), s.cat.Lang(r))
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/verify/"+f.ID, http.StatusSeeOther)
	return nil
}

func (s *Server) verifyPageView(w http.ResponseWriter, r *http.Request, cur *account.Current, title string) (*View, *flowView, error) {
	st, err := s.codes.Status(r.Context(), r.PathValue("id"), cur.Account.ID)
	if err != nil {
		return nil, nil, err
	}
	v := s.view(w, r, title)
	v.SignedIn = true
	fv, err := s.flowView(r.Context(), st, cur, v.Lang)
	if err != nil {
		return nil, nil, err
	}
	v.Data = fv
	v.Reach = s.reachView(v.Lang, "/verify/"+fv.FlowID+"/status", "/verify/"+fv.FlowID+"/help", fv.Reach)
	return v, fv, nil
}

func (s *Server) pageVerify(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	v, fv, err := s.verifyPageView(w, r, cur, "verify.title")
	if err != nil {
		return err
	}
	if fv.Completed {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return nil
	}
	s.render(w, r, http.StatusOK, "verify", v)
	return nil
}

func (s *Server) pageVerifySubmit(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	code := r.PostFormValue("code")
	if err := fieldLimit("code", code, 32); err != nil {
		return err
	}
	f, verr := s.codes.Verify(r.Context(), r.PathValue("id"), cur.Account.ID, code)
	if verr == nil {
		done := "phone"
		if f.Channel == monban.ChannelEmail {
			done = "email"
		}
		http.Redirect(w, r, "/account?done="+done, http.StatusSeeOther)
		return nil
	}
	v, _, err := s.verifyPageView(w, r, cur, "verify.title")
	if err != nil {
		return err
	}
	return s.formError(w, r, v, "verify", verr)
}

func (s *Server) pageVerifyHelp(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	v, _, err := s.verifyPageView(w, r, cur, "help.title")
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "verify_help", v)
	return nil
}

func (s *Server) pageVerifyResend(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	_, rerr := s.codes.Resend(r.Context(), r.PathValue("id"), cur.Account.ID, clientIP(r))
	if rerr == nil {
		s.notifyOutbox()
		http.Redirect(w, r, "/verify/"+r.PathValue("id"), http.StatusSeeOther)
		return nil
	}
	v, _, err := s.verifyPageView(w, r, cur, "help.title")
	if err != nil {
		return err
	}
	return s.formError(w, r, v, "verify_help", rerr)
}

// pageVerifyStatus feeds the live status on the code page.
func (s *Server) pageVerifyStatus(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.pageCurrent(r)
	if err != nil {
		return err
	}
	if cur == nil {
		return monban.Errorf(monban.EUnauthorized, "session.invalid")
	}
	return s.codeStatus(w, r, cur, "")
}

func mergeParams(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// doneKey is the message shown on the account page after a verification.
func doneKey(done string) string {
	switch strings.TrimSpace(done) {
	case "phone":
		return "verify.done_phone"
	case "email":
		return "verify.done_email"
	case "changed_email":
		return "change.done_email"
	case "changed_phone":
		return "change.done_phone"
	case "unlocked":
		return "lock.done"
	case "transferred":
		return "transfer.done"
	}
	return ""
}
