package web

import (
	"net/http"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/recovery"
)

// Login help (seed 004): identify the account, enter the code sent to its
// contact, a second factor when 2-step is on, a new password. Every page
// before the code looks the same whether or not an account matched.

type helpPage struct {
	ID             string
	Shown          string
	Step           recovery.Step
	TwoStep        bool
	MinPassword    int
	EmailHours     int
	SMSMinutes     int
	SupportContact string
}

func (s *Server) helpView(w http.ResponseWriter, r *http.Request, title string) *View {
	v := s.view(w, r, title)
	v.Data = &helpPage{SupportContact: s.cfg.SupportContact}
	return v
}

func (s *Server) pageHelpSignIn(w http.ResponseWriter, r *http.Request) error {
	s.render(w, r, http.StatusOK, "help_signin", s.helpView(w, r, "recover.title"))
	return nil
}

func (s *Server) recoveryMeta(r *http.Request) recovery.Meta {
	return recovery.Meta{IP: clientIP(r), UserAgent: r.UserAgent(), DeviceID: s.deviceID(r)}
}

func (s *Server) pageHelpSignInSubmit(w http.ResponseWriter, r *http.Request) error {
	ident, ch := r.PostFormValue("identifier"), r.PostFormValue("channel")
	v := s.helpView(w, r, "recover.title")
	v.Form.Set("identifier", ident)
	if err := formLimits("identifier", ident, "channel", ch); err != nil {
		return s.formError(w, r, v, "help_signin", err)
	}
	rec, err := s.recovery.Start(r.Context(), recovery.StartInput{Identifier: ident, Channel: monban.Channel(ch),
		Lang: v.Lang, Meta: s.recoveryMeta(r)})
	if err != nil {
		return s.formError(w, r, v, "help_signin", err)
	}
	http.Redirect(w, r, "/help/signin/"+rec.ID, http.StatusSeeOther)
	return nil
}

// helpStepView renders the page of the attempt's current step.
func (s *Server) helpStepView(w http.ResponseWriter, r *http.Request) (*View, *recovery.Attempt, error) {
	at, err := s.recovery.Get(r.Context(), r.PathValue("id"), s.deviceID(r))
	if err != nil {
		return nil, nil, err
	}
	v := s.helpView(w, r, "recover.title")
	cfg := s.codes.Config()
	p := v.Data.(*helpPage)
	p.ID, p.Shown, p.Step, p.TwoStep = at.Recovery.ID, at.Recovery.Shown, at.Step, at.TwoStep
	p.EmailHours = int(cfg.EmailLifetimeFor(monban.PurposeRecovery).Hours())
	p.SMSMinutes = int(cfg.LifetimeFor(monban.PurposeRecovery).Minutes())
	p.MinPassword = 15
	if at.TwoStep {
		p.MinPassword = 8
	}
	return v, at, nil
}

func (s *Server) pageHelpStep(w http.ResponseWriter, r *http.Request) error {
	v, _, err := s.helpStepView(w, r)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("restored") == "1" {
		v.Notice = v.T("undo.done")
	}
	s.render(w, r, http.StatusOK, "help_step", v)
	return nil
}

// helpAnswer re-renders the step page with the refusal, or moves on.
func (s *Server) helpAnswer(w http.ResponseWriter, r *http.Request, err error) error {
	if err == nil {
		http.Redirect(w, r, "/help/signin/"+r.PathValue("id"), http.StatusSeeOther)
		return nil
	}
	v, _, verr := s.helpStepView(w, r)
	if verr != nil {
		return err
	}
	return s.formError(w, r, v, "help_step", err)
}

func (s *Server) pageHelpCode(w http.ResponseWriter, r *http.Request) error {
	code := r.PostFormValue("code")
	if err := fieldLimit("code", code, 32); err != nil {
		return err
	}
	_, err := s.recovery.VerifyCode(r.Context(), r.PathValue("id"), s.deviceID(r), code)
	return s.helpAnswer(w, r, err)
}

func (s *Server) pageHelpSecond(w http.ResponseWriter, r *http.Request) error {
	kind, code := r.PostFormValue("kind"), r.PostFormValue("code")
	if err := formLimits("kind", kind, "code", code); err != nil {
		return err
	}
	_, err := s.recovery.VerifySecond(r.Context(), r.PathValue("id"), s.deviceID(r), clientIP(r), kind, code)
	return s.helpAnswer(w, r, err)
}

func (s *Server) pageHelpPassword(w http.ResponseWriter, r *http.Request) error {
	pw := r.PostFormValue("password")
	if err := s.recovery.ResetPassword(r.Context(), r.PathValue("id"), pw, s.recoveryMeta(r)); err != nil {
		return s.helpAnswer(w, r, err)
	}
	s.clearSession(w)
	http.Redirect(w, r, "/help/signin/"+r.PathValue("id"), http.StatusSeeOther)
	return nil
}

// The "this wasn't me" link: a page that says what will happen, and a
// button (a mail scanner following the link changes nothing).

type undoPage struct {
	Token string
	Kind  monban.IdentifierKind
	Old   string
}

func (s *Server) pageUndo(w http.ResponseWriter, r *http.Request) error {
	c, err := s.recovery.UndoChange(r.Context(), r.PathValue("token"), clientIP(r))
	if err != nil {
		return err
	}
	v := s.view(w, r, "undo.title")
	v.Data = undoPage{Token: r.PathValue("token"), Kind: c.Kind, Old: maskDestination(channelOf(c.Kind), c.OldValue)}
	s.render(w, r, http.StatusOK, "help_undo", v)
	return nil
}

func channelOf(k monban.IdentifierKind) monban.Channel {
	if k == monban.KindPhone {
		return monban.ChannelSMS
	}
	return monban.ChannelEmail
}

func (s *Server) pageUndoSubmit(w http.ResponseWriter, r *http.Request) error {
	rec, err := s.recovery.Undo(r.Context(), r.PathValue("token"), s.cat.Lang(r), s.recoveryMeta(r))
	if err != nil {
		return err
	}
	s.clearSession(w)
	http.Redirect(w, r, "/help/signin/"+rec.ID+"?restored=1", http.StatusSeeOther)
	return nil
}
