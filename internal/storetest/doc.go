// Package storetest holds the one test suite every sqlstore database must
// pass (Run), and helpers that give other packages' tests a fresh, migrated
// store: Open (SQLite, always), OpenPostgres (when MONBAN_TEST_POSTGRES is a
// DSN) and Stores (both when available).
package storetest
