package monban

import (
	"crypto/rand"
	"strings"
	"time"
	"unicode"
)

// Notice topics: what a notice is about. Each has a message template
// "notice.<topic>" in every language, and most are also webhook events.
const (
	TopicAccountLocked      = "account.locked"
	TopicAccountUnlocked    = "account.unlocked"
	TopicSignInNewDevice    = "signin.new_device"
	TopicContactChanged     = "contact.changed"
	TopicFactorChanged      = "factor.changed"
	TopicPasswordChanged    = "password.changed"
	TopicCaseUpdated        = "case.updated"
	TopicAccountTransferred = "account.transferred"
	// TopicSignInApproval carries the one-time approve-or-deny link of a
	// held sign-in (its link travels privately, never in the message center).
	TopicSignInApproval = "signin.approval"
	// TopicSignInGuessing: second-factor codes keep failing after the
	// password was right (internal/throttle's alert, once per episode).
	TopicSignInGuessing = "signin.guessing"
)

// Topics lists every notice topic.
var Topics = []string{TopicAccountLocked, TopicAccountUnlocked, TopicSignInNewDevice, TopicContactChanged,
	TopicFactorChanged, TopicPasswordChanged, TopicCaseUpdated, TopicAccountTransferred, TopicSignInApproval,
	TopicSignInGuessing}

// Notice is one entry of an account's message center: everything monban
// tells a person (codes excepted) is kept here, with the reference code its
// email or SMS carries, so that a person can tell a real notice from a
// forged one (SPEC §4.7). The messages that carry it point back to it by
// NoticeID in the outbox.
type Notice struct {
	ID        string
	Ref       string // e.g. "MB-7K3Q-9D2F"; unique, printed in the email/SMS
	AccountID string
	Topic     string            // e.g. TopicAccountLocked
	Lang      string            // the language it was written in
	Params    map[string]string // what the message said (no secrets: shown in the message center)
	CreatedAt time.Time
	ReadAt    time.Time // zero while unread
}

// refAlphabet is Crockford's base32 (no I, L, O, U), so a code read aloud
// or copied by hand survives: ParseRef maps the look-alikes back.
const refAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// refPrefix starts every reference code.
const refPrefix = "MB-"

// refChars is how many random characters a reference has: 8 × 5 = 40 bits.
const refChars = 8

// NewRef returns a random reference code such as "MB-7K3Q-9D2F" (40 random
// bits). References are unique per notice (the store refuses a repeat) and
// say nothing about the account.
func NewRef() string {
	var b [refChars]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	out := []byte(refPrefix)
	for i, c := range b {
		if i == refChars/2 {
			out = append(out, '-')
		}
		out = append(out, refAlphabet[c&31])
	}
	return string(out)
}

// ParseRef reads a reference code as a person may type or paste it: any
// case, with or without "MB" and the dashes, with spaces, full-width
// characters, and O/I/L for 0/1/1. It returns the canonical form and
// whether s is a well-formed reference at all.
func ParseRef(s string) (string, bool) {
	var chars []byte
	for _, r := range s {
		r = foldWidth(r)
		switch {
		case r == '-' || r == ' ' || r == '\t' || r == '‐' || r == '－' || r == 'ー':
			continue
		}
		c, ok := refChar(r)
		if !ok {
			return "", false
		}
		chars = append(chars, c)
	}
	if len(chars) == refChars+2 && chars[0] == 'M' && chars[1] == 'B' {
		chars = chars[2:]
	}
	if len(chars) != refChars {
		return "", false
	}
	return refPrefix + string(chars[:refChars/2]) + "-" + string(chars[refChars/2:]), true
}

// FindRef extracts the first reference code from pasted text (an email or
// an SMS), e.g. "… 参照コード: MB-7K3Q-9D2F …".
func FindRef(text string) (string, bool) {
	rs := []rune(text)
	for i := range rs {
		if foldWidth(unicode.ToUpper(rs[i])) != 'M' || i+1 >= len(rs) || foldWidth(unicode.ToUpper(rs[i+1])) != 'B' {
			continue
		}
		if i > 0 && isRefRune(rs[i-1]) {
			continue // inside a longer word
		}
		// Take "MB" and the next ten characters that may belong to a code.
		var cand []rune
		for j := i; j < len(rs) && len(cand) < len(refPrefix)+refChars+1; j++ {
			r := foldWidth(rs[j])
			if !isRefRune(r) && r != '-' && r != '‐' && r != '－' {
				break
			}
			cand = append(cand, r)
		}
		if ref, ok := ParseRef(string(cand)); ok {
			return ref, true
		}
	}
	// No "MB": accept a message that is nothing but a code.
	return ParseRef(strings.TrimSpace(text))
}

func isRefRune(r rune) bool {
	_, ok := refChar(foldWidth(r))
	return ok
}

// refChar maps one typed character to the alphabet.
func refChar(r rune) (byte, bool) {
	r = unicode.ToUpper(r)
	switch r {
	case 'O':
		return '0', true
	case 'I', 'L':
		return '1', true
	}
	if r < 128 && strings.IndexByte(refAlphabet, byte(r)) >= 0 {
		return byte(r), true
	}
	return 0, false
}

// foldWidth turns full-width ASCII (as Japanese keyboards type it) into
// ASCII.
func foldWidth(r rune) rune {
	if r >= '！' && r <= '～' {
		return r - '！' + '!'
	}
	return r
}
