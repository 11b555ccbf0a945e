package web

import (
	"errors"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/twostep"
)

// The second step of a held sign-in: /signin/verify offers the ways bound
// to the account; each form finishes it, or the page waits for an approval.

type verifyWay struct {
	Way      string
	LabelKey string
}

type signinVerifyPage struct {
	Reason      string
	Ways        []verifyWay
	Has         map[string]bool
	Code        *flowView // a code was sent
	Waiting     bool      // an approval prompt is open
	State       string
	Show        string // the way whose form is open
	RememberDay int
}

func (s *Server) signinVerifyView(w http.ResponseWriter, r *http.Request, f twostep.Finish, show string) (*View, error) {
	p, err := s.twostep.Open(r.Context(), f.ID, f.Secret)
	if err != nil {
		return nil, err
	}
	v := s.view(w, r, "twostep.title")
	d := signinVerifyPage{Reason: p.Reason, Has: map[string]bool{}, State: string(p.State), Show: show,
		RememberDay: s.twostep.Config().TrustDays,
		Waiting:     !p.ApprovalExpiresAt.IsZero() && s.clock.Now().Before(p.ApprovalExpiresAt) && p.State == monban.PendingWaiting}
	for _, way := range p.Ways {
		d.Ways = append(d.Ways, verifyWay{Way: way, LabelKey: wayLabel(way)})
		d.Has[way] = true
	}
	reach, err := s.twostep.Reach(r.Context(), p)
	if err != nil {
		return nil, err
	}
	if reach != nil {
		cfg := s.codes.Config()
		d.Code = &flowView{FlowID: reach.FlowID, Channel: reach.Channel, Masked: reach.Masked, Reach: reach}
		if f, ferr := s.codes.Status(r.Context(), reach.FlowID, p.AccountID); ferr == nil {
			d.Code.Digits = cfg.DigitsFor(f.Flow.Purpose)
		}
		v.Reach = s.reachView(v.Lang, "/signin/verify/status", "#ways-box", reach)
	}
	v.Data = d
	return v, nil
}

func (s *Server) pageSigninVerify(w http.ResponseWriter, r *http.Request) error {
	f, err := s.pendingFinish(r)
	if err != nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return nil
	}
	v, err := s.signinVerifyView(w, r, f, r.URL.Query().Get("show"))
	if err != nil {
		return s.pendingOver(w, r, err)
	}
	s.render(w, r, http.StatusOK, "signin_verify", v)
	return nil
}

// pendingOver answers a held sign-in that can no longer go on: the person
// starts again from the sign-in page, told why.
func (s *Server) pendingOver(w http.ResponseWriter, r *http.Request, err error) error {
	if !errors.Is(err, monban.ErrPendingInvalid) && !errors.Is(err, monban.ErrPendingExpired) &&
		!errors.Is(err, monban.ErrPendingDenied) && !errors.Is(err, monban.ErrPendingOver) {
		return err
	}
	e, _ := monban.AsError(err) // rendering: the message of the error matched above
	s.clearPending(w)
	v := s.view(w, r, "signin.title")
	v.Error = v.T(e.Key)
	s.render(w, r, statusOf[e.Code], "signin", v)
	return nil
}

// pageSigninVerifySend sends a code by SMS or email.
func (s *Server) pageSigninVerifySend(w http.ResponseWriter, r *http.Request) error {
	f, err := s.pendingFinish(r)
	if err != nil {
		return s.pendingOver(w, r, err)
	}
	way := r.PostFormValue("way")
	if _, serr := s.twostep.StartCode(r.Context(), f, way); serr != nil {
		return s.verifyFormError(w, r, f, way, serr)
	}
	s.notifyOutbox()
	http.Redirect(w, r, "/signin/verify?show="+way, http.StatusSeeOther)
	return nil
}

func (s *Server) verifyFormError(w http.ResponseWriter, r *http.Request, f twostep.Finish, show string, verr error) error {
	if err := s.pendingOver(w, r, verr); err == nil {
		return nil
	}
	v, err := s.signinVerifyView(w, r, f, show)
	if err != nil {
		return s.pendingOver(w, r, err)
	}
	return s.formError(w, r, v, "signin_verify", verr)
}

// pageSigninVerifySubmit finishes the sign-in with a code, a TOTP code or
// a recovery code.
func (s *Server) pageSigninVerifySubmit(w http.ResponseWriter, r *http.Request) error {
	f, err := s.pendingFinish(r)
	if err != nil {
		return s.pendingOver(w, r, err)
	}
	code, method := r.PostFormValue("code"), r.PostFormValue("method")
	if err := fieldLimit("code", code, 64); err != nil {
		return err
	}
	var si *account.SignedIn
	var verr error
	switch method {
	case "code":
		si, verr = s.twostep.VerifyCode(r.Context(), f, code)
	case twostep.WayTOTP:
		si, verr = s.twostep.VerifyTOTP(r.Context(), f, code)
	case twostep.WayRecovery:
		si, verr = s.twostep.UseRecoveryCode(r.Context(), f, code)
	default:
		verr = monban.Errorf(monban.EInvalid, "signin.way_unavailable").WithField("method")
	}
	if verr != nil {
		show := method
		if method == "code" {
			show = "sent"
		}
		return s.verifyFormError(w, r, f, show, verr)
	}
	return s.signedIn(w, r, si)
}

func (s *Server) signedIn(w http.ResponseWriter, r *http.Request, si *account.SignedIn) error {
	s.clearPending(w)
	s.setSession(w, si.Token, si.Session.ExpiresAt.Sub(s.clock.Now()))
	http.Redirect(w, r, s.afterSignIn(w, r), http.StatusSeeOther)
	return nil
}

// pageSigninVerifyAsk opens the approve-or-deny prompt and waits.
func (s *Server) pageSigninVerifyAsk(w http.ResponseWriter, r *http.Request) error {
	f, err := s.pendingFinish(r)
	if err != nil {
		return s.pendingOver(w, r, err)
	}
	if _, aerr := s.twostep.AskApproval(r.Context(), f); aerr != nil {
		return s.verifyFormError(w, r, f, twostep.WayApproval, aerr)
	}
	s.notifyOutbox() // the link by email and SMS
	http.Redirect(w, r, "/signin/verify?show=approval", http.StatusSeeOther)
	return nil
}

// pageSigninVerifyStatus feeds the waiting page's poll.
func (s *Server) pageSigninVerifyStatus(w http.ResponseWriter, r *http.Request) error {
	f, err := s.pendingFinish(r)
	if err != nil {
		return err
	}
	p, err := s.twostep.Open(r.Context(), f.ID, f.Secret)
	if err != nil {
		return err
	}
	lang := s.cat.Lang(r)
	out := map[string]any{"state": p.State, "text": s.cat.T(lang, stateKeys[p.State], nil)}
	reach, err := s.twostep.Reach(r.Context(), p)
	if err != nil {
		return err
	}
	if reach != nil {
		out = mergeParams(s.reachJSON(lang, reach), out)
	}
	return writeJSON(w, http.StatusOK, out)
}

// pageSigninVerifyComplete finishes a sign-in a trusted session approved.
func (s *Server) pageSigninVerifyComplete(w http.ResponseWriter, r *http.Request) error {
	f, err := s.pendingFinish(r)
	if err != nil {
		return s.pendingOver(w, r, err)
	}
	p, si, err := s.twostep.Poll(r.Context(), f)
	if err != nil {
		return s.pendingOver(w, r, err)
	}
	if si == nil {
		switch p.State {
		case monban.PendingDenied:
			return s.pendingOver(w, r, monban.Errorf(monban.EConflict, "signin.pending_denied"))
		case monban.PendingExpired:
			return s.pendingOver(w, r, monban.Errorf(monban.EConflict, "signin.pending_expired"))
		}
		http.Redirect(w, r, "/signin/verify?show=approval", http.StatusSeeOther)
		return nil
	}
	return s.signedIn(w, r, si)
}

// pageSigninVerifyPasskeyOptions starts the passkey assertion (JSON).
func (s *Server) pageSigninVerifyPasskeyOptions(w http.ResponseWriter, r *http.Request) error {
	f, err := s.pendingFinish(r)
	if err != nil {
		return err
	}
	accountID, err := s.twostep.PasskeyAccount(r.Context(), f)
	if err != nil {
		return err
	}
	opts, err := s.factors.BeginPasskeyCheck(r.Context(), accountID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, opts)
}

// pageSigninVerifyPasskey finishes the sign-in with the assertion (JSON in,
// JSON out: where to go next).
func (s *Server) pageSigninVerifyPasskey(w http.ResponseWriter, r *http.Request) error {
	f, err := s.pendingFinish(r)
	if err != nil {
		return err
	}
	f.Remember = r.URL.Query().Get("remember") == "1"
	body, ceremony, err := s.ceremonyBody(w, r)
	if err != nil {
		return err
	}
	si, err := s.twostep.VerifyPasskey(r.Context(), f, ceremony, body)
	if err != nil {
		return err
	}
	s.clearPending(w)
	s.setSession(w, si.Token, si.Session.ExpiresAt.Sub(s.clock.Now()))
	return writeJSON(w, http.StatusOK, map[string]string{"next": s.afterSignIn(w, r)})
}

// ceremonyBody reads a WebAuthn response posted by twostep.js; the
// ceremony id travels in the query.
func (s *Server) ceremonyBody(w http.ResponseWriter, r *http.Request) ([]byte, string, error) {
	if err := s.checkJSONCSRF(r); err != nil {
		return nil, "", err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		return nil, "", errBody(err)
	}
	if !utf8.Valid(body) || loneSurrogate(body) { // as decodeJSON: never read as U+FFFD
		return nil, "", monban.Errorf(monban.EInvalid, "request.invalid_utf8")
	}
	c := r.URL.Query().Get("ceremony")
	if len(c) > 64 {
		return nil, "", monban.Errorf(monban.EInvalid, "passkey.expired")
	}
	return body, c, nil
}

// checkJSONCSRF: the ceremony scripts send the page's CSRF token in a
// header (same-origin fetch), tied to the device cookie like forms.
func (s *Server) checkJSONCSRF(r *http.Request) error {
	id := s.deviceID(r)
	if id == "" || r.Header.Get("X-CSRF-Token") != s.csrfToken(id) {
		return monban.Errorf(monban.EForbidden, "csrf.invalid")
	}
	return nil
}

// pagePasskeySignInOptions starts a passwordless sign-in (JSON).
func (s *Server) pagePasskeySignInOptions(w http.ResponseWriter, r *http.Request) error {
	if err := s.checkJSONCSRF(r); err != nil {
		return err
	}
	opts, err := s.factors.BeginPasskeySignIn(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, opts)
}

// pagePasskeySignIn finishes a passwordless sign-in (JSON).
func (s *Server) pagePasskeySignIn(w http.ResponseWriter, r *http.Request) error {
	body, ceremony, err := s.ceremonyBody(w, r)
	if err != nil {
		return err
	}
	si, err := s.twostep.PasskeySignIn(r.Context(), ceremony, body, s.meta(r, monban.SessionWeb, s.deviceID(r)))
	if err != nil {
		return err
	}
	s.setSession(w, si.Token, si.Session.ExpiresAt.Sub(s.clock.Now()))
	return writeJSON(w, http.StatusOK, map[string]string{"next": s.afterSignIn(w, r)})
}

// stateKeys are the waiting page's words for each state.
var stateKeys = map[monban.PendingState]string{
	monban.PendingWaiting: "twostep.state_pending", monban.PendingApproved: "twostep.state_approved",
	monban.PendingDenied: "twostep.state_denied", monban.PendingCompleted: "twostep.state_completed",
	monban.PendingExpired: "twostep.state_expired",
}
