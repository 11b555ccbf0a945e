package oidc

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/monban-dev/monban"
)

// storage is what op calls: monban's store behind op.Storage.
type storage struct{ s *Service }

var _ op.Storage = storage{}

// --- clients -----------------------------------------------------------

// client adapts a registered client to op.Client. Public clients are
// "native" (no secret, PKCE required); confidential ones are "web".
type client struct {
	c     *monban.OIDCClient
	login string
	idTTL time.Duration
}

var _ op.Client = client{}

func (c client) GetID() string                    { return c.c.ID }
func (c client) RedirectURIs() []string           { return c.c.RedirectURIs }
func (c client) PostLogoutRedirectURIs() []string { return c.c.PostLogoutURIs }
func (c client) ApplicationType() op.ApplicationType {
	if c.c.Public {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}
func (c client) AuthMethod() oidc.AuthMethod {
	if c.c.Public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}
func (c client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (c client) LoginURL(id string) string           { return c.login + "?id=" + id }
func (c client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c client) IDTokenLifetime() time.Duration      { return c.idTTL }
func (c client) DevMode() bool                       { return false }
func (c client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c client) IsScopeAllowed(scope string) bool     { return c.c.AllowsScope(scope) }
func (c client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c client) ClockSkew() time.Duration             { return 0 }

// errNotFound satisfies op.StorageNotFoundError.
type errNotFound struct{ what string }

func (e errNotFound) Error() string { return e.what + " not found" }
func (errNotFound) IsNotFound()     {}

func (st storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := st.s.store.OIDCClient(ctx, id)
	if monban.IsNotFound(err) {
		return nil, oidc.ErrInvalidClient().WithParent(errNotFound{"client"})
	}
	if err != nil {
		return nil, err
	}
	return client{c: c, login: st.s.cfg.LoginPath, idTTL: st.s.cfg.IDTokenTTL}, nil
}

func (st storage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	c, err := st.s.store.OIDCClient(ctx, id)
	if monban.IsNotFound(err) {
		return oidc.ErrInvalidClient()
	}
	if err != nil {
		return err
	}
	if !checkSecret(c, secret) {
		return oidc.ErrInvalidClient().WithDescription("client authentication failed")
	}
	return nil
}

// --- authorization requests and codes ----------------------------------

// authRequest adapts a stored request to op.AuthRequest.
type authRequest struct{ a *monban.OIDCAuthRequest }

var _ op.AuthRequest = authRequest{}

func (r authRequest) GetID() string          { return r.a.ID }
func (r authRequest) GetACR() string         { return r.a.ACR }
func (r authRequest) GetAMR() []string       { return r.a.AMR }
func (r authRequest) GetAudience() []string  { return []string{r.a.ClientID} }
func (r authRequest) GetAuthTime() time.Time { return r.a.AuthTime }
func (r authRequest) GetClientID() string    { return r.a.ClientID }
func (r authRequest) GetNonce() string       { return r.a.Nonce }
func (r authRequest) GetRedirectURI() string { return r.a.RedirectURI }
func (r authRequest) GetScopes() []string    { return r.a.Scopes }
func (r authRequest) GetState() string       { return r.a.State }
func (r authRequest) GetSubject() string     { return r.a.AccountID }
func (r authRequest) Done() bool             { return r.a.Done() }
func (r authRequest) GetResponseMode() oidc.ResponseMode {
	return oidc.ResponseMode(r.a.ResponseMode)
}
func (r authRequest) GetResponseType() oidc.ResponseType {
	return oidc.ResponseType(r.a.ResponseType)
}
func (r authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if r.a.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: r.a.CodeChallenge, Method: oidc.CodeChallengeMethod(r.a.CodeChallengeMethod)}
}

func (st storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	c, err := st.s.store.OIDCClient(ctx, req.ClientID)
	if err != nil {
		return nil, oidc.ErrInvalidClient().WithParent(err)
	}
	// Scopes the client was not registered for are dropped, not granted.
	scopes := slices.DeleteFunc(slices.Clone([]string(req.Scopes)), func(sc string) bool { return !c.AllowsScope(sc) })
	if !slices.Contains(scopes, oidc.ScopeOpenID) {
		return nil, oidc.ErrInvalidScope().WithDescription("the openid scope is required")
	}
	now := st.s.clock.Now()
	a := &monban.OIDCAuthRequest{ID: monban.NewID("oar"), ClientID: c.ID, RedirectURI: req.RedirectURI,
		State: req.State, Nonce: req.Nonce, Scopes: scopes, ResponseType: string(req.ResponseType),
		ResponseMode: string(req.ResponseMode), CodeChallenge: req.CodeChallenge,
		CodeChallengeMethod: string(req.CodeChallengeMethod), Prompt: req.Prompt, MaxAge: -1,
		UILocales: locales(req.UILocales), LoginHint: req.LoginHint, CreatedAt: now, ExpiresAt: now.Add(st.s.cfg.AuthRequestTTL)}
	if req.MaxAge != nil {
		a.MaxAge = int(min(*req.MaxAge, 1<<31-1))
	}
	if err := st.s.store.CreateOIDCAuthRequest(ctx, a); err != nil {
		return nil, err
	}
	return authRequest{a}, nil
}

func locales(ls oidc.Locales) string {
	var out []string
	for _, l := range ls {
		out = append(out, l.String())
	}
	return strings.Join(out, " ")
}

func (st storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	a, err := st.s.store.OIDCAuthRequest(ctx, id)
	if monban.IsNotFound(err) {
		return nil, oidc.ErrInvalidRequest().WithDescription("unknown or expired request")
	}
	if err != nil {
		return nil, err
	}
	if !st.s.clock.Now().Before(a.ExpiresAt) {
		return nil, oidc.ErrInvalidRequest().WithDescription("unknown or expired request")
	}
	return authRequest{a}, nil
}

// AuthRequestByCode uses the code up: whatever happens next (a wrong
// verifier, a wrong client), it cannot be exchanged again, and presenting
// it again revokes the tokens issued from it.
func (st storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	ev := monban.AuditEvent{At: st.s.clock.Now(), Action: monban.AuditOIDCCodeReused}
	a, err := st.s.store.ConsumeOIDCCode(ctx, hash(code), st.s.clock.Now(), ev)
	if err != nil {
		return nil, err
	}
	if !a.Done() {
		return nil, errors.New("oidc: code of an unfinished request")
	}
	return authRequest{a}, nil
}

func (st storage) SaveAuthCode(ctx context.Context, id, code string) error {
	now := st.s.clock.Now()
	return st.s.store.SaveOIDCCode(ctx, id, hash(code), now, now.Add(st.s.cfg.CodeTTL))
}

// DeleteAuthRequest is called once tokens were issued for a request. The
// row stays until it expires (the code is already spent), so that a
// reused code still finds the family to revoke.
func (st storage) DeleteAuthRequest(context.Context, string) error { return nil }

// --- tokens ------------------------------------------------------------

// refreshRequest is a refresh token being exchanged.
type refreshRequest struct {
	t      *monban.OIDCToken
	scopes []string
}

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string             { return r.t.AMR }
func (r *refreshRequest) GetAudience() []string        { return []string{r.t.ClientID} }
func (r *refreshRequest) GetAuthTime() time.Time       { return r.t.AuthTime }
func (r *refreshRequest) GetClientID() string          { return r.t.ClientID }
func (r *refreshRequest) GetScopes() []string          { return r.scopes }
func (r *refreshRequest) GetSubject() string           { return r.t.AccountID }
func (r *refreshRequest) SetCurrentScopes(sc []string) { r.scopes = sc }

// grant is what every token of a family carries.
type grant struct {
	family, client, account string
	scopes, amr             []string
	authTime                time.Time
}

func grantOf(req op.TokenRequest) (grant, error) {
	switch r := req.(type) {
	case authRequest:
		return grant{r.a.ID, r.a.ClientID, r.a.AccountID, r.a.Scopes, r.a.AMR, r.a.AuthTime}, nil
	case *refreshRequest:
		return grant{r.t.FamilyID, r.t.ClientID, r.t.AccountID, r.scopes, r.t.AMR, r.t.AuthTime}, nil
	}
	return grant{}, oidc.ErrUnsupportedGrantType()
}

func (st storage) token(g grant, kind monban.OIDCTokenKind, now time.Time, ttl time.Duration) monban.OIDCToken {
	return monban.OIDCToken{ID: monban.NewID("tok"), Kind: kind, FamilyID: g.family, ClientID: g.client,
		AccountID: g.account, Scopes: g.scopes, AMR: g.amr, AuthTime: g.authTime, CreatedAt: now, ExpiresAt: now.Add(ttl)}
}

func (st storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	g, err := grantOf(req)
	if err != nil {
		return "", time.Time{}, err
	}
	now := st.s.clock.Now()
	at := st.token(g, monban.TokenAccess, now, st.s.cfg.AccessTTL)
	if err := st.s.store.CreateOIDCTokens(ctx, []monban.OIDCToken{at}, nil, now, monban.AuditEvent{}); err != nil {
		return "", time.Time{}, err
	}
	return at.ID, opTime(now, at.ExpiresAt), nil
}

// opTime turns a time on the service's clock into op's, which is the wall
// clock (it computes expires_in from time.Now): the same instant in
// production, and still the right lifetime under a test's fake clock.
func opTime(now, t time.Time) time.Time { return time.Now().Add(t.Sub(now)) }

// CreateAccessAndRefreshTokens issues an access token and a new refresh
// token; exchanging a refresh token rotates it (the old one is spent).
func (st storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	g, err := grantOf(req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	now := st.s.clock.Now()
	refresh, err := st.s.randomToken("mbr_")
	if err != nil {
		return "", "", time.Time{}, err
	}
	at := st.token(g, monban.TokenAccess, now, st.s.cfg.AccessTTL)
	rt := st.token(g, monban.TokenRefresh, now, st.s.cfg.RefreshTTL)
	rt.Hash = hash(refresh)
	var rotated []byte
	if current != "" {
		rotated = hash(current)
		// The family keeps the refresh lifetime of its first token: rotation
		// does not extend a grant forever.
		if r, ok := req.(*refreshRequest); ok {
			rt.ExpiresAt = r.t.ExpiresAt
		}
	}
	ev := monban.AuditEvent{At: now, AccountID: g.account, Action: monban.AuditOIDCRefreshReused,
		Detail: map[string]string{"family_id": g.family, "client_id": g.client}}
	if err := st.s.store.CreateOIDCTokens(ctx, []monban.OIDCToken{at, rt}, rotated, now, ev); err != nil {
		return "", "", time.Time{}, oidc.ErrInvalidGrant().WithParent(err)
	}
	return at.ID, refresh, opTime(now, at.ExpiresAt), nil
}

// TokenRequestByRefreshToken accepts a refresh token once. A spent one
// (rotated before) is a reuse: the whole family is revoked, since either
// the client or a thief holds a newer token.
func (st storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	t, err := st.s.store.OIDCRefreshToken(ctx, hash(token))
	if monban.IsNotFound(err) {
		return nil, op.ErrInvalidRefreshToken
	}
	if err != nil {
		return nil, err
	}
	now := st.s.clock.Now()
	if !t.UsedAt.IsZero() && t.RevokedAt.IsZero() && !t.FamilyRevoked {
		ev := monban.AuditEvent{At: now, AccountID: t.AccountID, Action: monban.AuditOIDCRefreshReused,
			Detail: map[string]string{"family_id": t.FamilyID, "client_id": t.ClientID}}
		if err := st.s.store.RevokeOIDCFamily(ctx, t.FamilyID, "refresh_reused", now, ev); err != nil {
			return nil, err
		}
		return nil, op.ErrInvalidRefreshToken
	}
	if !t.Valid(now) || !t.UsedAt.IsZero() {
		return nil, op.ErrInvalidRefreshToken
	}
	return &refreshRequest{t: t, scopes: t.Scopes}, nil
}

func (st storage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	t, err := st.s.store.OIDCRefreshToken(ctx, hash(token))
	if err != nil || t.ClientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return t.AccountID, t.ID, nil
}

// RevokeToken (RFC 7009): a refresh token revokes its family, an access
// token itself. Unknown tokens are not an error.
func (st storage) RevokeToken(ctx context.Context, tokenOrID, userID, clientID string) *oidc.Error {
	now := st.s.clock.Now()
	if userID == "" {
		t, err := st.s.store.OIDCRefreshToken(ctx, hash(tokenOrID))
		if err != nil || t.ClientID != clientID {
			return nil
		}
		if err := st.s.store.RevokeOIDCFamily(ctx, t.FamilyID, "revoked", now, monban.AuditEvent{}); err != nil {
			return oidc.ErrServerError().WithParent(err)
		}
		return nil
	}
	if err := st.s.store.RevokeOIDCToken(ctx, tokenOrID, clientID, now); err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

// TerminateSession is RP-initiated logout with a valid id_token_hint: the
// client's tokens for the person are revoked and the browser signed out.
func (st storage) TerminateSession(ctx context.Context, userID, clientID string) error {
	if userID == "" {
		return nil
	}
	if clientID != "" {
		if err := st.s.store.RevokeOIDCTokensOf(ctx, userID, clientID, st.s.clock.Now()); err != nil {
			return err
		}
	}
	if st.s.onLogout != nil {
		st.s.onLogout(ctx, userID)
	}
	return nil
}

// --- claims ------------------------------------------------------------

// liveToken returns an access token that may still be used.
func (st storage) liveToken(ctx context.Context, id, subject string) (*monban.OIDCToken, error) {
	t, err := st.s.store.OIDCToken(ctx, id)
	if err != nil || t.Kind != monban.TokenAccess || t.AccountID != subject || !t.Valid(st.s.clock.Now()) {
		return nil, oidc.ErrAccessDenied().WithDescription("token is not active")
	}
	return t, nil
}

func (st storage) SetUserinfoFromScopes(ctx context.Context, ui *oidc.UserInfo, userID, _ string, scopes []string) error {
	return st.fill(ctx, ui, userID, scopes)
}

func (st storage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, _ string) error {
	t, err := st.liveToken(ctx, tokenID, subject)
	if err != nil {
		return err
	}
	return st.fill(ctx, ui, t.AccountID, t.Scopes)
}

func (st storage) SetIntrospectionFromToken(ctx context.Context, in *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	t, err := st.liveToken(ctx, tokenID, subject)
	if err != nil || t.ClientID != clientID {
		return oidc.ErrAccessDenied().WithDescription("token is not active")
	}
	ui := new(oidc.UserInfo)
	if err := st.fill(ctx, ui, t.AccountID, t.Scopes); err != nil {
		return err
	}
	in.SetUserInfo(ui)
	in.Scope, in.ClientID, in.Audience = t.Scopes, t.ClientID, []string{t.ClientID}
	in.Expiration, in.IssuedAt = oidc.FromTime(t.ExpiresAt), oidc.FromTime(t.CreatedAt)
	in.AuthTime, in.AuthenticationMethodsReferences = oidc.FromTime(t.AuthTime), t.AMR
	in.TokenType = oidc.BearerToken
	in.Active = true
	return nil
}

// fill sets the claims the scopes ask for: profile (username, locale),
// email and phone (with whether they were verified).
func (st storage) fill(ctx context.Context, ui *oidc.UserInfo, accountID string, scopes []string) error {
	ui.Subject = accountID
	a, err := st.s.store.AccountByID(ctx, accountID)
	if err != nil {
		return err
	}
	ids, err := st.s.store.IdentifiersByAccount(ctx, accountID)
	if err != nil {
		return err
	}
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeProfile:
			if a.Lang != "" {
				ui.Locale = oidc.NewLocale(language.Make(a.Lang))
			}
		}
	}
	for _, id := range ids {
		switch {
		case id.Kind == monban.KindUsername && slices.Contains(scopes, oidc.ScopeProfile):
			ui.PreferredUsername = id.Value
		case id.Kind == monban.KindEmail && slices.Contains(scopes, oidc.ScopeEmail) && (ui.Email == "" || id.Verified):
			ui.Email, ui.EmailVerified = id.Value, oidc.Bool(id.Verified)
		case id.Kind == monban.KindPhone && slices.Contains(scopes, oidc.ScopePhone) && (ui.PhoneNumber == "" || id.Verified):
			ui.PhoneNumber, ui.PhoneNumberVerified = id.Value, oidc.Bool(id.Verified)
		}
	}
	return nil
}

func (st storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (st storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, oidc.ErrUnsupportedGrantType().WithDescription("JWT profile is not supported")
}

func (st storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, oidc.ErrUnsupportedGrantType().WithDescription("JWT profile is not supported")
}

// --- keys --------------------------------------------------------------

func (st storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	ring, err := st.s.keyring(ctx)
	if err != nil {
		return nil, err
	}
	return ring.signing, nil
}

func (st storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{keyAlg}, nil
}

func (st storage) KeySet(ctx context.Context) ([]op.Key, error) {
	ring, err := st.s.keyring(ctx)
	if err != nil {
		return nil, err
	}
	return ring.public, nil
}

func (st storage) Health(context.Context) error { return nil }
