package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/monban-dev/monban"
)

// Cookie names. Outside dev mode the session and device cookies carry the
// __Host- prefix, which browsers accept only with Secure, Path=/ and no
// Domain, so no sibling subdomain can set or read them.
func (s *Server) sessionCookieName() string {
	if s.cfg.Dev {
		return "monban_session"
	}
	return "__Host-monban_session"
}

func (s *Server) deviceCookieName() string {
	if s.cfg.Dev {
		return "monban_device"
	}
	return "__Host-monban_device"
}

func (s *Server) cookie(name, value string, maxAge time.Duration) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: int(maxAge / time.Second),
		Secure: !s.cfg.Dev, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

func (s *Server) mac(purpose, value string) string {
	m := hmac.New(sha256.New, s.cfg.Secret)
	m.Write([]byte(purpose + "|" + value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// deviceID returns the verified device id from the signed device cookie, or "".
func (s *Server) deviceID(r *http.Request) string {
	c, err := r.Cookie(s.deviceCookieName())
	if err != nil {
		return ""
	}
	id, sig, ok := strings.Cut(c.Value, ".")
	if !ok || !strings.HasPrefix(id, "dev_") || len(id) > 64 {
		return ""
	}
	if subtle.ConstantTimeCompare([]byte(sig), []byte(s.mac("device", id))) != 1 {
		return ""
	}
	return id
}

// deviceCookieAge: a browser stays recognisable for about a year.
const deviceCookieAge = 400 * 24 * time.Hour

// ensureDevice returns the request's device id, issuing a signed device
// cookie to a browser that has none.
func (s *Server) ensureDevice(w http.ResponseWriter, r *http.Request) string {
	if id := s.deviceID(r); id != "" {
		return id
	}
	id := monban.NewID("dev")
	http.SetCookie(w, s.cookie(s.deviceCookieName(), id+"."+s.mac("device", id), deviceCookieAge))
	// Later reads in this request see the new cookie.
	r.AddCookie(&http.Cookie{Name: s.deviceCookieName(), Value: id + "." + s.mac("device", id)})
	return id
}

// csrfToken binds forms to the browser's device cookie.
func (s *Server) csrfToken(deviceID string) string { return s.mac("csrf", deviceID) }

// checkCSRF rejects a form post whose token does not match the device cookie.
// http.CrossOriginProtection already refuses cross-origin posts from
// browsers that send Sec-Fetch-Site or Origin; the token covers the rest.
func (s *Server) checkCSRF(r *http.Request) error {
	id := s.deviceID(r)
	tok := r.PostFormValue("csrf")
	if id == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(s.csrfToken(id))) != 1 {
		return monban.Errorf(monban.EForbidden, "csrf.invalid")
	}
	return nil
}

func (s *Server) setSession(w http.ResponseWriter, token string, expires time.Duration) {
	http.SetCookie(w, s.cookie(s.sessionCookieName(), token, expires))
}

func (s *Server) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, s.cookie(s.sessionCookieName(), "", -time.Second))
}
