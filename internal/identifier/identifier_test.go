package identifier

import (
	"testing"

	"github.com/monban-dev/monban"
)

func errKey(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := monban.AsError(err); ok {
		return e.Key
	}
	return "non-domain: " + err.Error()
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		kind    monban.IdentifierKind
		raw     string
		want    string
		wantKey string
	}{
		// usernames
		{monban.KindUsername, "taro", "taro", ""},
		{monban.KindUsername, "@Taro_01", "taro_01", ""},
		{monban.KindUsername, "＠ｔａｒｏ", "taro", ""},
		{monban.KindUsername, "\u3000 @taro \u3000", "taro", ""},
		{monban.KindUsername, "\u200btaro\ufeff", "taro", ""},
		{monban.KindUsername, "@@taro", "", "username.invalid"},
		{monban.KindUsername, "taro.yamada", "", "username.invalid"},
		{monban.KindUsername, "たろう", "", "username.invalid"},
		{monban.KindUsername, "ta ro", "", "username.invalid"},
		{monban.KindUsername, "ab", "", "username.length"},
		{monban.KindUsername, "@ab", "", "username.length"},
		{monban.KindUsername, "0000000", "", "username.digits"},
		{monban.KindUsername, "@123", "", "username.digits"},
		{monban.KindUsername, "_123", "_123", ""},
		{monban.KindUsername, "", "", "username.length"},
		{monban.KindUsername, "a234567890123456789012345678901", "", "username.length"},
		{monban.KindUsername, "a23456789012345678901234567890", "a23456789012345678901234567890", ""},
		// email
		{monban.KindEmail, "Taro@Example.COM", "taro@example.com", ""},
		{monban.KindEmail, "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ", "taro@example.com", ""},
		{monban.KindEmail, "\u3000taro+tag@mail.example.jp ", "taro+tag@mail.example.jp", ""},
		{monban.KindEmail, "Taro <taro@example.com>", "", "email.invalid"},
		{monban.KindEmail, "<taro@example.com>", "", "email.invalid"},
		{monban.KindEmail, "taro@localhost", "", "email.invalid"},
		{monban.KindEmail, "taro@example.com.", "", "email.invalid"},
		{monban.KindEmail, "taro@example..com", "", "email.invalid"},
		{monban.KindEmail, "taro", "", "email.invalid"},
		{monban.KindEmail, "@example.com", "", "email.invalid"},
		{monban.KindEmail, "taro@", "", "email.invalid"},
		{monban.KindEmail, "た@example.com", "", "email.invalid"},
		{monban.KindEmail, "a b@example.com", "", "email.invalid"},
		{monban.KindEmail, "", "", "email.invalid"},
		// phone
		{monban.KindPhone, "090-1234-5678", "+819012345678", ""},
		{monban.KindPhone, "080-1234-5678", "+818012345678", ""},
		{monban.KindPhone, "070-1234-5678", "+817012345678", ""},
		{monban.KindPhone, "09012345678", "+819012345678", ""},
		{monban.KindPhone, "+81 90 1234 5678", "+819012345678", ""},
		{monban.KindPhone, "+81 (0)90-1234-5678", "+819012345678", ""},
		{monban.KindPhone, "81-90-1234-5678", "+819012345678", ""},
		{monban.KindPhone, "（０９０）１２３４－５６７８", "+819012345678", ""},
		{monban.KindPhone, "０８０ー１２３４ー５６７８", "+818012345678", ""},
		{monban.KindPhone, "\u3000090 1234 5678\u3000", "+819012345678", ""},
		{monban.KindPhone, "+1 650 253 0000", "+16502530000", ""},
		{monban.KindPhone, "+44 7911 123456", "+447911123456", ""},
		{monban.KindPhone, "+86 138 1234 5678", "+8613812345678", ""},
		{monban.KindPhone, "03-1234-5678", "", "phone.not_mobile"},
		{monban.KindPhone, "050-1234-5678", "", "phone.not_mobile"},
		{monban.KindPhone, "0120-123-456", "", "phone.not_mobile"},
		{monban.KindPhone, "0570-012-345", "", "phone.not_mobile"},
		{monban.KindPhone, "0990-123-456", "", "phone.not_mobile"},
		{monban.KindPhone, "020-1234-5678", "", "phone.not_mobile"},
		{monban.KindPhone, "090-1234-567", "", "phone.invalid"},
		{monban.KindPhone, "090-1234-56789", "", "phone.invalid"},
		{monban.KindPhone, "1234567", "", "phone.invalid"},
		{monban.KindPhone, "taro", "", "phone.invalid"},
		{monban.KindPhone, "", "", "phone.invalid"},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.kind, tt.raw)
		if k := errKey(err); k != tt.wantKey || got != tt.want {
			t.Errorf("Normalize(%s, %q) = %q, %q; want %q, %q", tt.kind, tt.raw, got, k, tt.want, tt.wantKey)
		}
	}
}

func TestNormalizeErrorDetails(t *testing.T) {
	_, err := Normalize(monban.KindUsername, "ab")
	e, ok := monban.AsError(err)
	if !ok || e.Code != monban.EInvalid || e.Field != "username" || e.Params["min"] != UsernameMin || e.Params["max"] != UsernameMax {
		t.Fatalf("got %#v", e)
	}
	for kind, field := range map[monban.IdentifierKind]string{monban.KindEmail: "email", monban.KindPhone: "phone"} {
		_, err := Normalize(kind, "x")
		if e, ok := monban.AsError(err); !ok || e.Field != field || e.Code != monban.EInvalid {
			t.Errorf("%s: got %v", kind, err)
		}
	}
	if _, err := Normalize("passkey", "x"); monban.ErrorCodeOf(err) != monban.EInternal {
		t.Errorf("unknown kind: got %v", err)
	}
}

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		raw, region string
		want        Phone
	}{
		{"080-1234-5678", "JP", Phone{"+818012345678", "JP", "080-1234-5678", Mobile}},
		{"03-1234-5678", "JP", Phone{"+81312345678", "JP", "03-1234-5678", FixedLine}},
		{"050-1234-5678", "JP", Phone{"+815012345678", "JP", "050-1234-5678", VoIP}},
		{"0120-123-456", "JP", Phone{"+81120123456", "JP", "0120-123-456", TollFree}},
		{"0990-123-456", "JP", Phone{"+81990123456", "JP", "0990-123-456", PremiumRate}},
		{"0570-012-345", "JP", Phone{"+81570012345", "JP", "0570-012-345", Other}},
		{"(650) 253-0000", "US", Phone{"+16502530000", "US", "(650) 253-0000", FixedOrMobile}},
	}
	for _, tt := range tests {
		got, err := NormalizePhone(tt.raw, tt.region)
		if err != nil || got != tt.want {
			t.Errorf("NormalizePhone(%q, %s) = %+v, %v; want %+v", tt.raw, tt.region, got, err, tt.want)
		}
	}
	if _, err := NormalizePhone("0901234567", "JP"); errKey(err) != "phone.invalid" {
		t.Errorf("short 090 number: got %v", err)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		raw     string
		kind    monban.IdentifierKind
		value   string
		wantKey string
	}{
		{"@taro", monban.KindUsername, "taro", ""},
		{"＠ＴＡＲＯ\u3000", monban.KindUsername, "taro", ""},
		{"taro_01", monban.KindUsername, "taro_01", ""},
		{"Taro@Example.com", monban.KindEmail, "taro@example.com", ""},
		{"ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ", monban.KindEmail, "taro@example.com", ""},
		{"taro@", monban.KindEmail, "", "email.invalid"},
		{"090-1234-5678", monban.KindPhone, "+819012345678", ""},
		{"（０９０）１２３４－５６７８", monban.KindPhone, "+819012345678", ""},
		{"+81 90 1234 5678", monban.KindPhone, "+819012345678", ""},
		{"03-1234-5678", monban.KindPhone, "+81312345678", ""},   // not mobile: fine for a lookup
		{"050-1234-5678", monban.KindPhone, "+815012345678", ""}, // VoIP: fine for a lookup
		{"+1 650-253-0000", monban.KindPhone, "+16502530000", ""},
		{"090-1234-567", monban.KindPhone, "", "phone.invalid"},
		{"0901234567", monban.KindPhone, "", "phone.invalid"},
		{"1234567", monban.KindUsername, "", "username.digits"}, // not a number anywhere, and no username either
		{"123456", monban.KindUsername, "", "username.digits"},  // too few digits for a phone
		{"@0000000", monban.KindUsername, "", "username.digits"},
		{"@9012345678", monban.KindUsername, "", "username.digits"}, // would sign in as a phone
		{"taro_0000000", monban.KindUsername, "taro_0000000", ""},
		{"taro yamada", monban.KindUsername, "", "username.invalid"},
		{"", "", "", "identifier.required"},
		{"\u3000 ", "", "", "identifier.required"},
	}
	for _, tt := range tests {
		kind, v, err := Classify(tt.raw)
		if k := errKey(err); kind != tt.kind || v != tt.value || k != tt.wantKey {
			t.Errorf("Classify(%q) = %s, %q, %q; want %s, %q, %q", tt.raw, kind, v, k, tt.kind, tt.value, tt.wantKey)
		}
		if e, ok := monban.AsError(err); ok && e.Field != "identifier" {
			t.Errorf("Classify(%q): field %q", tt.raw, e.Field)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	tests := map[string]string{
		"+818012345678": "080-****-5678",
		"+819012345678": "090-****-5678",
		"+81312345678":  "03-****-5678",
		"+16502530000":  "+1 ***-***-0000",
		"+447911123456": "+44 **** **3456",
		"garbage123456": "garbage**3456",
	}
	for in, want := range tests {
		if got := MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaskEmail(t *testing.T) {
	tests := map[string]string{
		"taro@example.com": "t***@example.com",
		"t@example.com":    "t***@example.com",
		"noat":             "***",
		"@example.com":     "***",
	}
	for in, want := range tests {
		if got := MaskEmail(in); got != want {
			t.Errorf("MaskEmail(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"＠ｔａｒｏ", "@taro", "Taro@Example.COM", "（０９０）１２３４－５６７８", "+1 650 253 0000", "\u3000a\u3000", "050-1234-5678"} {
		f.Add(s)
	}
	kinds := []monban.IdentifierKind{monban.KindUsername, monban.KindEmail, monban.KindPhone}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, k := range kinds {
			v, err := Normalize(k, raw)
			if err != nil {
				if _, ok := monban.AsError(err); !ok {
					t.Fatalf("Normalize(%s, %q): non-domain error %v", k, raw, err)
				}
				continue
			}
			v2, err := Normalize(k, v)
			if err != nil || v2 != v {
				t.Fatalf("Normalize(%s, %q) = %q, but again gives %q, %v", k, raw, v, v2, err)
			}
		}
	})
}

func FuzzClassify(f *testing.F) {
	for _, s := range []string{"@taro", "taro@example.com", "090-1234-5678", "1234567", "", "＋８１ ９０", "@0000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		kind, v, err := Classify(raw)
		if err != nil {
			return
		}
		// A classified value classifies to itself, except a phone's E.164
		// which is always a phone.
		k2, v2, err := Classify(v)
		if err != nil || k2 != kind || v2 != v {
			t.Fatalf("Classify(%q) = %s %q; again: %s %q %v", raw, kind, v, k2, v2, err)
		}
		_ = MaskPhone(v)
		_ = MaskEmail(v)
	})
}
