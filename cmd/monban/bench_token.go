package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/loadtest"
	"github.com/monban-dev/monban/internal/oidc"
)

// tokenScenario: OpenID Connect token responses through POST /oauth/token,
// alternating per worker an authorization-code exchange (PKCE, client
// secret) and a refresh of the token it returned (rotation), next to the
// raw RS256 signing rate of the node's ID-token key: every token response
// signs one ID token, so the signature is its physical limit.
//
// A code is what the browser's trip through /oauth/authorize and the login
// page leaves in the store; the bench writes it there directly (as
// sessionTokens writes sessions) so the figure is the token endpoint's.
func tokenScenario() benchScenario {
	return benchScenario{
		name:        "token",
		reference:   "RS256 sign (ID-token key)",
		concurrency: []int{4, 16},
		targets:     func(string) benchTargets { return benchTargets{} }, // reported, not held to a target
		prepare:     prepareToken,
	}
}

const benchRedirect = "http://127.0.0.1/bench/callback"

func prepareToken(ctx context.Context, env *benchEnv) (*benchPair, error) {
	ids, err := env.accountIDs(ctx)
	if err != nil {
		return nil, err
	}
	svc := env.node.OIDC
	c, secret, err := svc.AddClient(ctx, oidc.ClientInput{Name: "bench", RedirectURIs: []string{benchRedirect},
		FirstParty: true}, monban.AuditEvent{})
	if err != nil {
		return nil, err
	}
	verifier := randomString()
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	client := loadtest.NewClient(64)
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.ID)+":"+url.QueryEscape(secret)))
	post := func(ctx context.Context, form url.Values) (string, error) {
		req, err := http.NewRequestWithContext(ctx, "POST", env.base+oidc.PathToken, strings.NewReader(form.Encode()))
		if err != nil {
			return "", err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", auth)
		resp, err := client.Do(req)
		if err != nil {
			return "", &loadtest.Failure{Kind: "transport", Detail: err.Error()}
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var tr struct {
			IDToken      string `json:"id_token"`
			RefreshToken string `json:"refresh_token"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &tr) != nil || tr.IDToken == "" || tr.RefreshToken == "" {
			return "", &loadtest.Failure{Kind: fmt.Sprintf("status %d", resp.StatusCode), Detail: string(b)}
		}
		return tr.RefreshToken, nil
	}
	// Each worker alternates: exchange a fresh code, then refresh once.
	var mu sync.Mutex
	refresh := map[int]string{}
	run := func(ctx context.Context, worker int, seq uint64) error {
		mu.Lock()
		rt := refresh[worker]
		delete(refresh, worker)
		mu.Unlock()
		var next string
		if rt == "" {
			code, err := benchCode(ctx, env, c.ID, ids[seq%uint64(len(ids))], challenge)
			if err != nil {
				return err
			}
			next, err = post(ctx, url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"redirect_uri": {benchRedirect}, "code_verifier": {verifier}})
			if err != nil {
				return err
			}
		} else if _, err := post(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}); err != nil {
			return err
		}
		mu.Lock()
		refresh[worker] = next
		mu.Unlock()
		return nil
	}
	// An ID token's claims, about the size op signs.
	payload, _ := json.Marshal(map[string]any{"iss": env.base, "sub": ids[0], "aud": []string{c.ID}, "azp": c.ID,
		"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "auth_time": time.Now().Unix(),
		"nonce": randomString(), "acr": oidc.ACRPassword, "amr": []string{"pwd"}, "at_hash": randomString()[:22],
		"c_hash": randomString()[:22]})
	sign := func(ctx context.Context, _ int, _ uint64) error {
		_, err := svc.Sign(ctx, payload)
		return err
	}
	return &benchPair{
		run: func(ctx context.Context, o loadtest.Options) (loadtest.Result, error) {
			return loadtest.RunFunc(ctx, o, run)
		},
		ref: func(ctx context.Context, o loadtest.Options) (loadtest.Result, error) {
			return loadtest.RunFunc(ctx, o, sign)
		},
	}, nil
}

// benchCode writes a completed authorization request and its code, as the
// login page and op's callback do, and returns the code.
func benchCode(ctx context.Context, env *benchEnv, clientID, accountID, challenge string) (string, error) {
	now := time.Now()
	a := &monban.OIDCAuthRequest{ID: monban.NewID("oar"), ClientID: clientID, RedirectURI: benchRedirect,
		State: "bench", Scopes: []string{"openid", "offline_access"}, ResponseType: "code",
		CodeChallenge: challenge, CodeChallengeMethod: "S256", MaxAge: -1, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := env.node.DB.CreateOIDCAuthRequest(ctx, a); err != nil {
		return "", err
	}
	a.AccountID, a.SessionID, a.AuthTime, a.AMR, a.ACR = accountID, "ses_bench", now, []string{"pwd"}, oidc.ACRPassword
	if err := env.node.DB.CompleteOIDCAuthRequest(ctx, a, now); err != nil {
		return "", err
	}
	code := randomString()
	sum := sha256.Sum256([]byte(code))
	return code, env.node.DB.SaveOIDCCode(ctx, a.ID, sum[:], now, now.Add(time.Minute))
}

func randomString() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
