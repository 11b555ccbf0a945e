// Package account owns the account use cases of the foundation: registering,
// signing in with a password, session tokens (create, check, list, revoke,
// sign out) and the host-app session check ("whoami"). It declares the narrow
// storage, hashing and policy interfaces it needs; cmd/monban wires the
// concrete implementations.
package account
