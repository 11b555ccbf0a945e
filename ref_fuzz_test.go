package monban

import (
	"regexp"
	"testing"
)

var refShape = regexp.MustCompile(`^MB-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$`)

// FuzzParseRef: reference codes are typed, pasted and forwarded by people
// who need support (a notice's code in an SMS or an email). Whatever the
// text, ParseRef and FindRef answer without panicking, and what they
// accept is a canonical reference that reads back as itself. Binding codes
// (moving to a new phone) obey the same.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"MB-7K3Q-9D2F", "mb 7k3q 9d2f", "ＭＢ－７Ｋ３Ｑ－９Ｄ２Ｆ", "参照コード: MB-7K3Q-9D2F です",
		"7K3Q9D2F", "MBMB-7K3Q-9D2F", "OIL0-1111", "AB12-CD34", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ref, ok := ParseRef(s); ok {
			if !refShape.MatchString(ref) {
				t.Fatalf("ParseRef(%q) = %q: not canonical", s, ref)
			}
			if again, ok := ParseRef(ref); !ok || again != ref {
				t.Fatalf("ParseRef(%q) = %q, but that reads as %q, %v", s, ref, again, ok)
			}
		}
		if ref, ok := FindRef(s); ok {
			if again, ok := ParseRef(ref); !ok || again != ref {
				t.Fatalf("FindRef(%q) = %q, which reads as %q, %v", s, ref, again, ok)
			}
		}
		if code, ok := ParseBindingCode(s); ok {
			if again, ok := ParseBindingCode(code); !ok || again != code {
				t.Fatalf("ParseBindingCode(%q) = %q, which reads as %q, %v", s, code, again, ok)
			}
		}
	})
}
