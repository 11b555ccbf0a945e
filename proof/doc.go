// Package proof holds monban's system tests: the promises of SPEC §5 and §6
// checked against the real binary, started as separate processes on one
// database, on the loopback interface only.
//
//   - multinode_test.go: several nodes on one PostgreSQL schema behind a
//     round-robin; single-use codes, attempt counters, send limits, the
//     outbox and session revocation hold across nodes.
//   - crash_test.go: SIGKILL under mixed load; nothing acknowledged is
//     lost and nothing half-done is visible after a restart.
//   - outage_test.go: the database goes away under load; requests fail
//     fast with 503, goroutines and memory stay bounded, and the node
//     recovers without a restart.
//   - provider_test.go: SMTP and SMS providers that hang, refuse or answer
//     garbage; delivery retries and sign-in does not slow down.
//   - enumeration_test.go: unknown and known accounts get the same answer
//     in the same time.
//   - pumping_test.go: an SMS-pumping run is contained by the country
//     guard and the budgets, and raises the alarm.
//   - weapon_test.go: an attacker's failed sign-ins, login help and
//     support requests lock no one; the owner's trusted device keeps access.
//   - multinode_once_test.go: recovery codes, the risk breaker and rule
//     rollbacks act once however many nodes take part.
//
// Every test runs in CI in a short form (seconds); MONBAN_PROOF_LONG=1
// runs the long forms (docs/operations.md). The PostgreSQL tests need
// MONBAN_TEST_POSTGRES and fail without it unless MONBAN_SKIP_POSTGRES=1.
// MONBAN_PROOF_BIN names a prebuilt monban binary to test instead of
// building one.
package proof
