package identifier

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// PhoneType is what kind of line a number belongs to, as far as the numbering
// plan tells.
type PhoneType int

// Phone types. FixedOrMobile is for plans (such as the US) where the number
// alone cannot tell the two apart.
const (
	Other PhoneType = iota
	Mobile
	FixedLine
	FixedOrMobile
	TollFree
	PremiumRate
	VoIP
)

var phoneTypeNames = [...]string{"other", "mobile", "fixed_line", "fixed_or_mobile", "toll_free", "premium_rate", "voip"}

func (t PhoneType) String() string {
	if t < 0 || int(t) >= len(phoneTypeNames) {
		return "other"
	}
	return phoneTypeNames[t]
}

// CanReceiveSMS reports whether codes can be sent to numbers of this type.
// FixedOrMobile is accepted, or no US number could ever be registered.
func (t PhoneType) CanReceiveSMS() bool { return t == Mobile || t == FixedOrMobile }

// Phone is a parsed, valid phone number.
type Phone struct {
	E164     string // "+819012345678"
	Region   string // ISO 3166 region, e.g. "JP"
	National string // national format, e.g. "090-1234-5678"
	Type     PhoneType
}

// NormalizePhone parses raw as a phone number, reading numbers without a
// country code as numbers of defaultRegion. It accepts the usual ways of
// writing a Japanese number: "090-1234-5678", "09012345678",
// "+81 90 1234 5678", "+81 (0)90…", "81-90-…", full-width digits and the
// katakana long-vowel mark typed as a dash. It fails with phone.invalid when
// the text is not a number that exists in the numbering plan.
func NormalizePhone(raw, defaultRegion string) (Phone, error) {
	s := foldDashes(clean(raw))
	if s == "" || len(s) > 64 {
		return Phone{}, invalid("phone.invalid", "phone")
	}
	n, err := phonenumbers.Parse(s, defaultRegion)
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return Phone{}, invalid("phone.invalid", "phone")
	}
	return Phone{
		E164:     phonenumbers.Format(n, phonenumbers.E164),
		Region:   phonenumbers.GetRegionCodeForNumber(n),
		National: phonenumbers.Format(n, phonenumbers.NATIONAL),
		Type:     phoneType(phonenumbers.GetNumberType(n)),
	}, nil
}

func phoneType(t phonenumbers.PhoneNumberType) PhoneType {
	switch t {
	case phonenumbers.MOBILE:
		return Mobile
	case phonenumbers.FIXED_LINE:
		return FixedLine
	case phonenumbers.FIXED_LINE_OR_MOBILE:
		return FixedOrMobile
	case phonenumbers.TOLL_FREE:
		return TollFree
	case phonenumbers.PREMIUM_RATE:
		return PremiumRate
	case phonenumbers.VOIP:
		return VoIP
	default: // shared cost and UAN (JP 0570), pager (JP 020), personal numbers…
		return Other
	}
}

// dashes are characters people (and IMEs) type between digit groups that
// NFKC leaves alone.
var dashes = strings.NewReplacer(
	"ー", "-", // katakana long vowel mark, the usual IME "dash"
	"‐", "-", "‑", "-", "‒", "-", "–", "-", "—", "-", "―", "-", "−", "-",
)

func foldDashes(s string) string { return dashes.Replace(s) }

// MaskPhone shows a number so its owner can recognise it without revealing
// it to anyone else: Japanese numbers in national format with the middle
// digits masked ("080-****-5678"), others in international format with all
// but the country code and the last four digits masked ("+1 ***-***-0123").
func MaskPhone(e164 string) string {
	n, err := phonenumbers.Parse(e164, "ZZ")
	if err != nil {
		return maskDigits(e164, 0)
	}
	if phonenumbers.GetRegionCodeForNumber(n) == "JP" {
		nat := phonenumbers.Format(n, phonenumbers.NATIONAL)
		if i := strings.IndexByte(nat, '-'); i > 0 {
			return nat[:i] + maskDigits(nat[i:], 0)
		}
		return maskDigits(nat, 3)
	}
	intl := phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
	if i := strings.IndexByte(intl, ' '); i > 0 {
		return intl[:i] + maskDigits(intl[i:], 0)
	}
	return maskDigits(intl, 0)
}

// maskDigits replaces every ASCII digit of s with '*' except the first keep
// and the last four.
func maskDigits(s string, keep int) string {
	total := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			total++
		}
	}
	b := []byte(s)
	seen := 0
	for i := range b {
		if b[i] < '0' || b[i] > '9' {
			continue
		}
		if seen >= keep && seen < total-4 {
			b[i] = '*'
		}
		seen++
	}
	return string(b)
}

// MaskEmail keeps the first character of the local part and the domain:
// "taro@example.com" → "t***@example.com".
func MaskEmail(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at <= 0 {
		return "***"
	}
	first := []rune(email[:at])[0]
	return string(first) + "***" + email[at:]
}
