package web

import (
	"net/http"
	"strings"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
)

func (s *Server) meta(r *http.Request, kind monban.SessionKind, deviceID string) account.Meta {
	return account.Meta{IP: clientIP(r), UserAgent: r.UserAgent(), DeviceID: deviceID, Kind: kind}
}

// pageCurrent returns the signed-in browser session, or nil.
func (s *Server) pageCurrent(r *http.Request) (*account.Current, error) {
	c, err := r.Cookie(s.sessionCookieName())
	if err != nil || c.Value == "" {
		return nil, nil
	}
	cur, err := s.accounts.Authenticate(r.Context(), c.Value)
	if monban.ErrorCodeOf(err) == monban.EUnauthorized {
		return nil, nil
	}
	return cur, err
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// apiCurrent authenticates a native app's bearer session token.
func (s *Server) apiCurrent(r *http.Request) (*account.Current, error) {
	tok := bearer(r)
	if tok == "" {
		return nil, monban.Errorf(monban.EUnauthorized, "session.missing")
	}
	return s.accounts.Authenticate(r.Context(), tok)
}

// hostKey authenticates a host app's API key.
func (s *Server) hostKey(r *http.Request) (*monban.APIKey, error) {
	tok := bearer(r)
	if tok == "" {
		return nil, monban.Errorf(monban.EUnauthorized, "apikey.missing")
	}
	return s.keys.Check(r.Context(), tok)
}
