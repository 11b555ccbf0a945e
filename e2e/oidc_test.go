package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/factors"
	"github.com/monban-dev/monban/internal/oidc"
)

// relyingParty is a host app nobody here wrote the protocol of: it signs
// people in with github.com/coreos/go-oidc and golang.org/x/oauth2 only,
// PKCE and nonce included, verifies the ID token and calls userinfo.
type relyingParty struct {
	srv      *httptest.Server
	conf     oauth2.Config
	verifier *gooidc.IDTokenVerifier
	provider *gooidc.Provider

	mu      sync.Mutex
	pending map[string][2]string // state → nonce, PKCE verifier
}

func newRelyingParty(t *testing.T) *relyingParty {
	rp := &relyingParty{pending: map[string][2]string{}}
	rp.srv = httptest.NewServer(http.HandlerFunc(rp.serve))
	t.Cleanup(rp.srv.Close)
	return rp
}

// connect discovers the provider and registers the app's client.
func (rp *relyingParty) connect(t *testing.T, issuer, clientID, secret string) {
	p, err := gooidc.NewProvider(context.Background(), issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	rp.provider = p
	rp.verifier = p.Verifier(&gooidc.Config{ClientID: clientID})
	rp.conf = oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: p.Endpoint(),
		RedirectURL: rp.srv.URL + "/callback", Scopes: []string{gooidc.ScopeOpenID, "profile", "email"}}
}

func (rp *relyingParty) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/login":
		state, nonce, verifier := oauth2.GenerateVerifier(), oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
		rp.mu.Lock()
		rp.pending[state] = [2]string{nonce, verifier}
		rp.mu.Unlock()
		opts := []oauth2.AuthCodeOption{gooidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
		if p := r.URL.Query().Get("prompt"); p != "" {
			opts = append(opts, oauth2.SetAuthURLParam("prompt", p))
		}
		http.Redirect(w, r, rp.conf.AuthCodeURL(state, opts...), http.StatusFound)
	case "/callback":
		rp.callback(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (rp *relyingParty) callback(w http.ResponseWriter, r *http.Request) {
	fail := func(msg string, err error) { http.Error(w, fmt.Sprintf("%s: %v", msg, err), http.StatusBadRequest) }
	q := r.URL.Query()
	rp.mu.Lock()
	p, ok := rp.pending[q.Get("state")]
	delete(rp.pending, q.Get("state"))
	rp.mu.Unlock()
	if !ok {
		fail("unknown state", fmt.Errorf("error=%s", q.Get("error")))
		return
	}
	tok, err := rp.conf.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(p[1]))
	if err != nil {
		fail("exchange", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.verifier.Verify(r.Context(), raw)
	if err != nil {
		fail("verify", err)
		return
	}
	var claims struct {
		ACR string   `json:"acr"`
		AMR []string `json:"amr"`
	}
	if err := idt.Claims(&claims); err != nil || idt.Nonce != p[0] {
		fail("claims or nonce", err)
		return
	}
	ui, err := rp.provider.UserInfo(r.Context(), oauth2.StaticTokenSource(tok))
	if err != nil {
		fail("userinfo", err)
		return
	}
	var profile struct {
		PreferredUsername string `json:"preferred_username"`
	}
	_ = ui.Claims(&profile)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<!doctype html><html lang="en"><title>Example Shop</title><main><h1>Example Shop</h1>
<p>Signed in with monban as <b id="rp-user">%s</b></p><dl>
<dt>sub</dt><dd id="rp-sub">%s</dd><dt>userinfo sub</dt><dd id="rp-ui-sub">%s</dd>
<dt>acr</dt><dd id="rp-acr">%s</dd><dt>amr</dt><dd id="rp-amr">%s</dd></dl></main>`,
		html.EscapeString(profile.PreferredUsername), html.EscapeString(idt.Subject), html.EscapeString(ui.Subject),
		html.EscapeString(claims.ACR), html.EscapeString(strings.Join(claims.AMR, " ")))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}

// TestOIDCSignIn: a host app adds "sign in with monban" with go-oidc and
// x/oauth2. In Chromium, a person goes from the app to monban's sign-in,
// agrees on the consent page and is back in the app, which verified the ID
// token and read userinfo. Then 2-step is turned on (an authenticator app,
// enrolled through the factors service as the security page does) and the
// app asks for a fresh sign-in (prompt=login): the person passes the
// password and the 6-digit code, and the app sees amr pwd otp mfa.
func TestOIDCSignIn(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	body, _ := json.Marshal(map[string]string{"username": "sakura_oidc", "email": "sakura@example.jp", "password": passphrase})
	resp, err := http.Post(srv.URL+"/api/v1/accounts", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %v %v", err, resp)
	}
	var acc struct {
		AccountID string `json:"account_id"`
	}
	json.NewDecoder(resp.Body).Decode(&acc)
	resp.Body.Close()

	rp := newRelyingParty(t)
	c, secret, err := srv.OIDC.AddClient(ctx, oidc.ClientInput{Name: "Example Shop",
		RedirectURIs: []string{rp.srv.URL + "/callback"}}, monban.AuditEvent{})
	if err != nil {
		t.Fatal(err)
	}
	rp.connect(t, srv.URL, c.ID, secret)

	_, a := startBrowser(t, srv.URL)
	a.do("open the app", chromedp.Navigate(rp.srv.URL+"/login"), chromedp.WaitVisible(chromedp.CSS("main h1")))
	a.expectPage("/signin", "ja", "ログイン")
	a.shot("app-sends-to-signin")
	a.fill("#identifier", "sakura_oidc")
	a.fill("#password", passphrase)
	a.follow("#submit")
	a.expectPage("/oauth/login", "ja", "monban でアプリにログイン")
	if got := a.text("#oidc-client"); !strings.Contains(got, "Example Shop") {
		t.Errorf("consent page names %q", got)
	}
	a.shot("consent-ja")
	a.do("allow", chromedp.Click(chromedp.CSS("#oidc-allow")), chromedp.WaitVisible(chromedp.CSS("#rp-sub")))
	a.shot("back-in-the-app")
	if sub, uisub := a.text("#rp-sub"), a.text("#rp-ui-sub"); sub != acc.AccountID || uisub != acc.AccountID {
		t.Errorf("app sees sub %q, userinfo sub %q, want %q", sub, uisub, acc.AccountID)
	}
	if user, acr, amr := a.text("#rp-user"), a.text("#rp-acr"), a.text("#rp-amr"); user != "sakura_oidc" || acr != oidc.ACRPassword || amr != "pwd" {
		t.Errorf("first sign-in: user %q acr %q amr %q", user, acr, amr)
	}

	// 2-step on: an authenticator app, confirmed with its first code.
	actor := factors.Actor{AccountID: acc.AccountID, SessionID: "ses_e2e", AuthAt: time.Now()}
	en, err := srv.Factors.EnrolTOTP(ctx, actor, "sakura_oidc")
	if err != nil {
		t.Fatal(err)
	}
	// Each code is accepted once and ±1 step: the sign-in uses the next
	// step's code, not the one that confirmed the app.
	code := func(step int) string {
		c, err := totp.GenerateCode(en.Secret, time.Now().Add(time.Duration(step)*30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if err := srv.Factors.ConfirmTOTP(ctx, actor, en.FactorID, code(0), "phone"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Factors.SetTwoStep(ctx, actor, true); err != nil {
		t.Fatal(err)
	}

	a.do("sign in again from the app", chromedp.Navigate(rp.srv.URL+"/login?prompt=login"), chromedp.WaitVisible(chromedp.CSS("main h1")))
	a.expectPage("/signin", "ja", "ログイン")
	a.fill("#identifier", "sakura_oidc")
	a.fill("#password", passphrase)
	a.follow("#submit")
	if path, _ := a.page(); path != "/signin/verify" {
		t.Fatalf("with 2-step on, the password led to %s", path)
	}
	a.do("open the app way", chromedp.Click(chromedp.CSS("#open-totp")))
	a.fill("#code-totp", code(1))
	a.shot("two-step-code")
	a.follow("#verify-totp")
	a.expectPage("/oauth/login", "ja", "monban でアプリにログイン")
	a.do("allow", chromedp.Click(chromedp.CSS("#oidc-allow")), chromedp.WaitVisible(chromedp.CSS("#rp-sub")))
	a.shot("back-in-the-app-two-step")
	if acr, amr := a.text("#rp-acr"), a.text("#rp-amr"); acr != oidc.ACRTwoStep || amr != "pwd otp mfa" {
		t.Errorf("2-step sign-in: acr %q amr %q, want %s and pwd otp mfa", acr, amr, oidc.ACRTwoStep)
	}
}
