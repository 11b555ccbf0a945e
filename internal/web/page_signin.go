package web

import (
	"net/http"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
)

func (s *Server) pageSignIn(w http.ResponseWriter, r *http.Request) error {
	s.rememberNext(w, r) // ?next= (signin_next.go)
	s.render(w, r, http.StatusOK, "signin", s.view(w, r, "signin.title"))
	return nil
}

func (s *Server) pageSignInSubmit(w http.ResponseWriter, r *http.Request) error {
	v := s.view(w, r, "signin.title")
	v.Form.Set("identifier", r.PostFormValue("identifier"))
	in := account.SignInInput{
		Identifier: r.PostFormValue("identifier"), Password: r.PostFormValue("password"),
		AccountID: r.PostFormValue("account_id"), Meta: s.meta(r, monban.SessionWeb, s.deviceID(r)),
	}
	if err := formLimits("identifier", in.Identifier, "account_id", in.AccountID); err != nil {
		return s.formError(w, r, v, "signin", err)
	}
	res, err := s.accounts.SignIn(r.Context(), in)
	if err != nil {
		return s.formError(w, r, v, "signin", err)
	}
	if res.Held != nil {
		s.setPending(w, res.Held)
		http.Redirect(w, r, "/signin/verify", http.StatusSeeOther)
		return nil
	}
	if res.SignedIn == nil {
		v.TitleKey = "choose.title"
		v.Data = res.Choices
		s.render(w, r, http.StatusOK, "choose", v)
		return nil
	}
	s.setSession(w, res.SignedIn.Token, res.SignedIn.Session.ExpiresAt.Sub(s.clock.Now()))
	http.Redirect(w, r, s.afterSignIn(w, r), http.StatusSeeOther)
	return nil
}

func (s *Server) pageSignOut(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.pageCurrent(r)
	if err != nil {
		return err
	}
	if cur != nil {
		if err := s.accounts.SignOut(r.Context(), cur, s.meta(r, monban.SessionWeb, s.deviceID(r))); err != nil {
			return err
		}
	}
	s.clearSession(w)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
	return nil
}
