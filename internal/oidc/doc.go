// Package oidc makes monban an OpenID Connect provider, so that a host app
// can "sign in with monban" with any standard relying-party library. The
// protocol is github.com/zitadel/oidc/v3's op package; this package owns
// what op asks of its storage — registered clients, authorization
// requests, single-use codes, access and refresh tokens (rotated, with
// reuse detection that revokes the whole token family) and the ID-token
// signing keys (rotated, private halves sealed, old public halves
// published until every token they signed has expired) — and the claims
// (sub, acr and amr from how the monban session was signed in).
//
// The sign-in itself is monban's own: op sends the browser to the web
// layer's login page, which runs the normal sign-in (2-step, new-device
// checks, locks) and the consent page, then completes the request here.
package oidc
