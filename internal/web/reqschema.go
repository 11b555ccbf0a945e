package web

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/monban-dev/monban"
)

// reqSchema is the part of a JSON Schema (as docs/openapi.yaml writes the
// request bodies) that the decoder enforces. The document is the one
// declaration of every request's fields, required ones, lengths and enums:
// the decoder reads it, so the two cannot drift.
type reqSchema struct {
	Types      []string // "object", "string", …; "null" only when allowed
	Properties map[string]*reqSchema
	Required   []string
	MaxLength  int    // characters (runes); 0: none
	MinLength  int    // not enforced here (the rules that own the field say more, e.g. password.too_short); for tests' samples
	Format     string // e.g. "date-time"; for tests' samples
	TooLongKey string // the message for a string over MaxLength (x-too-long-key), if not the generic one
	Enum       []string
	Items      *reqSchema
	MinItems   int
	MaxItems   int // 0: none
	OneOf      []*reqSchema
}

// requestSchemas compiles the request body schema of every operation in the
// OpenAPI document, keyed by route pattern ("POST /api/v1/accounts").
func requestSchemas(doc []byte) (map[string]*reqSchema, error) {
	var root map[string]any
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	comps, _ := root["components"].(map[string]any)
	named, _ := comps["schemas"].(map[string]any)
	out := map[string]*reqSchema{}
	paths, _ := root["paths"].(map[string]any)
	for path, ops := range paths {
		opm, _ := ops.(map[string]any)
		for method, op := range opm {
			o, ok := op.(map[string]any)
			if !ok {
				continue
			}
			rb, _ := o["requestBody"].(map[string]any)
			content, _ := rb["content"].(map[string]any)
			js, _ := content["application/json"].(map[string]any)
			raw, ok := js["schema"]
			if !ok {
				continue
			}
			sc, err := compileSchema(raw, named, 0)
			if err != nil {
				return nil, fmt.Errorf("openapi %s %s: %w", method, path, err)
			}
			out[strings.ToUpper(method)+" "+path] = sc
		}
	}
	return out, nil
}

func compileSchema(raw any, named map[string]any, depth int) (*reqSchema, error) {
	if depth > 16 {
		return nil, fmt.Errorf("schema nested too deeply")
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("schema is not a map")
	}
	if ref, ok := m["$ref"].(string); ok {
		name, ok := strings.CutPrefix(ref, "#/components/schemas/")
		if !ok || named[name] == nil {
			return nil, fmt.Errorf("unresolved %s", ref)
		}
		return compileSchema(named[name], named, depth+1)
	}
	s := &reqSchema{}
	switch t := m["type"].(type) {
	case string:
		s.Types = []string{t}
	case []any:
		for _, x := range t {
			s.Types = append(s.Types, fmt.Sprint(x))
		}
	}
	if props, ok := m["properties"].(map[string]any); ok {
		s.Properties = map[string]*reqSchema{}
		for name, p := range props {
			ps, err := compileSchema(p, named, depth+1)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			s.Properties[name] = ps
		}
	}
	for _, r := range asList(m["required"]) {
		s.Required = append(s.Required, fmt.Sprint(r))
	}
	slices.Sort(s.Required)
	for _, e := range asList(m["enum"]) {
		s.Enum = append(s.Enum, fmt.Sprint(e))
	}
	s.MaxLength = asInt(m["maxLength"])
	s.MinLength = asInt(m["minLength"])
	s.Format, _ = m["format"].(string)
	s.TooLongKey, _ = m["x-too-long-key"].(string)
	s.MinItems = asInt(m["minItems"])
	s.MaxItems = asInt(m["maxItems"])
	if it, ok := m["items"]; ok {
		is, err := compileSchema(it, named, depth+1)
		if err != nil {
			return nil, fmt.Errorf("items: %w", err)
		}
		s.Items = is
	}
	for _, alt := range asList(m["oneOf"]) {
		as, err := compileSchema(alt, named, depth+1)
		if err != nil {
			return nil, fmt.Errorf("oneOf: %w", err)
		}
		s.OneOf = append(s.OneOf, as)
	}
	return s, nil
}

func asList(v any) []any { l, _ := v.([]any); return l }

func asInt(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case float64:
		return int(n)
	}
	return 0
}

func (s *reqSchema) allows(t string) bool {
	return len(s.Types) == 0 || slices.Contains(s.Types, t) || (t == "integer" && slices.Contains(s.Types, "number"))
}

// check validates a decoded JSON value (numbers as json.Number) against s.
// field is the path of v in the body, "" for the body itself.
func (s *reqSchema) check(field string, v any) error {
	if len(s.OneOf) > 0 {
		var first error
		for _, alt := range s.OneOf {
			err := alt.check(field, v)
			if err == nil {
				return nil
			}
			if first == nil || alt.fits(v) {
				first = err
			}
		}
		return first
	}
	switch x := v.(type) {
	case nil:
		if s.allows("null") && len(s.Types) > 0 {
			return nil
		}
		if field == "" {
			return errFieldType("")
		}
		return errFieldMissing(field)
	case string:
		if !s.allows("string") {
			return errFieldType(field)
		}
		if n := utf8.RuneCountInString(x); s.MaxLength > 0 && n > s.MaxLength {
			if s.TooLongKey != "" {
				return monban.Errorf(monban.EInvalid, s.TooLongKey).WithField(field).WithParams(map[string]any{"max": s.MaxLength})
			}
			return errFieldTooLong(field, s.MaxLength)
		}
		if len(s.Enum) > 0 && !slices.Contains(s.Enum, x) {
			return monban.Errorf(monban.EInvalid, "request.field_enum").WithField(field).
				WithParams(map[string]any{"field": field, "allowed": strings.Join(s.Enum, ", ")})
		}
	case bool:
		if !s.allows("boolean") {
			return errFieldType(field)
		}
	case json.Number:
		t := "number"
		if _, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			t = "integer"
		}
		if !s.allows(t) {
			return errFieldType(field)
		}
	case []any:
		if !s.allows("array") {
			return errFieldType(field)
		}
		if s.MaxItems > 0 && len(x) > s.MaxItems {
			return monban.Errorf(monban.EInvalid, "request.too_many_items").WithField(field).
				WithParams(map[string]any{"field": field, "max": s.MaxItems})
		}
		if len(x) < s.MinItems {
			return errFieldMissing(field)
		}
		if s.Items != nil {
			for i, it := range x {
				if err := s.Items.check(field+"["+strconv.Itoa(i)+"]", it); err != nil {
					return err
				}
			}
		}
	case map[string]any:
		if !s.allows("object") {
			return errFieldType(field)
		}
		return s.checkObject(field, x)
	}
	return nil
}

func (s *reqSchema) checkObject(field string, x map[string]any) error {
	prefix := ""
	if field != "" {
		prefix = field + "."
	}
	names := make([]string, 0, len(x))
	for k := range x {
		names = append(names, k)
	}
	slices.Sort(names)       // the same body always names the same field
	if s.Properties != nil { // nil: a free-form object (e.g. a WebAuthn credential)
		for _, k := range names {
			if _, ok := s.Properties[k]; !ok {
				f := prefix + k
				return monban.Errorf(monban.EInvalid, "request.unknown_field").WithField(f).WithParams(map[string]any{"field": f})
			}
		}
	}
	for _, r := range s.Required {
		if v, ok := x[r]; !ok || v == nil {
			return errFieldMissing(prefix + r)
		}
	}
	for _, k := range names {
		if x[k] == "" && !slices.Contains(s.Required, k) {
			continue // an empty optional string means "not given"
		}
		if ps := s.Properties[k]; ps != nil {
			if err := ps.check(prefix+k, x[k]); err != nil {
				return err
			}
		}
	}
	return nil
}

// fits reports whether v has the shape of s (its type and required fields),
// so that the error of the alternative the caller meant is the one shown.
func (s *reqSchema) fits(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for _, r := range s.Required {
		if _, ok := m[r]; !ok {
			return false
		}
	}
	return true
}

// fieldNames lists the JSON names a decoder target accepts, or nil when it
// is not a struct (a map takes any name).
func fieldNames(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Tag.Get("json") == "" {
			out = append(out, fieldNames(f.Type)...)
			continue
		}
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// drift names the documented fields a Go request type cannot take (the
// decoder would refuse them as unknown), or "" when it takes them all.
// Fields the Go type takes beyond the document are refused by the schema
// before the Go type sees them (a handler may share one struct between
// several routes).
func (s *reqSchema) drift(t reflect.Type) string {
	goNames := fieldNames(t)
	if goNames == nil || len(s.OneOf) > 0 || s.Properties == nil {
		return ""
	}
	var missing []string
	for k := range s.Properties {
		if !slices.Contains(goNames, k) {
			missing = append(missing, k)
		}
	}
	slices.Sort(missing)
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("docs/openapi.yaml documents %v, which the Go type does not take", missing)
}

func errFieldType(field string) error {
	e := monban.Errorf(monban.EInvalid, "request.field_type")
	if field != "" {
		e = e.WithField(field)
	}
	return e
}

func errFieldMissing(field string) error {
	return monban.Errorf(monban.EInvalid, "request.field_missing").WithField(field).WithParams(map[string]any{"field": field})
}

func errFieldTooLong(field string, max int) error {
	return monban.Errorf(monban.EInvalid, "request.field_too_long").WithField(field).WithParams(map[string]any{"field": field, "max": max})
}
