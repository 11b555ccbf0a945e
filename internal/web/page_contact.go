package web

import (
	"net/http"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/recovery"
)

// Changing the email address or phone number: the current password and a
// code sent to the new contact; the old contacts get a "this wasn't me"
// link.

type contactPage struct {
	Kind    monban.IdentifierKind
	ID      string
	Masked  string
	Digits  int
	Minutes int
}

func (s *Server) changeMeta(r *http.Request, cur *account.Current) recovery.Meta {
	return recovery.Meta{IP: clientIP(r), UserAgent: r.UserAgent(), DeviceID: cur.Session.DeviceID}
}

func contactKind(raw string) monban.IdentifierKind {
	if raw == string(monban.KindPhone) {
		return monban.KindPhone
	}
	return monban.KindEmail
}

func (s *Server) pageContact(w http.ResponseWriter, r *http.Request) error {
	_, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	v := s.view(w, r, "change.title")
	v.SignedIn = true
	v.Data = contactPage{Kind: contactKind(r.URL.Query().Get("kind"))}
	s.render(w, r, http.StatusOK, "contact_change", v)
	return nil
}

func (s *Server) pageContactSubmit(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	kind, value := contactKind(r.PostFormValue("kind")), r.PostFormValue("value")
	v := s.view(w, r, "change.title")
	v.SignedIn = true
	v.Data = contactPage{Kind: kind}
	v.Form.Set("value", value)
	if err := formLimits("value", value); err != nil {
		return s.formError(w, r, v, "contact_change", err)
	}
	c, err := s.recovery.StartChange(r.Context(), recovery.ChangeInput{AccountID: cur.Account.ID, SessionID: cur.Session.ID,
		Kind: kind, Value: value, Password: r.PostFormValue("password"), Lang: v.Lang, Meta: s.changeMeta(r, cur),
		Current: cur, Auth: s.meta(r, monban.SessionWeb, s.deviceID(r))})
	if err != nil {
		return s.formError(w, r, v, "contact_change", err)
	}
	http.Redirect(w, r, "/account/contact/"+c.ID, http.StatusSeeOther)
	return nil
}

func (s *Server) contactVerifyView(w http.ResponseWriter, r *http.Request, cur *account.Current) (*View, error) {
	c, err := s.recovery.Change(r.Context(), cur.Account.ID, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	v := s.view(w, r, "change.verify_title")
	v.SignedIn = true
	cfg := s.codes.Config()
	v.Data = contactPage{Kind: c.Kind, ID: c.ID, Masked: maskDestination(channelOf(c.Kind), c.NewValue),
		Digits: cfg.DigitsFor(monban.PurposeContactChange), Minutes: int(cfg.LifetimeFor(monban.PurposeContactChange).Minutes())}
	if c.FlowID != "" {
		// A new address is verified only where it is: no other contact
		// stands in for it.
		reach, err := s.codes.Reach(r.Context(), c.FlowID, cur.Account.ID, nil)
		if err != nil {
			return nil, err
		}
		v.Reach = s.reachView(v.Lang, "/account/contact/"+c.ID+"/status", "/support/new", reach)
	}
	return v, nil
}

// pageContactVerifyStatus feeds the contact change code page's live status.
func (s *Server) pageContactVerifyStatus(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.pageCurrent(r)
	if err != nil {
		return err
	}
	if cur == nil {
		return monban.Errorf(monban.EUnauthorized, "session.invalid")
	}
	c, err := s.recovery.Change(r.Context(), cur.Account.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.flowStatus(w, r, cur, c.FlowID, monban.PurposeContactChange)
}

func (s *Server) pageContactVerify(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	v, err := s.contactVerifyView(w, r, cur)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "contact_verify", v)
	return nil
}

func (s *Server) pageContactVerifySubmit(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	code := r.PostFormValue("code")
	if err := fieldLimit("code", code, 32); err != nil {
		return err
	}
	c, cerr := s.recovery.ConfirmChange(r.Context(), cur.Account.ID, r.PathValue("id"), code, s.changeMeta(r, cur))
	if cerr == nil {
		http.Redirect(w, r, "/account?done=changed_"+string(c.Kind), http.StatusSeeOther)
		return nil
	}
	v, err := s.contactVerifyView(w, r, cur)
	if err != nil {
		return err
	}
	return s.formError(w, r, v, "contact_verify", cerr)
}
