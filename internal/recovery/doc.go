// Package recovery owns login help (seed 004) and contact changes.
//
// Login help: a person names their account by username (with or without
// "@", full-width folded), email or phone; whether or not an account
// matches, the answer is the same ("if an account matches, we sent a code
// to its verified contact") and leads to the same code page, so nothing
// reveals whether an account exists. A right code — plus, with 2-step on, a
// TOTP or recovery code (two independent proofs, NIST SP 800-63B-4 §4.2) —
// lets the person set a new password; every session ends, the throttle's
// delays are cleared and every contact is told.
//
// Contact changes: changing the email address or phone number needs the
// password in the same request and a code sent to the new contact. The old
// contacts are then sent a "this wasn't me" link, valid 14 days, whose
// token is stored only as a hash. The link works without signing in and
// after the password was changed: it restores the old contacts, ends every
// session, makes the password unusable and starts login help through the
// restored contact.
package recovery
