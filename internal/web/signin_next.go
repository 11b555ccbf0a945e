package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Where a browser goes after signing in. /signin?next=PATH remembers a
// same-origin path in a short-lived cookie (the sign-in may take several
// steps: 2-step, a new-device check, a passkey), and whichever step
// finishes the sign-in sends the browser there with afterSignIn. The
// OpenID Connect login page uses it to come back to the authorization
// request.

const (
	nextCookie = "monban_next"
	nextMaxAge = 20 * time.Minute
)

// sameOriginPath accepts only a relative path on this origin: it starts with one
// "/", not "//" or "/\" (which browsers read as another host), and has no
// control characters or scheme. Anything else is "".
func sameOriginPath(raw string) string {
	if len(raw) == 0 || len(raw) > 1024 || raw[0] != '/' {
		return ""
	}
	if len(raw) > 1 && (raw[1] == '/' || raw[1] == '\\') {
		return ""
	}
	if strings.ContainsAny(raw, "\\\r\n\t") || strings.ContainsFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return ""
	}
	return raw
}

// rememberNext keeps a safe ?next= of the sign-in page for the step that
// finishes the sign-in.
func (s *Server) rememberNext(w http.ResponseWriter, r *http.Request) {
	if next := sameOriginPath(r.URL.Query().Get("next")); next != "" {
		http.SetCookie(w, s.cookie(nextCookie, url.QueryEscape(next), nextMaxAge))
	}
}

// afterSignIn is where a browser goes once signed in: the remembered
// path (used once), else the account page.
func (s *Server) afterSignIn(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(nextCookie)
	if err != nil {
		return "/account"
	}
	http.SetCookie(w, s.cookie(nextCookie, "", -time.Second))
	raw, err := url.QueryUnescape(c.Value)
	if next := sameOriginPath(raw); err == nil && next != "" {
		return next
	}
	return "/account"
}
