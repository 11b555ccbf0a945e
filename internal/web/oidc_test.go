package web_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/oidc"
)

// rp is a relying party of the test: go-oidc and x/oauth2, as a host app
// would use them, talking to a harness node.
type rp struct {
	h        *harness
	client   *monban.OIDCClient
	conf     oauth2.Config
	provider *gooidc.Provider
	ctx      context.Context
}

const rpRedirect = "http://127.0.0.1:9/callback"

func newRP(t *testing.T, h *harness, in oidc.ClientInput) *rp {
	t.Helper()
	if in.RedirectURIs == nil {
		in.RedirectURIs = []string{rpRedirect}
	}
	c, secret, err := h.n.OIDC.AddClient(context.Background(), in, monban.AuditEvent{})
	if err != nil {
		t.Fatalf("add client: %v", err)
	}
	ctx := gooidc.ClientContext(context.Background(), h.srv.Client())
	p, err := gooidc.NewProvider(ctx, h.srv.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &rp{h: h, client: c, provider: p, ctx: ctx, conf: oauth2.Config{ClientID: c.ID, ClientSecret: secret,
		Endpoint: endpoint(p), RedirectURL: in.RedirectURIs[0], Scopes: []string{"openid", "profile", "email", "offline_access"}}}
}

// endpoint is the provider's endpoints with client_secret_basic: with
// x/oauth2's auto-detection a refused first try is retried with the
// secret in the body, and the code it spent then reads as reused.
func endpoint(p *gooidc.Provider) oauth2.Endpoint {
	e := p.Endpoint()
	e.AuthStyle = oauth2.AuthStyleInHeader
	return e
}

// authorize runs the browser's side with the session cookie and returns
// the final Location (the relying party's redirect URI with a code or an
// error), or the last response when it is not a redirect to the RP.
func (p *rp) authorize(t *testing.T, sessionToken string, opts ...oauth2.AuthCodeOption) (*url.URL, *response) {
	t.Helper()
	u := p.conf.AuthCodeURL("st4te", opts...)
	path := strings.TrimPrefix(u, p.h.srv.URL)
	var cookies []*http.Cookie
	if sessionToken != "" {
		cookies = []*http.Cookie{{Name: "monban_session", Value: sessionToken}}
	}
	for range 6 {
		r := p.h.do(request{method: "GET", path: path, cookies: cookies})
		loc := r.header.Get("Location")
		if r.status == http.StatusOK && r.header.Get("Refresh") != "" {
			loc = strings.TrimPrefix(r.header.Get("Refresh"), "0; url=")
		}
		if loc == "" {
			return nil, r
		}
		if strings.HasPrefix(loc, p.conf.RedirectURL) {
			lu, err := url.Parse(loc)
			if err != nil {
				t.Fatal(err)
			}
			return lu, r
		}
		if !strings.HasPrefix(loc, "/") {
			return nil, r
		}
		if strings.HasPrefix(loc, "/signin") || strings.HasPrefix(loc, "/locked") {
			return nil, r
		}
		path = loc
	}
	t.Fatal("too many redirects")
	return nil, nil
}

func (p *rp) code(t *testing.T, token string, opts ...oauth2.AuthCodeOption) string {
	t.Helper()
	u, r := p.authorize(t, token, opts...)
	if u == nil || u.Query().Get("code") == "" || u.Query().Get("state") != "st4te" {
		t.Fatalf("no code: %v; last response %d %s %s", u, r.status, r.header.Get("Location"), r.body)
	}
	return u.Query().Get("code")
}

// oauthError is the error code of a failed token request.
func oauthError(t *testing.T, err error) string {
	t.Helper()
	var re *oauth2.RetrieveError
	if err == nil {
		t.Fatal("token request succeeded, want an error")
	}
	if !asRetrieve(err, &re) {
		t.Fatalf("not an OAuth error: %v", err)
	}
	return re.ErrorCode
}

func asRetrieve(err error, re **oauth2.RetrieveError) bool {
	e, ok := err.(*oauth2.RetrieveError)
	if ok {
		*re = e
	}
	return ok
}

func (h *harness) count(query string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.raw.QueryRow(rebind(h, query), args...).Scan(&n); err != nil {
		h.t.Fatalf("%s: %v", query, err)
	}
	return n
}

func (p *rp) userinfo(accessToken string) int {
	r := p.h.do(request{method: "GET", path: oidc.PathUserinfo, bearer: accessToken})
	return r.status
}

// TestOIDCCodeFlow: a confidential first-party client signs a person in
// with PKCE, verifies the ID token (acr, amr), reads userinfo and rotates
// its refresh token; the bad inputs get the specification's errors and
// nothing is issued.
func TestOIDCCodeFlow(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		acc := h.register(map[string]any{"username": "taro", "email": "taro@example.com", "password": goodPassword})
		p := newRP(t, h, oidc.ClientInput{Name: "Shop", FirstParty: true})
		verifier := oauth2.GenerateVerifier()

		code := p.code(t, acc.Token, oauth2.S256ChallengeOption(verifier), gooidc.Nonce("n0nce"))
		tok, err := p.conf.Exchange(p.ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := p.provider.Verifier(&gooidc.Config{ClientID: p.client.ID}).Verify(p.ctx, raw)
		if err != nil {
			t.Fatalf("verify id token: %v", err)
		}
		var claims struct {
			Nonce string   `json:"nonce"`
			ACR   string   `json:"acr"`
			AMR   []string `json:"amr"`
		}
		if err := idt.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		if idt.Subject != acc.ID || claims.Nonce != "n0nce" || claims.ACR != oidc.ACRPassword || strings.Join(claims.AMR, " ") != "pwd" {
			t.Errorf("id token: sub %s nonce %s acr %s amr %v", idt.Subject, claims.Nonce, claims.ACR, claims.AMR)
		}
		ui, err := p.provider.UserInfo(p.ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		if ui.Subject != acc.ID || ui.Email != "taro@example.com" {
			t.Errorf("userinfo %+v", ui)
		}

		// A tampered ID token fails verification; a tampered access token
		// is refused by userinfo.
		if _, err := p.provider.Verifier(&gooidc.Config{ClientID: p.client.ID}).Verify(p.ctx, tamper(raw)); err == nil {
			t.Error("tampered id token verified")
		}
		if st := p.userinfo(tamper(tok.AccessToken)); st != http.StatusUnauthorized && st != http.StatusForbidden {
			t.Errorf("tampered access token: userinfo %d", st)
		}

		// The code was used: using it again is invalid_grant and revokes
		// what it issued.
		_, err = p.conf.Exchange(p.ctx, code, oauth2.VerifierOption(verifier))
		if got := oauthError(t, err); got != "invalid_grant" {
			t.Errorf("reused code: %s", got)
		}
		if st := p.userinfo(tok.AccessToken); st == http.StatusOK {
			t.Error("access token from a reused code still works")
		}
		_, err = p.conf.TokenSource(p.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if got := oauthError(t, err); got != "invalid_grant" {
			t.Errorf("refresh token from a reused code: %s", got)
		}

		// Refresh rotation: the new pair works, the old refresh token is
		// spent, and reusing it revokes the family.
		code = p.code(t, acc.Token, oauth2.S256ChallengeOption(verifier))
		tok, err = p.conf.Exchange(p.ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		tok2, err := p.conf.TokenSource(p.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken || p.userinfo(tok2.AccessToken) != http.StatusOK {
			t.Fatalf("refresh did not rotate: %+v", tok2)
		}
		_, err = p.conf.TokenSource(p.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if got := oauthError(t, err); got != "invalid_grant" {
			t.Errorf("reused refresh token: %s", got)
		}
		if p.userinfo(tok2.AccessToken) == http.StatusOK {
			t.Error("family survived a refresh-token reuse")
		}
		_, err = p.conf.TokenSource(p.ctx, &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token()
		if got := oauthError(t, err); got != "invalid_grant" {
			t.Errorf("rotated token after reuse: %s", got)
		}

		// Expired refresh token.
		code = p.code(t, acc.Token, oauth2.S256ChallengeOption(verifier))
		tok, err = p.conf.Exchange(p.ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(31 * 24 * time.Hour)
		_, err = p.conf.TokenSource(p.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if got := oauthError(t, err); got != "invalid_grant" {
			t.Errorf("expired refresh token: %s", got)
		}
	})
}

func tamper(tok string) string {
	b := []byte(tok)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// TestOIDCBadRequests: each bad input gets the specification's answer and
// no code or token.
func TestOIDCBadRequests(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		acc := h.register(map[string]any{"username": "hanako", "password": goodPassword})
		conf := newRP(t, h, oidc.ClientInput{Name: "Shop", FirstParty: true})
		public := newRP(t, h, oidc.ClientInput{Name: "App", FirstParty: true, Public: true})
		verifier := oauth2.GenerateVerifier()
		cookie := []*http.Cookie{{Name: "monban_session", Value: acc.Token}}
		tokens := func() int { return h.count("SELECT COUNT(*) FROM oidc_tokens") }

		authz := func(q url.Values) *response {
			return h.do(request{method: "GET", path: oidc.PathAuthorize + "?" + q.Encode(), cookies: cookie})
		}
		base := func(c *rp) url.Values {
			return url.Values{"client_id": {c.client.ID}, "redirect_uri": {rpRedirect}, "response_type": {"code"},
				"scope": {"openid"}, "state": {"s"}}
		}
		// Unknown client and unregistered redirect URIs: a page, never a redirect.
		for name, q := range map[string]url.Values{
			"unknown client":  {"client_id": {"cli_nope"}, "redirect_uri": {rpRedirect}, "response_type": {"code"}, "scope": {"openid"}},
			"no client":       {"redirect_uri": {rpRedirect}, "response_type": {"code"}, "scope": {"openid"}},
			"other redirect":  func() url.Values { q := base(conf); q.Set("redirect_uri", "https://evil.example/cb"); return q }(),
			"longer redirect": func() url.Values { q := base(conf); q.Set("redirect_uri", rpRedirect+"/x"); return q }(),
			"redirect query":  func() url.Values { q := base(conf); q.Set("redirect_uri", rpRedirect+"?a=1"); return q }(),
			"other port":      func() url.Values { q := base(public); q.Set("redirect_uri", "http://127.0.0.1:8/callback"); return q }(),
		} {
			r := authz(q)
			if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
				t.Errorf("%s: status %d Location %q", name, r.status, r.header.Get("Location"))
			}
		}
		// A public client without PKCE, or with the plain method: the error
		// goes to its registered redirect URI.
		for name, q := range map[string]url.Values{
			"public without pkce": base(public),
			"plain pkce": func() url.Values {
				q := base(conf)
				q.Set("code_challenge", verifier)
				q.Set("code_challenge_method", "plain")
				return q
			}(),
		} {
			r := authz(q)
			loc, _ := url.Parse(r.header.Get("Location"))
			if r.status != http.StatusFound || loc == nil || loc.Query().Get("error") != "invalid_request" || loc.Query().Get("code") != "" {
				t.Errorf("%s: status %d Location %q", name, r.status, r.header.Get("Location"))
			}
		}

		// Missing and wrong verifiers: refused, nothing issued, code spent.
		code := conf.code(t, acc.Token, oauth2.S256ChallengeOption(verifier))
		_, err := conf.conf.Exchange(conf.ctx, code)
		if got := oauthError(t, err); got != "invalid_request" {
			t.Errorf("missing verifier: %s", got)
		}
		code = conf.code(t, acc.Token, oauth2.S256ChallengeOption(verifier))
		_, err = conf.conf.Exchange(conf.ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
		if got := oauthError(t, err); got != "invalid_grant" {
			t.Errorf("wrong verifier: %s", got)
		}
		_, err = conf.conf.Exchange(conf.ctx, code, oauth2.VerifierOption(verifier))
		if got := oauthError(t, err); got != "invalid_grant" {
			t.Errorf("code after a wrong verifier: %s", got)
		}
		// A public client's code with its verifier works without a secret;
		// without it, it does not.
		pcode := public.code(t, acc.Token, oauth2.S256ChallengeOption(verifier))
		_, err = public.conf.Exchange(public.ctx, pcode)
		if got := oauthError(t, err); got != "invalid_request" {
			t.Errorf("public client, missing verifier: %s", got)
		}
		if n := tokens(); n != 0 {
			t.Fatalf("%d tokens issued by refused requests", n)
		}
		pcode = public.code(t, acc.Token, oauth2.S256ChallengeOption(verifier))
		if _, err := public.conf.Exchange(public.ctx, pcode, oauth2.VerifierOption(verifier)); err != nil {
			t.Fatalf("public client exchange: %v", err)
		}
		before := tokens()

		// Wrong secret, unknown client, garbage code, another client's code.
		code = conf.code(t, acc.Token, oauth2.S256ChallengeOption(verifier))
		bad := conf.conf
		bad.ClientSecret = "mbcs_wrong"
		_, err = bad.Exchange(conf.ctx, code, oauth2.VerifierOption(verifier))
		if got := oauthError(t, err); got != "invalid_client" {
			t.Errorf("wrong secret: %s", got)
		}
		bad = conf.conf
		bad.ClientID = "cli_unknown"
		code = conf.code(t, acc.Token, oauth2.S256ChallengeOption(verifier))
		_, err = bad.Exchange(conf.ctx, code, oauth2.VerifierOption(verifier))
		if got := oauthError(t, err); got != "invalid_client" && got != "invalid_grant" {
			t.Errorf("unknown client: %s", got)
		}
		_, err = conf.conf.Exchange(conf.ctx, "not-a-code", oauth2.VerifierOption(verifier))
		if got := oauthError(t, err); got != "invalid_grant" {
			t.Errorf("garbage code: %s", got)
		}
		pcode = public.code(t, acc.Token, oauth2.S256ChallengeOption(verifier))
		_, err = conf.conf.Exchange(conf.ctx, pcode, oauth2.VerifierOption(verifier))
		if got := oauthError(t, err); got != "invalid_grant" {
			t.Errorf("another client's code: %s", got)
		}
		_, err = conf.conf.TokenSource(conf.ctx, &oauth2.Token{RefreshToken: "mbr_" + randomB64()}).Token()
		if got := oauthError(t, err); got != "invalid_grant" {
			t.Errorf("unknown refresh token: %s", got)
		}
		if n := tokens(); n != before {
			t.Errorf("refused requests issued %d tokens", n-before)
		}
		// An expired code.
		code = conf.code(t, acc.Token, oauth2.S256ChallengeOption(verifier))
		h.clock.Advance(2 * time.Minute)
		_, err = conf.conf.Exchange(conf.ctx, code, oauth2.VerifierOption(verifier))
		if got := oauthError(t, err); got != "invalid_grant" {
			t.Errorf("expired code: %s", got)
		}
	})
}

func randomB64() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// TestOIDCSignInRules: no session, prompt=login and max_age send the
// browser to monban's sign-in with a way back; a locked account gets the
// lock page; a third-party client asks for consent in ja/en.
func TestOIDCSignInRules(t *testing.T) {
	h := newHarness(t, "sqlite")
	acc := h.register(map[string]any{"username": "jiro", "password": goodPassword})
	p := newRP(t, h, oidc.ClientInput{Name: "Shop", FirstParty: true})
	third := newRP(t, h, oidc.ClientInput{Name: "Other App"})
	verifier := oauth2.GenerateVerifier()
	h.clock.Advance(10 * time.Minute)

	signIn := func(token string, opts ...oauth2.AuthCodeOption) string {
		u, r := p.authorize(t, token, append(opts, oauth2.S256ChallengeOption(verifier))...)
		if u != nil && u.Query().Get("code") != "" {
			return "code"
		}
		if u != nil {
			return u.String()
		}
		return r.header.Get("Location")
	}
	if loc := signIn(""); !strings.HasPrefix(loc, "/signin?next=%2Foauth%2Flogin%3Fid%3D") {
		t.Errorf("no session: Location %q", loc)
	}
	if got := signIn(acc.Token); got != "code" {
		t.Errorf("signed in: %q", got)
	}
	if loc := signIn(acc.Token, oauth2.SetAuthURLParam("prompt", "login")); !strings.HasPrefix(loc, "/signin?") {
		t.Errorf("prompt=login: Location %q", loc)
	}
	if loc := signIn(acc.Token, oauth2.SetAuthURLParam("max_age", "60")); !strings.HasPrefix(loc, "/signin?") {
		t.Errorf("max_age=60 after 10 minutes: Location %q", loc)
	}
	if got := signIn(acc.Token, oauth2.SetAuthURLParam("max_age", "3600")); got != "code" {
		t.Errorf("max_age=3600: %q", got)
	}
	if loc := signIn("", oauth2.SetAuthURLParam("prompt", "none")); !strings.Contains(loc, "error=login_required") {
		t.Errorf("prompt=none: Location %q", loc)
	}

	// Consent for a third-party client, in Japanese and English.
	u := third.conf.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier))
	r := h.do(request{method: "GET", path: strings.TrimPrefix(u, h.srv.URL)})
	login := r.header.Get("Location")
	for lang, want := range map[string]string{"ja": "許可する", "en": "Allow"} {
		r = h.do(request{method: "GET", path: login, lang: lang, cookies: []*http.Cookie{{Name: "monban_session", Value: acc.Token}}})
		if r.status != http.StatusOK || !strings.Contains(string(r.body), want) || !strings.Contains(string(r.body), "Other App") {
			t.Errorf("consent (%s): %d %s", lang, r.status, r.body)
		}
	}

	// A locked account: the lock page, not a code.
	if err := h.n.Risk.Lock(context.Background(), &monban.Lock{AccountID: acc.ID, Kind: monban.LockReview,
		Category: monban.CategoryUnusualActivity, RuleID: "test", RuleVersion: "1"}, "agent:test"); err != nil {
		t.Fatal(err)
	}
	codes := h.count("SELECT COUNT(*) FROM oidc_codes")
	if loc := signIn(acc.Token); loc != "/locked" {
		t.Errorf("locked: Location %q", loc)
	}
	if n := h.count("SELECT COUNT(*) FROM oidc_codes"); n != codes {
		t.Errorf("%d codes for a locked account", n-codes)
	}
}

// TestOIDCDiscovery: the discovery document names the /oauth/ endpoints,
// S256 and RS256; the JWKS has the signing key, and after a rotation the
// old key stays published.
func TestOIDCDiscovery(t *testing.T) {
	h := newHarness(t, "sqlite")
	r := h.do(request{method: "GET", path: "/.well-known/openid-configuration"}).wantStatus(t, http.StatusOK)
	var d map[string]any
	if err := json.Unmarshal(r.body, &d); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"issuer": h.srv.URL, "authorization_endpoint": h.srv.URL + "/oauth/authorize",
		"token_endpoint": h.srv.URL + "/oauth/token", "jwks_uri": h.srv.URL + "/oauth/keys",
		"end_session_endpoint": h.srv.URL + "/oauth/end_session"} {
		if d[k] != want {
			t.Errorf("%s = %v, want %s", k, d[k], want)
		}
	}
	keys := func() []string {
		var set struct {
			Keys []struct {
				Kid string `json:"kid"`
				Alg string `json:"alg"`
			} `json:"keys"`
		}
		r := h.do(request{method: "GET", path: oidc.PathKeys}).wantStatus(t, http.StatusOK)
		if err := json.Unmarshal(r.body, &set); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range set.Keys {
			out = append(out, k.Kid+"/"+k.Alg)
		}
		return out
	}
	first := keys()
	if len(first) != 1 || !strings.HasSuffix(first[0], "/RS256") {
		t.Fatalf("keys %v", first)
	}
	h.clock.Advance(time.Second)
	if _, err := h.n.OIDC.RotateKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	if after := keys(); len(after) != 2 || after[1] != first[0] {
		t.Errorf("after rotation: %v (first %v)", after, first)
	}
	// Past the retirement and the tokens' lifetime, the old keys are gone
	// and a fresh one signs.
	h.clock.Advance(31 * 24 * time.Hour)
	if after := keys(); len(after) != 1 || after[0] == first[0] {
		t.Errorf("after expiry: %v (first %v)", after, first)
	}
}

// TestOIDCLogout: RP-initiated logout with a valid id_token_hint revokes
// the client's tokens and ends the browser's monban session; without a
// hint it signs nobody out, and an unregistered post-logout URI is refused.
func TestOIDCLogout(t *testing.T) {
	h := newHarness(t, "sqlite")
	acc := h.register(map[string]any{"username": "saburo", "password": goodPassword})
	p := newRP(t, h, oidc.ClientInput{Name: "Shop", FirstParty: true, PostLogoutURIs: []string{"http://127.0.0.1:9/bye"}})
	verifier := oauth2.GenerateVerifier()
	tok, err := p.conf.Exchange(p.ctx, p.code(t, acc.Token, oauth2.S256ChallengeOption(verifier)), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	hint, _ := tok.Extra("id_token").(string)
	cookie := []*http.Cookie{{Name: "monban_session", Value: acc.Token}}
	end := func(q url.Values) *response {
		return h.do(request{method: "GET", path: oidc.PathEndSession + "?" + q.Encode(), cookies: cookie})
	}
	if r := end(url.Values{"post_logout_redirect_uri": {"http://127.0.0.1:9/bye"}}); !h.authorised(acc.Token) {
		t.Fatalf("logout without a hint signed the browser out (%d)", r.status)
	}
	r := end(url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://evil.example/"}})
	if r.status == http.StatusFound || !h.authorised(acc.Token) {
		t.Errorf("unregistered post-logout URI: %d %s", r.status, r.header.Get("Location"))
	}
	r = end(url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"http://127.0.0.1:9/bye"}, "state": {"x"}})
	if r.status != http.StatusFound || r.header.Get("Location") != "http://127.0.0.1:9/bye?state=x" {
		t.Errorf("logout: %d %q", r.status, r.header.Get("Location"))
	}
	if h.authorised(acc.Token) {
		t.Error("the monban session survived the logout")
	}
	if p.userinfo(tok.AccessToken) == http.StatusOK {
		t.Error("the access token survived the logout")
	}
	_, err = p.conf.TokenSource(p.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if got := oauthError(t, err); got != "invalid_grant" {
		t.Errorf("refresh after logout: %s", got)
	}
}
