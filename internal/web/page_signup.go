package web

import (
	"net/http"
	"strings"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
)

func (s *Server) pageSignUp(w http.ResponseWriter, r *http.Request) error {
	s.render(w, r, http.StatusOK, "signup", s.view(w, r, "signup.title"))
	return nil
}

func (s *Server) pageSignUpSubmit(w http.ResponseWriter, r *http.Request) error {
	v := s.view(w, r, "signup.title")
	for _, f := range []string{"username", "email", "phone"} {
		v.Form.Set(f, r.PostFormValue(f))
	}
	in := account.RegisterInput{
		Username: r.PostFormValue("username"), Email: r.PostFormValue("email"), Phone: r.PostFormValue("phone"),
		Password: r.PostFormValue("password"), Lang: v.Lang, Meta: s.meta(r, monban.SessionWeb, s.deviceID(r)),
	}
	if err := formLimits("username", in.Username, "email", in.Email, "phone", in.Phone); err != nil {
		return s.formError(w, r, v, "signup", err)
	}
	si, err := s.accounts.Register(r.Context(), in)
	if err != nil {
		return s.formError(w, r, v, "signup", err)
	}
	s.setSession(w, si.Token, si.Session.ExpiresAt.Sub(s.clock.Now()))
	// A newly typed phone number is shown back before any code is sent.
	next := "/account"
	if strings.TrimSpace(in.Phone) != "" {
		next = "/verify/confirm?kind=phone"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// formLimits refuses over-long text fields, given as name, value pairs, and
// names the field at fault so the client can point at it.
func formLimits(fields ...string) error {
	for i := 0; i+1 < len(fields); i += 2 {
		if err := fieldLimit(fields[i], fields[i+1], 320); err != nil {
			return err
		}
	}
	return nil
}

// formError shows a domain error on the form it came from; other errors go
// to the error page.
func (s *Server) formError(w http.ResponseWriter, r *http.Request, v *View, page string, err error) error {
	e, ok := monban.AsError(err)
	if !ok || e.Code == monban.EInternal || e.Code == monban.EUnavailable {
		return err
	}
	setRetryAfter(w, e, s.clock.Now())
	v.Error = v.T(e.Key, s.withRetryTime(e, v.Lang))
	v.ErrField = e.Field
	s.render(w, r, statusOf[e.Code], page, v)
	return nil
}
