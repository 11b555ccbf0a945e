package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/factors"
	"github.com/monban-dev/monban/internal/twostep"
)

// The second step of signing in and the factor settings share these
// helpers: the pending sign-in cookie and the actor of a factor change.

func (s *Server) pendingCookieName() string {
	if s.cfg.Dev {
		return "monban_pending"
	}
	return "__Host-monban_pending"
}

// setPending remembers the held sign-in in this browser until it expires.
func (s *Server) setPending(w http.ResponseWriter, h *account.Held) {
	http.SetCookie(w, s.cookie(s.pendingCookieName(), h.ID+"."+h.Secret, h.ExpiresAt.Sub(s.clock.Now())))
}

func (s *Server) clearPending(w http.ResponseWriter) {
	http.SetCookie(w, s.cookie(s.pendingCookieName(), "", -time.Second))
}

// pendingFinish returns the held sign-in of the pending cookie, as the
// route's wrapper resolved it.
func (s *Server) pendingFinish(r *http.Request) (twostep.Finish, error) {
	if c := callerOf(r, whoPending); c != nil && c.pending != nil {
		return *c.pending, nil
	}
	return s.pendingCookie(r)
}

// pendingCookie reads the held sign-in from the cookie.
func (s *Server) pendingCookie(r *http.Request) (twostep.Finish, error) {
	c, err := r.Cookie(s.pendingCookieName())
	if err != nil {
		return twostep.Finish{}, monban.Errorf(monban.EUnauthorized, "signin.pending_invalid")
	}
	id, secret, _ := strings.Cut(c.Value, ".")
	return twostep.Finish{ID: id, Secret: secret, Meta: s.meta(r, monban.SessionWeb, s.deviceID(r)), Lang: s.cat.Lang(r),
		Remember: r.PostFormValue("remember") == "1"}, nil
}

// actor is the signed-in person changing factors, with when their session
// last proved the password.
func (s *Server) actor(r *http.Request, cur *account.Current) (factors.Actor, error) {
	at, err := s.twostep.AuthAt(r.Context(), cur)
	if err != nil {
		return factors.Actor{}, err
	}
	return factors.Actor{AccountID: cur.Account.ID, SessionID: cur.Session.ID, AuthAt: at, IP: clientIP(r), UserAgent: r.UserAgent()}, nil
}

// wayLabel is the message key naming a way to finish a sign-in.
func wayLabel(way string) string { return "way." + way }

// errKey is the message key of a domain error, or "".
func errKey(err error) string {
	if e, ok := monban.AsError(err); ok {
		return e.Key
	}
	return ""
}
