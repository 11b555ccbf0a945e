// Package factors owns second factors: TOTP authenticator apps (enrolled
// with a QR code or a manual key and confirmed by a first code), passkeys
// (WebAuthn, as a second factor and for passwordless sign-in) and recovery
// codes (ten single-use codes of 80 bits, stored as keyed hashes, shown
// once). It lists, names and removes them, and guards every change behind a
// recent re-authentication. SMS and email codes are the codes package's;
// they appear here only as the account's verified contacts.
package factors
