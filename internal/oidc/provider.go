package oidc

import (
	"net/http"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// Endpoints: everything under /oauth/ except discovery, so the web layer
// mounts two path prefixes.
const (
	PathDiscovery  = oidc.DiscoveryEndpoint // /.well-known/openid-configuration
	PathPrefix     = "/oauth/"
	PathAuthorize  = "/oauth/authorize"
	PathToken      = "/oauth/token"
	PathUserinfo   = "/oauth/userinfo"
	PathKeys       = "/oauth/keys"
	PathRevoke     = "/oauth/revoke"
	PathIntrospect = "/oauth/introspect"
	PathEndSession = "/oauth/end_session"
)

// Handler builds the protocol handler (github.com/zitadel/oidc/v3/pkg/op)
// for the discovery document and every /oauth/ endpoint but the login
// and consent pages, which are the web layer's. logoutRedirect is where
// RP-initiated logout lands without a registered post-logout URI.
func (s *Service) Handler(logoutRedirect string) (http.Handler, error) {
	cfg := &op.Config{
		CryptoKey:                s.derive("access token v1"),
		DefaultLogoutRedirectURI: logoutRedirect,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedUILocales:       []language.Tag{language.Japanese, language.English},
		SupportedClaims: []string{"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "acr", "amr",
			"c_hash", "at_hash", "azp", "preferred_username", "locale", "email", "email_verified",
			"phone_number", "phone_number_verified"},
		SupportedScopes: []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopePhone,
			oidc.ScopeOfflineAccess},
	}
	opts := []op.Option{
		op.WithLogger(s.log.WithGroup("oidc")),
		op.WithCustomAuthEndpoint(op.NewEndpoint(PathAuthorize)),
		op.WithCustomTokenEndpoint(op.NewEndpoint(PathToken)),
		op.WithCustomUserinfoEndpoint(op.NewEndpoint(PathUserinfo)),
		op.WithCustomKeysEndpoint(op.NewEndpoint(PathKeys)),
		op.WithCustomRevocationEndpoint(op.NewEndpoint(PathRevoke)),
		op.WithCustomIntrospectionEndpoint(op.NewEndpoint(PathIntrospect)),
		op.WithCustomEndSessionEndpoint(op.NewEndpoint(PathEndSession)),
		op.WithCustomDeviceAuthorizationEndpoint(op.NewEndpoint("/oauth/device_authorization")),
	}
	issuer := op.StaticIssuer(s.cfg.Issuer)
	if s.cfg.Issuer == "" {
		// Development: the issuer is whatever address the browser used.
		issuer = op.IssuerFromHost("")
	}
	if s.cfg.Issuer == "" || strings.HasPrefix(s.cfg.Issuer, "http://") {
		opts = append(opts, op.WithAllowInsecure())
	}
	return op.NewProvider(cfg, storage{s}, issuer, opts...)
}
