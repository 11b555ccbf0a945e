package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
)

func (s *Server) meta(r *http.Request, kind monban.SessionKind, deviceID string) account.Meta {
	return account.Meta{IP: clientIP(r), UserAgent: r.UserAgent(), DeviceID: deviceID, Kind: kind}
}

// pageCurrent returns the signed-in browser session, or nil: the one the
// route's wrapper resolved (access.go), else the optional session of an
// anyone route.
func (s *Server) pageCurrent(r *http.Request) (*account.Current, error) {
	if c := callerOf(r, whoPerson); c != nil {
		return c.cur, nil
	}
	return s.authCookie(r, r.Context())
}

// authCookie authenticates the session cookie under ctx, or returns nil
// without one.
func (s *Server) authCookie(r *http.Request, ctx context.Context) (*account.Current, error) {
	c, err := r.Cookie(s.sessionCookieName())
	if err != nil || c.Value == "" {
		return nil, nil
	}
	cur, err := s.accounts.Authenticate(ctx, c.Value)
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
	if c := callerOf(r, whoPerson); c != nil {
		return c.cur, nil
	}
	return s.authBearer(r, r.Context())
}

// authBearer authenticates the bearer session token under ctx.
func (s *Server) authBearer(r *http.Request, ctx context.Context) (*account.Current, error) {
	tok := bearer(r)
	if tok == "" {
		return nil, monban.Errorf(monban.EUnauthorized, "session.missing")
	}
	return s.accounts.Authenticate(ctx, tok)
}

// hostKey authenticates a host app's API key.
func (s *Server) hostKey(r *http.Request) (*monban.APIKey, error) {
	if c := callerOf(r, whoHost, whoAdmin); c != nil {
		return c.key, nil
	}
	return s.checkKey(r)
}

func (s *Server) checkKey(r *http.Request) (*monban.APIKey, error) {
	tok := bearer(r)
	if tok == "" {
		return nil, monban.Errorf(monban.EUnauthorized, "apikey.missing")
	}
	return s.keys.Check(r.Context(), tok)
}
