// Package transfer owns moving an account to a new device (SPEC §4.6,
// seed 001). With the old device: the signed-in old device shows a
// one-time binding code and QR code, the new device enters it, and the
// account moves. Without it: the new device proves the password, confirms
// the registered number (typed, parsed and shown back before anything is
// sent), and then one more thing — a transfer code to that number, an
// approval from another signed-in session, another bound factor (TOTP,
// passkey, an email code) or a support-granted bypass of the transfer-code
// step. Code sends are limited per account per day with the reset time
// named. The move itself is one store transaction: the new session, the
// old sessions ended, the proof spent, the audit entry, the
// account.transferred notice and webhook.
package transfer
