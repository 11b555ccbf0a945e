// Package throttle is the one counted path for secrets a person could
// guess: passwords (people's and support agents'), authenticator-app
// codes, recovery codes, one-time codes and the full phone number behind a
// masked one (NIST SP 800-63B-4 §3.2.2 and §3.1.3.2, OWASP device-cookie
// lockout). The capability that checks a secret calls Service.Check (or
// Begin/Failed/Succeeded around a password hash), so no caller can forget
// the limit. Long random tokens that name no account before they are
// found (approval, "this wasn't me" and support status links) go through
// Service.CheckToken instead: wrong ones counted per network in a window,
// claimed before the compare, a found token given back.
//
// It owns the failure counters: one per account and authenticator for
// attempts from devices the account has not seen succeed, one per account,
// authenticator and device for each device that has (so an attacker
// without the owner's device cookie never slows the owner), and one per
// identifier string for identifiers that name no account, so that an
// unknown identifier is throttled exactly like a known one. After Free
// failures each further try waits Base, doubling up to Max; at DisableAt
// consecutive failures the authenticator is refused on that counter until
// the password is reset through recovery — never the whole account. Each
// authenticator has its own refusal messages and may have its own schedule
// (KindOf: one-time codes count per account and purpose across flows and
// are never disabled). Re-authentication of a signed-in session claims its
// tries on the same counters as sign-in, so guessing there and at the
// sign-in form share one budget; likewise an app code typed at the sign-in
// step, in login help, in a transfer or at the lock's way out.
//
// When a second factor's counter for strangers first reaches a delay, and
// when it reaches DisableAt, Config.Alert tells the owner (once per episode:
// both happen once between two resets).
//
// On top of the counters, per-IP and global limits (windowed limit
// counters) slow credential stuffing from devices no account knows.
//
// The decision is a pure function (Policy.Decide) over a counter's recorded
// state and the time; Service claims an attempt atomically in the store
// before the secret is compared, so concurrent tries on any number of
// nodes cannot exceed the schedule.
package throttle
