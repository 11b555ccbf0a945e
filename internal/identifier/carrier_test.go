package identifier

import "testing"

func TestCarrier(t *testing.T) {
	for _, tc := range []struct {
		email, want string
		ok          bool
	}{
		{"hanako@docomo.ne.jp", "docomo", true},
		{"Taro@EZweb.ne.jp", "au", true},
		{"a@au.com", "au", true},
		{"a@i.softbank.jp", "SoftBank", true},
		{"a@xx.pdx.ne.jp", "Y!mobile", true},
		{"a@gmail.com", "", false},
		{"a@notdocomo.ne.jp", "", false},
		{"no-at-sign", "", false},
	} {
		got, ok := Carrier(tc.email)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Carrier(%q) = %q, %v; want %q, %v", tc.email, got, ok, tc.want, tc.ok)
		}
	}
}
