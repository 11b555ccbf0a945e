// Package twostep owns the second step of signing in: it decides after the
// password whether a sign-in must wait (2-step verification on, or a device
// the account has not seen), holds it as a pending sign-in, offers the ways
// to finish it (a code to a verified contact, an authenticator app, a
// passkey, an approval from a trusted session or a one-time link, a
// recovery code as the last resort), runs the approve-or-deny prompts and
// completes the sign-in with a two-factor session. It also records
// re-authentication and device trust.
package twostep
