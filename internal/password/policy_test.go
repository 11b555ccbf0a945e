package password

import (
	"strings"
	"testing"

	"github.com/monban-dev/monban"
)

func TestPolicyCheck(t *testing.T) {
	p := NewPolicy("Shopping Mall", "kaimono")
	ctx := []string{"@taro_yamada", "hanako.suzuki@example.com"}
	tests := []struct {
		name    string
		pw      string
		twoStep bool
		key     string
		params  map[string]any
	}{
		{"long random", "mU7#kq2Lz!xv9Rw", false, "", nil},
		{"passphrase", "correct horse battery staple", false, "", nil},
		{"japanese passphrase", "きょうは晴れ、明日は雪だるまを作る", false, "", nil},
		{"8 with 2-step", "k9#Vq2mL", true, "", nil},
		{"64 allowed", strings.Repeat("aB3$kQ9z", 8), false, "password.repetitive", nil},
		{"64 varied", "the quick brown fox jumps over the lazy dog while 7 cats sleep!!", false, "", nil},
		{"256 allowed", longVaried(256), false, "", nil},
		{"14 single factor", "mU7#kq2Lz!xv9R", false, "password.too_short", map[string]any{"min": 15}},
		{"7 with 2-step", "k9#Vq2m", true, "password.too_short", map[string]any{"min": 8}},
		{"code points not bytes", "あいうかきくけこさしすせそた", false, "password.too_short", map[string]any{"min": 15}},
		{"257", longVaried(257), false, "password.too_long", map[string]any{"max": 256}},
		{"common", "baseball", true, "password.common", nil},
		{"common upper", "PASSWORD1", true, "password.common", nil},
		{"common with suffix", "Password123456!", false, "password.common", nil},
		{"common with prefix", "2024!!!sunshine", false, "password.common", nil},
		{"common doubled", "passwordpassword", false, "password.common", nil},
		{"common plus digits", "iloveyou12345678", false, "password.common", nil},
		{"leet", "P@ssw0rd12345678", false, "password.common", nil},
		{"long list entry", "1qaz2wsx3edc4rfv", false, "password.common", nil},
		{"keyboard rows", "qwertyuiopasdfgh", false, "password.repetitive", nil},
		{"one char", "aaaaaaaaaaaaaaaa", false, "password.repetitive", nil},
		{"alphabet", "abcdefghijklmnop", false, "password.repetitive", nil},
		{"digits", "123456789012345", false, "password.repetitive", nil},
		{"down", "zyxwvutsrqponmlk", false, "password.repetitive", nil},
		{"runs", "aaaaabbbbbccccc", false, "password.repetitive", nil},
		{"repeated unit", "xq7xq7xq7xq7xq7", false, "password.repetitive", nil},
		{"kana sequence", "あいうえおかきくけこさしすせそ", false, "password.repetitive", nil},
		{"2-step pair", "abcd4321", true, "password.repetitive", nil},
		{"digit runs", "000011112222333", false, "password.repetitive", nil},
		{"keyboard columns (listed)", "1qaz2wsx3edc4rfv5tgb", false, "password.common", nil},
		{"keyboard columns mixed", "zaq12wsxcde34rfv", false, "password.common", nil},
		{"keyboard columns no digits", "qazwsxedcrfvtgbyhn", false, "password.repetitive", nil},
		{"common, separated repeat", "passw0rd!passw0rd", false, "password.common", nil},
		{"common, year inside", "Summer2024!Summer", false, "password.common", nil},
		{"not common: names with separators", "naruto-uzumaki-1", false, "", nil},
		{"xkcd style", "Tr0ub4dor&3horse", false, "", nil},
		{"username", "my taro_yamada secret!", false, "password.context", map[string]any{"word": "taro_yamada"}},
		{"username part", "YAMADA-mU7#kq2Lz!", false, "password.context", map[string]any{"word": "yamada"}},
		{"email local", "mU7#kq2Lz!suzuki", false, "password.context", map[string]any{"word": "suzuki"}},
		{"service", "Monban-mU7#kq2Lz!", false, "password.context", map[string]any{"word": "monban"}},
		{"host service words", "shopping is fun at 7!", false, "password.context", map[string]any{"word": "shopping"}},
		{"full-width service", "ｍｏｎｂａｎ-mU7#kq2Lz!", false, "password.context", map[string]any{"word": "monban"}},
		{"short context ignored", "mU7#kq2Lz!xv9Rw-com", false, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Check(tt.pw, tt.twoStep, ctx...)
			if tt.key == "" {
				if err != nil {
					t.Fatalf("Check(%q) = %v, want nil", tt.pw, err)
				}
				return
			}
			e, ok := monban.AsError(err)
			if !ok || e.Key != tt.key || e.Code != monban.EInvalid || e.Field != "password" {
				t.Fatalf("Check(%q) = %v, want %s", tt.pw, err, tt.key)
			}
			for k, v := range tt.params {
				if e.Params[k] != v {
					t.Errorf("param %s = %v, want %v", k, e.Params[k], v)
				}
			}
		})
	}
}

// longVaried returns n code points of text that is neither common nor
// repetitive.
func longVaried(n int) string {
	const alphabet = "q8Zr!m3Kt@w1Xp#v7Lc$"
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		b.WriteByte(alphabet[(i*7+i/len(alphabet))%len(alphabet)])
	}
	return b.String()[:n]
}

func TestIsRepetitive(t *testing.T) {
	tests := map[string]bool{
		"1qaz2wsx3edc4rfv5tgb":  true,
		"zaq12wsxcde34rfv":      true,
		"qwertyuiopasdfgh":      true,
		"0987654321poiuy":       true,
		"ponmlkjihgfedcba":      true,
		"アイウエオカキクケコ":            true,
		"abcabcabcabc":          true,
		"000011112222333":       true,
		"mu7#kq2lz!xv9rw":       false,
		"correct horse battery": false,
		"qwe7#kq2lz!xv9rw":      false, // one short walk in otherwise random text
		"":                      false,
	}
	for s, want := range tests {
		if got := isRepetitive(s); got != want {
			t.Errorf("isRepetitive(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestBlocklistLoaded(t *testing.T) {
	list := blocklist()
	if len(list) < 40000 {
		t.Fatalf("blocklist has %d entries", len(list))
	}
	for _, w := range []string{"123456", "password", "iloveyou", "qwerty"} {
		if !listed(w) {
			t.Errorf("%q not listed", w)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	p := NewPolicy()
	for b.Loop() {
		_ = p.Check("Password123456!-correct horse", false, "taro", "taro@example.com")
	}
}

func FuzzCheck(f *testing.F) {
	p := NewPolicy("kaimono")
	for _, s := range []string{"Password123456!", "qwertyuiopasdfgh", "あいうえおかきくけこさしすせそ", "mU7#kq2Lz!xv9Rw"} {
		f.Add(s, "taro@example.com")
	}
	f.Fuzz(func(t *testing.T, pw, ctx string) {
		err := p.Check(pw, false, ctx)
		if err == nil {
			return
		}
		if e, ok := monban.AsError(err); !ok || e.Code != monban.EInvalid || e.Field != "password" {
			t.Fatalf("Check(%q) = %v", pw, err)
		}
	})
}
