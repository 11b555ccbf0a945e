package identifier

import (
	"strings"

	"github.com/monban-dev/monban"
)

// Classify reads what a person typed into the single sign-in or login-help
// box and returns which kind of identifier it is with its normalised value:
//
//   - an "@" after the first character: an email address;
//   - only digits, spaces and + - ( ) . with at least 7 digits: a phone
//     number, read as Japanese unless it has a country code. Any valid
//     number is accepted (not only mobiles), since a sign-in lookup only
//     needs the E.164 form;
//   - anything else: a username, with one leading "@" dropped (seed 004:
//     people type their handle as "@taro").
//
// A run of digits that is not a valid phone number and does not start with
// the trunk prefix "0" is read as a username, so all-digit usernames still
// work; one starting with "0" is a mistyped phone number and gets
// phone.invalid. Errors carry Field "identifier", the name of the box.
func Classify(raw string) (monban.IdentifierKind, string, error) {
	s := clean(raw)
	if s == "" {
		return "", "", invalid("identifier.required", "identifier")
	}
	if strings.LastIndexByte(s, '@') > 0 {
		v, err := normalizeEmail(s)
		return monban.KindEmail, v, asBox(err)
	}
	if p := foldDashes(s); looksLikePhone(p) {
		ph, err := NormalizePhone(p, "JP")
		if err == nil {
			return monban.KindPhone, ph.E164, nil
		}
		if strings.HasPrefix(p, "0") || !allDigits(p) {
			return monban.KindPhone, "", asBox(err)
		}
	}
	v, err := normalizeUsername(s)
	return monban.KindUsername, v, asBox(err)
}

func looksLikePhone(s string) bool {
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == ' ' || r == '+' || r == '-' || r == '(' || r == ')' || r == '.':
		default:
			return false
		}
	}
	return digits >= 7
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// asBox re-points a validation error at the single identifier box.
func asBox(err error) error {
	if e, ok := monban.AsError(err); ok {
		e.Field = "identifier"
		return e
	}
	return err
}
