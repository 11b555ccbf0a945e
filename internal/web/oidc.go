package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/oidc"
)

// "Sign in with monban": the OpenID Connect provider's web side. The
// protocol endpoints (discovery, authorize, token, userinfo, keys, revoke,
// end_session) are github.com/zitadel/oidc's op handler, mounted under two
// path prefixes; the login and consent pages are monban's own, so the
// authorization request runs the normal sign-in with every check it has.

// oidcEndpoints is the provider's handler and service; nil service: no
// OpenID Connect on this server.
type oidcEndpoints struct {
	svc *oidc.Service
	op  http.Handler
}

func newOIDCEndpoints(s *Server, svc *oidc.Service) (*oidcEndpoints, error) {
	e := &oidcEndpoints{svc: svc}
	if svc == nil {
		return e, nil
	}
	svc.OnLogout(s.oidcLogout)
	h, err := svc.Handler("/signin")
	if err != nil {
		return nil, err
	}
	e.op = h
	return e, nil
}

type requestKey struct{}

// oidcProtocol serves the op endpoints. It refuses, with a page and never
// a redirect, an authorization request from an unknown client or to an
// unregistered redirect URI, and enforces PKCE (S256) for public clients
// before op sees the request.
func (s *Server) oidcProtocol() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.oidc == nil || s.oidc.op == nil {
			s.unmatched(w, r)
			return
		}
		if r.URL.Path == oidc.PathAuthorize {
			if ok := s.checkAuthorize(w, r); !ok {
				return
			}
		}
		// RP-initiated logout signs the browser out (see oidcLogout).
		r = r.WithContext(context.WithValue(r.Context(), requestKey{}, r))
		s.oidc.op.ServeHTTP(w, r)
	})
}

func (s *Server) checkAuthorize(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		s.writePageError(w, r, errBody(err))
		return false
	}
	if !validUTF8Form(r.Form) {
		s.writePageError(w, r, monban.Errorf(monban.EInvalid, "request.invalid_utf8"))
		return false
	}
	clientID, redirect := r.Form.Get("client_id"), r.Form.Get("redirect_uri")
	var c *monban.OIDCClient
	if clientID != "" && len(clientID) <= 64 {
		var err error
		c, err = s.oidcClient(r.Context(), clientID)
		if err != nil {
			s.writePageError(w, r, err)
			return false
		}
	}
	if c == nil {
		s.writePageError(w, r, monban.Errorf(monban.EInvalid, "oidc.client_unknown"))
		return false
	}
	// Exact match, character for character: nothing is ever sent to a URI
	// the client did not register.
	if !slices.Contains(c.RedirectURIs, redirect) {
		s.writePageError(w, r, monban.Errorf(monban.EInvalid, "oidc.redirect_mismatch"))
		return false
	}
	bounce := func(desc string) bool {
		q := url.Values{"error": {"invalid_request"}, "error_description": {desc}}
		if st := r.Form.Get("state"); st != "" {
			q.Set("state", st)
		}
		http.Redirect(w, r, withQuery(redirect, q), http.StatusFound)
		return false
	}
	challenge, method := r.Form.Get("code_challenge"), r.Form.Get("code_challenge_method")
	switch {
	case c.Public && challenge == "":
		return bounce("PKCE (code_challenge with S256) is required for this client")
	case challenge != "" && method != "S256":
		return bounce("code_challenge_method must be S256")
	case r.Form.Get("response_mode") == "form_post":
		return bounce("response_mode form_post is not supported")
	}
	return true
}

func (s *Server) oidcClient(ctx context.Context, id string) (*monban.OIDCClient, error) {
	c, err := s.oidc.svc.Client(ctx, id)
	if monban.IsNotFound(err) {
		return nil, nil
	}
	return c, err
}

func withQuery(uri string, q url.Values) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	old := u.Query()
	for k, v := range q {
		old[k] = v
	}
	u.RawQuery = old.Encode()
	return u.String()
}

// oidcLogout ends the browser's monban session when an RP-initiated
// logout names (by a valid id_token_hint) the account signed in there.
func (s *Server) oidcLogout(ctx context.Context, accountID string) {
	r, _ := ctx.Value(requestKey{}).(*http.Request)
	if r == nil {
		return
	}
	cur, err := s.pageCurrent(r)
	if err != nil || cur == nil || cur.Account.ID != accountID {
		return
	}
	if err := s.accounts.SignOut(ctx, cur, s.meta(r, monban.SessionWeb, s.deviceID(r))); err != nil {
		s.log.WarnContext(ctx, "oidc logout", "err", err)
	}
}

// consentView is the consent page's data.
type consentView struct {
	ID     string
	Client string
	Scopes []string // message keys of what the client will learn
}

// pageOIDCLogin is where op sends the browser with a new authorization
// request: sign in first (again, for prompt=login or an old sign-in past
// max_age), agree for a third-party client, then back to op for the code.
// A locked account's session ends on the lock page (writePageError).
func (s *Server) pageOIDCLogin(w http.ResponseWriter, r *http.Request) error {
	l, sess, err := s.oidcPending(r, r.URL.Query().Get("id"))
	if err != nil {
		return err
	}
	a := l.Request
	if s.oidc.svc.NeedsSignIn(a, sess) {
		if slices.Contains(a.Prompt, "none") {
			http.Redirect(w, r, oidc.ErrorRedirect(a, "login_required"), http.StatusFound)
			return nil
		}
		q := url.Values{"next": {"/oauth/login?id=" + a.ID}}
		if lang := uiLang(a.UILocales); lang != "" {
			q.Set("lang", lang)
		}
		http.Redirect(w, r, "/signin?"+q.Encode(), http.StatusSeeOther)
		return nil
	}
	if !l.Client.FirstParty {
		if slices.Contains(a.Prompt, "none") {
			http.Redirect(w, r, oidc.ErrorRedirect(a, "consent_required"), http.StatusFound)
			return nil
		}
		v := s.view(w, r, "oidc.consent_title")
		v.SignedIn = true
		v.Data = consentView{ID: a.ID, Client: l.Client.Name, Scopes: scopeKeys(a.Scopes)}
		s.render(w, r, http.StatusOK, "oidc_consent", v)
		return nil
	}
	if err := s.oidc.svc.Complete(r.Context(), a, sess); err != nil {
		return err
	}
	if !sess.CreatedAt.Before(a.CreatedAt) {
		// Just signed in: this request ends a form post's redirects, and
		// the page's form-action 'self' would stop a redirect to the app.
		return s.oidcContinue(w, r, s.oidc.svc.CallbackPath(a.ID))
	}
	http.Redirect(w, r, s.oidc.svc.CallbackPath(a.ID), http.StatusFound)
	return nil
}

// pageOIDCConsent records the person's answer on the consent page.
func (s *Server) pageOIDCConsent(w http.ResponseWriter, r *http.Request) error {
	l, sess, err := s.oidcPending(r, r.PostFormValue("id"))
	if err != nil {
		return err
	}
	if sess == nil || s.oidc.svc.NeedsSignIn(l.Request, sess) {
		http.Redirect(w, r, "/oauth/login?id="+url.QueryEscape(l.Request.ID), http.StatusSeeOther)
		return nil
	}
	if r.PostFormValue("decision") != "allow" {
		return s.oidcContinue(w, r, oidc.ErrorRedirect(l.Request, "access_denied"))
	}
	if err := s.oidc.svc.Complete(r.Context(), l.Request, sess); err != nil {
		return err
	}
	return s.oidcContinue(w, r, s.oidc.svc.CallbackPath(l.Request.ID))
}

// oidcPending returns the request and the browser's session (nil when
// not signed in).
func (s *Server) oidcPending(r *http.Request, id string) (*oidc.Login, *monban.Session, error) {
	if s.oidc == nil || s.oidc.svc == nil {
		return nil, nil, errNotFound()
	}
	l, err := s.oidc.svc.Pending(r.Context(), id)
	if err != nil {
		return nil, nil, err
	}
	cur, err := s.pageCurrent(r)
	if err != nil {
		return nil, nil, err
	}
	if cur == nil {
		return l, nil, nil
	}
	return l, cur.Session, nil
}

// oidcContinue leaves a page reached by a form post for target with a
// Refresh (a new navigation, not the form's), and a link as a fallback.
func (s *Server) oidcContinue(w http.ResponseWriter, r *http.Request, target string) error {
	v := s.view(w, r, "oidc.continue_title")
	v.Data = target
	w.Header().Set("Refresh", "0; url="+target)
	s.render(w, r, http.StatusOK, "oidc_continue", v)
	return nil
}

func scopeKeys(scopes []string) []string {
	var out []string
	for _, sc := range scopes {
		switch sc {
		case "openid", "profile", "email", "phone", "offline_access":
			out = append(out, "oidc.scope."+sc)
		}
	}
	return out
}

// uiLang picks ja or en from the request's ui_locales.
func uiLang(locales string) string {
	for _, l := range strings.Fields(locales) {
		switch {
		case l == "ja" || strings.HasPrefix(l, "ja-"):
			return "ja"
		case l == "en" || strings.HasPrefix(l, "en-"):
			return "en"
		}
	}
	return ""
}
