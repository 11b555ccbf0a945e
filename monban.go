// Package monban holds the domain of the monban account-security service:
// accounts, identifiers, sessions, devices, audit events, API keys and the
// error type every layer speaks. It depends on the standard library only;
// storage, delivery and HTTP live in packages named after what they wrap.
package monban

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
	"time"
)

// Clock tells the time. Every component takes one so tests control time.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns the current time.
func (SystemClock) Now() time.Time { return time.Now() }

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewID returns a random 128-bit identifier with a short type prefix,
// e.g. "acc_7K3Q…". Identifiers are not secrets; they are unguessable so
// that they can appear in URLs without enabling enumeration.
func NewID(prefix string) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return prefix + "_" + strings.ToLower(idEncoding.EncodeToString(b[:]))
}
