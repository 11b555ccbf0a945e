package web

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/monban-dev/monban"
)

// unbounded lists the strings and arrays of a request schema that have no
// maxLength / maxItems: what the decoder could not bound.
func (s *reqSchema) unbounded(field string) []string {
	var out []string
	for _, alt := range s.OneOf {
		out = append(out, alt.unbounded(field)...)
	}
	switch {
	case s.allows("string") && len(s.Types) > 0 && len(s.Enum) == 0 && s.MaxLength == 0:
		out = append(out, field)
	case s.allows("array") && len(s.Types) > 0:
		if s.MaxItems == 0 {
			out = append(out, field+"[]")
		}
		if s.Items != nil {
			out = append(out, s.Items.unbounded(field+"[]")...)
		}
	}
	for k, p := range s.Properties {
		out = append(out, p.unbounded(strings.TrimPrefix(field+"."+k, "."))...)
	}
	return out
}

// TestSecretRequestSchemasBounded: every string a JSON request takes has a
// documented maximum length (or an enum) and every list a maximum count, so
// the decoder, which reads docs/openapi.yaml, bounds all of them.
func TestSecretRequestSchemasBounded(t *testing.T) {
	scs, err := requestSchemas(monban.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	for pattern, sc := range scs {
		for _, f := range sc.unbounded("") {
			bad = append(bad, pattern+" "+f)
		}
	}
	slices.Sort(bad)
	for _, b := range bad {
		t.Errorf("unbounded in docs/openapi.yaml: %s", b)
	}
}

// BadBody is one body a route's schema refuses, and the answer it gets.
type BadBody struct {
	Pattern, Name, Body string
	Key, Field          string // "" Field: none named; "*" Key: any 400
}

// sample is a value s accepts, for the fields a bad body must still carry.
func (s *reqSchema) sample() any {
	switch {
	case len(s.OneOf) > 0:
		return s.OneOf[0].sample()
	case len(s.Enum) > 0:
		return s.Enum[0]
	case s.allows("object") && len(s.Types) > 0:
		m := map[string]any{}
		for k, p := range s.Properties { // every documented field: the Go type must take each
			m[k] = p.sample()
		}
		return m
	case s.allows("array") && len(s.Types) > 0:
		if s.Items == nil {
			return []any{}
		}
		return []any{s.Items.sample()}
	case s.allows("boolean") && len(s.Types) > 0:
		return false
	case (s.allows("integer") || s.allows("number")) && len(s.Types) > 0:
		return 0
	case s.Format == "date-time":
		return "2026-01-01T00:00:00Z"
	}
	return strings.Repeat("a", max(s.MinLength, 1))
}

// badBodies derives, from every request schema in docs/openapi.yaml, the
// bodies the decoder must refuse: null, {}, invalid UTF-8, a lone
// surrogate, each documented string one character over its maxLength (in
// characters: multi-byte ones), each enum field with a value outside it,
// and each required field null.
func badBodies(t testing.TB) []BadBody {
	scs, err := requestSchemas(monban.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	var out []BadBody
	for pattern, sc := range scs {
		add := func(name, body, key, field string) {
			out = append(out, BadBody{Pattern: pattern, Name: name, Body: body, Key: key, Field: field})
		}
		add("null", "null", "request.field_type", "")
		add("invalid UTF-8", "{\"a\":\"\xff\xfe\"}", "request.invalid_utf8", "")
		add("lone surrogate", `{"a":"\ud800"}`, "request.invalid_utf8", "")
		add("a field twice", `{"a":"x","a":"y"}`, "request.duplicate_field", "a")
		if len(sc.OneOf) > 0 {
			add("{}", "{}", "request.field_missing", "*")
			continue
		}
		if len(sc.Required) > 0 {
			add("{}", "{}", "request.field_missing", sc.Required[0])
		}
		valid, _ := sc.sample().(map[string]any)
		with := func(k string, v any) string {
			m := map[string]any{}
			for a, b := range valid {
				m[a] = b
			}
			m[k] = v
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		for _, r := range sc.Required {
			add(r+" null", with(r, nil), "request.field_missing", r)
		}
		for k, p := range sc.Properties {
			if p.MaxLength > 0 {
				key := "request.field_too_long"
				if p.TooLongKey != "" {
					key = p.TooLongKey
				}
				add(k+" too long", with(k, strings.Repeat("あ", p.MaxLength+1)), key, k)
			}
			if len(p.Enum) > 0 {
				add(k+" not in enum", with(k, "not-"+p.Enum[0]), "request.field_enum", k)
			}
		}
	}
	slices.SortFunc(out, func(a, b BadBody) int { return strings.Compare(a.Pattern+a.Name, b.Pattern+b.Name) })
	return out
}

// GoodBody is, for one route, a body its schema accepts: every required
// field with a valid value.
type GoodBody struct{ Pattern, Body string }

func goodBodies(t testing.TB) []GoodBody {
	scs, err := requestSchemas(monban.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	var out []GoodBody
	for pattern, sc := range scs {
		b, err := json.Marshal(sc.sample())
		if err != nil {
			t.Fatal(err)
		}
		if err := sc.check("", sc.sample()); err != nil {
			t.Fatalf("%s: the sample %s does not pass its own schema: %v", pattern, b, err)
		}
		out = append(out, GoodBody{pattern, string(b)})
	}
	slices.SortFunc(out, func(a, b GoodBody) int { return strings.Compare(a.Pattern, b.Pattern) })
	return out
}

// TestSecretDecoderLimitsInCharacters: maxLength counts characters, not
// bytes, as the document and the message say.
func TestSecretDecoderLimitsInCharacters(t *testing.T) {
	scs, err := requestSchemas(monban.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	check := scs["POST /api/v1/check"]
	if check == nil || check.Properties["text"].MaxLength != 20000 {
		t.Fatalf("POST /api/v1/check text: want maxLength 20000 in docs/openapi.yaml")
	}
	for _, c := range []struct {
		name string
		text string
		ok   bool
	}{
		{"20000 three-byte characters", strings.Repeat("あ", 20000), true},
		{"20001 ASCII characters", strings.Repeat("a", 20001), false},
		{"20001 three-byte characters", strings.Repeat("あ", 20001), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := check.check("", map[string]any{"text": c.text})
			if (err == nil) != c.ok {
				t.Errorf("check = %v, want ok %v", err, c.ok)
			}
		})
	}
}

func TestLoneSurrogate(t *testing.T) {
	for _, c := range []struct {
		body string
		want bool
	}{
		{`{"a":"\ud83d\ude00"}`, false}, // a pair: 😀
		{`{"a":"\u00e9"}`, false},
		{`{"a":"\\ud800"}`, false}, // an escaped backslash, then text
		{`{"a":"\ud800"}`, true},
		{`{"a":"\ude00"}`, true},
		{`{"a":"\ud800\u0041"}`, true},
		{`{"a":"\ud800x"}`, true},
	} {
		if got := loneSurrogate([]byte(c.body)); got != c.want {
			t.Errorf("loneSurrogate(%s) = %v, want %v", c.body, got, c.want)
		}
	}
}

func TestDuplicateField(t *testing.T) {
	for _, c := range []struct {
		body, want string
	}{
		{`{"a":1,"b":2}`, ""},
		{`{"a":1,"a":2}`, "a"},
		{`{"a":{"b":1},"c":{"b":2}}`, ""},
		{`{"a":{"b":1,"b":2}}`, "b"},
		{`{"a":["a","a"],"b":"a"}`, ""},
		{`{"a":[{"x":1},{"x":2}],"a":[]}`, "a"},
		{`{"s":"a","a":"s"}`, ""},
		{`[{"a":1},{"a":1}]`, ""},
	} {
		_, err := parseJSON([]byte(c.body))
		e, _ := monban.AsError(err)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("parseJSON(%s) = %v", c.body, err)
		case c.want != "" && (e == nil || e.Key != "request.duplicate_field" || e.Field != c.want):
			t.Errorf("parseJSON(%s) = %v; want %s named twice", c.body, err, c.want)
		}
	}
}
