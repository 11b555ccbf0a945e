package identifier

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/monban-dev/monban"
)

// Username length bounds, in characters.
const (
	UsernameMin = 3
	UsernameMax = 30
)

// EmailMax is the longest email address accepted (RFC 5321 path limit less
// the angle brackets).
const EmailMax = 254

// Normalize returns the canonical form of raw as an identifier of the given
// kind, or an *monban.Error naming what is wrong with it. Phone numbers must
// be able to receive SMS, since an identifier phone is where codes go.
func Normalize(kind monban.IdentifierKind, raw string) (string, error) {
	s := clean(raw)
	switch kind {
	case monban.KindUsername:
		return normalizeUsername(s)
	case monban.KindEmail:
		return normalizeEmail(s)
	case monban.KindPhone:
		p, err := NormalizePhone(s, "JP")
		if err != nil {
			return "", err
		}
		if !p.Type.CanReceiveSMS() {
			return "", invalid("phone.not_mobile", "phone")
		}
		return p.E164, nil
	default:
		return "", monban.Internalf("identifier: unknown kind %q", kind)
	}
}

// clean applies NFKC and trims white space, including U+3000 and the
// zero-width characters that copy-and-paste tends to bring along.
func clean(raw string) string {
	s := norm.NFKC.String(raw)
	s = strings.TrimFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || r == '\u200b' || r == '\u200c' || r == '\u200d' || r == '\u2060' || r == '\ufeff'
	})
	// NFKC can leave or create a string that is not yet in NFKC after
	// trimming (a leading combining mark); one more pass makes the result
	// stable so that Normalize is idempotent.
	return norm.NFKC.String(s)
}

func normalizeUsername(s string) (string, error) {
	s = strings.ToLower(strings.TrimPrefix(s, "@"))
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return "", invalid("username.invalid", "username")
		}
	}
	if n := utf8.RuneCountInString(s); n < UsernameMin || n > UsernameMax {
		return "", invalid("username.length", "username").
			WithParams(map[string]any{"min": UsernameMin, "max": UsernameMax})
	}
	// The sign-in box reads a string of digits as a phone number, so a
	// username of digits alone could never be signed in with.
	if allDigits(s) {
		return "", invalid("username.digits", "username")
	}
	return s, nil
}

// normalizeEmail accepts a bare ASCII address. Internationalised addresses
// are refused: few SMS/email providers deliver to them, and a code that
// cannot be delivered locks the person out (seed 003).
func normalizeEmail(s string) (string, error) {
	s = strings.ToLower(s)
	if s == "" || len(s) > EmailMax || !isPrintableASCII(s) {
		return "", invalid("email.invalid", "email")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", invalid("email.invalid", "email")
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") ||
		strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", invalid("email.invalid", "email")
	}
	return s, nil
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func invalid(key, field string) *monban.Error {
	return monban.Errorf(monban.EInvalid, key).WithField(field)
}
