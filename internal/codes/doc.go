// Package codes owns one-time codes: starting a flow that sends a code to an
// email address or phone, resending within it under a growing cooldown,
// checking what the person typed, and the limits around all of it (per
// destination, account, IP and phone prefix, SMS budgets, failures per
// account and purpose). Codes are random digits stored only as an HMAC
// keyed with the server secret; the code travels to the outbox sealed and
// is never logged. Storage is behind Store (internal/sqlstore); sending is
// the outbox worker's job (internal/delivery).
package codes
