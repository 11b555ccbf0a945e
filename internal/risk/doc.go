// Package risk owns signals, rules and locks: it records what host apps
// and monban itself report about an account (follows, purchases, sign-in
// failures…) into per-minute, per-hour and per-day buckets, evaluates the
// operator's rules (YAML, conditions in CEL) inline on each signal, and
// turns their verdicts into locks that explain themselves — a reason
// category, the ways out, the rule and version that made them — and that
// can be undone: by the person where the rule allows it, and in bulk by an
// operator (Rollback). A circuit breaker puts a rule whose lock rate spikes
// into shadow mode on every node.
package risk
