// Package throttle slows password (and later TOTP) guessing without giving
// an attacker a way to lock the owner out (NIST SP 800-63B-4 §3.2.2, OWASP
// device-cookie lockout).
//
// It owns the sign-in failure counters: one per account and authenticator
// for attempts from devices the account has not seen succeed, one per
// account, authenticator and device for each device that has (so an
// attacker without the owner's device cookie never slows the owner), and
// one per identifier string for identifiers that name no account, so that
// an unknown identifier is throttled exactly like a known one. After Free
// failures each further try waits Base, doubling up to Max; at DisableAt
// consecutive failures the authenticator is refused on that counter until
// the password is reset through recovery — never the whole account.
// Re-authentication of a signed-in session (account.Service.CheckPassword)
// claims its tries on the same counters, the session's own device on that
// device's, so guessing there and at the sign-in form share one budget.
//
// On top of the counters, per-IP and global limits (windowed limit
// counters) slow credential stuffing from devices no account knows.
//
// The decision is a pure function (Policy.Decide) over a counter's recorded
// state and the time; Service claims an attempt atomically in the store
// before the password is checked, so concurrent tries on any number of
// nodes cannot exceed the schedule.
package throttle
