package monban

import (
	"regexp"
	"testing"
)

func TestNewRef(t *testing.T) {
	shape := regexp.MustCompile(`^MB-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$`)
	seen := map[string]bool{}
	for range 1000 {
		r := NewRef()
		if !shape.MatchString(r) {
			t.Fatalf("NewRef() = %q", r)
		}
		if got, ok := ParseRef(r); !ok || got != r {
			t.Fatalf("ParseRef(%q) = %q, %v", r, got, ok)
		}
		seen[r] = true
	}
	if len(seen) < 1000 {
		t.Errorf("%d distinct refs of 1000", len(seen))
	}
}

func TestParseRef(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"MB-7K3Q-9D2F", "MB-7K3Q-9D2F"},
		{"mb-7k3q-9d2f", "MB-7K3Q-9D2F"},
		{"7K3Q9D2F", "MB-7K3Q-9D2F"},
		{" MB 7K3Q 9D2F ", "MB-7K3Q-9D2F"},
		{"ＭＢ－７Ｋ３Ｑ－９Ｄ２Ｆ", "MB-7K3Q-9D2F"}, // full-width
		{"MB-7K3O-9DlF", "MB-7K30-9D1F"}, // O and l typed for 0 and 1
		{"MBMB-7K3Q", "MB-MBMB-7K3Q"},    // a code may start with MB
		{"MB-7K3Q-9D2", ""},
		{"MB-7K3Q-9D2FF", ""},
		{"MB-7K3Q-9D2U", ""}, // U is not in the alphabet
		{"", ""},
	} {
		got, ok := ParseRef(tt.in)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("ParseRef(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}

func TestFindRef(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"【monban】アカウントをロックしました。アプリでご確認ください。参照 MB-7K3Q-9D2F", "MB-7K3Q-9D2F"},
		{"Reference: mb-7k3q-9d2f\n\nTo check…", "MB-7K3Q-9D2F"},
		{"参照コード：ＭＢ－７Ｋ３Ｑ－９Ｄ２Ｆ。", "MB-7K3Q-9D2F"},
		{"Dear customer, your Amazon account is locked. Ref MB-ZZZZ-0000 click http://x", "MB-ZZZZ-0000"},
		{"  7K3Q-9D2F  ", "MB-7K3Q-9D2F"},
		{"COMBAT MB-12", ""},
		{"no code here", ""},
	} {
		got, ok := FindRef(tt.in)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("FindRef(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}
