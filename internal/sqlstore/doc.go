// Package sqlstore stores monban's domain in SQL through database/sql, on
// SQLite (modernc.org/sqlite, pure Go) and PostgreSQL (pgx).
//
// It owns the schema (embedded, numbered migrations recorded in
// schema_migrations), the mapping between rows and the root package's types,
// and the classification of driver errors into monban error codes. Every SQL
// text is written once with ? placeholders; the few differences between the
// two databases live in dialect.go. Each use case runs in one transaction;
// times are stored as BIGINT unix microseconds in UTC, the zero time as 0.
package sqlstore
