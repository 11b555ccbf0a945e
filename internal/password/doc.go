// Package password owns how account passwords are stored and which ones are
// accepted (SPEC §4.1).
//
// Hasher stores passwords as argon2id PHC strings that carry their own
// parameters, so a change of DefaultParams is picked up as "needs rehash" at
// the next sign-in. A semaphore caps how many hashes run at once: each one
// allocates Params.Memory KiB, and a burst of sign-ins must not exhaust the
// machine. VerifyDummy spends the same time as a real check for unknown
// accounts, so response times do not reveal which accounts exist.
//
// Password text is NFKC-normalised before it is hashed or checked, as NIST SP
// 800-63B-4 §3.1.1.2 recommends: a password typed with a Japanese IME in
// full-width form ("ｐａｓｓ１２３") then verifies against the same password
// typed half-width, and one typed on a different device with a different
// composition of the same characters still matches.
//
// Policy applies the rest of §3.1.1.2: length in code points (15 when the
// password is the only factor, 8 with 2-step verification, up to 256), no
// composition rules, and rejection with a stated reason of common passwords
// (an embedded list, see BLOCKLIST.md), passwords built from the account's
// own identifiers or the service name, and repetitive or sequential ones.
package password
