// Package desk is the support desk: cases filed without signing in and
// merged with their repeats, the agent console's sign-in (password and a
// mandatory authenticator app), the role permission table, identity checks
// against the knowledge host apps supply (keyed hashes, match or no match),
// the actions agents take on an account (lift a lock, grant a time-boxed
// bypass of one step, verify a phone, reset 2-step) and the desk's
// metrics. Every agent action is audited with the agent's id.
package desk
