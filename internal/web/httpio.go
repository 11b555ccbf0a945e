package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/monban-dev/monban"
)

func errNotFound() error { return monban.Errorf(monban.ENotFound, "error.not_found") }
func errMethod() error   { return monban.Errorf(monban.EMethod, "error.method") }

func joinComma(xs []string) string { return strings.Join(xs, ", ") }

// errBody explains why a request body could not be read.
func errBody(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return monban.Errorf(monban.ETooLarge, "request.too_large").WithParams(map[string]any{"max_kib": mbe.Limit >> 10}).Wrap(err)
	}
	return monban.Errorf(monban.EInvalid, "request.malformed").Wrap(err)
}

// decodeJSON reads the route's JSON body into dst. It is the one place a
// JSON body is read: the body is checked against the route's request
// schema in docs/openapi.yaml (see checkedBody), by apiHandler before the
// handler runs, so nothing is looked up, spent or recorded for a body that
// will be refused.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	b, ok := r.Context().Value(bodyKey).([]byte)
	if !ok {
		var err error
		if b, err = s.checkedBody(w, r); err != nil {
			return err
		}
	}
	d, ok := s.drift.Load(r.Pattern)
	if !ok {
		d, _ = s.drift.LoadOrStore(r.Pattern, s.schemas[r.Pattern].drift(reflect.TypeOf(dst)))
	}
	if d.(string) != "" {
		return monban.Internalf("decodeJSON: %s: %s", r.Pattern, d)
	}
	return decodeStrict(b, dst, true)
}

// checkedBody reads a bounded JSON body and refuses what cannot be
// trusted: other content types, invalid UTF-8 (raw or as a lone surrogate
// escape, which encoding/json would turn into U+FFFD), trailing data, and
// anything the route's request schema does not allow (a null body, a
// missing or null required field, an unknown field, a string longer in
// characters than its maxLength, a value outside its enum). A route
// without a schema fails closed: a JSON route cannot ship undocumented.
func (s *Server) checkedBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return nil, monban.Errorf(monban.EUnsupportedMedia, "request.content_type")
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		return nil, errBody(err)
	}
	if !utf8.Valid(b) || loneSurrogate(b) {
		return nil, monban.Errorf(monban.EInvalid, "request.invalid_utf8")
	}
	sc := s.schemas[r.Pattern]
	if sc == nil {
		return nil, monban.Internalf("decodeJSON: %q has no request schema in docs/openapi.yaml", r.Pattern)
	}
	v, err := parseJSON(b)
	if err != nil {
		return nil, err
	}
	if err := sc.check("", v); err != nil {
		return nil, err
	}
	return b, nil
}

// decodeStrict decodes exactly one JSON value from b into dst.
func decodeStrict(b []byte, dst any, known bool) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if known {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(dst); err != nil {
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &ute):
			if ute.Field == "" {
				return monban.Errorf(monban.EInvalid, "request.field_type").Wrap(err)
			}
			return monban.Errorf(monban.EInvalid, "request.field_type").WithField(ute.Field).Wrap(err)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return monban.Errorf(monban.EInvalid, "request.unknown_field").WithField(f).WithParams(map[string]any{"field": f}).Wrap(err)
		}
		return monban.Errorf(monban.EInvalid, "request.malformed_json").Wrap(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return monban.Errorf(monban.EInvalid, "request.malformed_json")
	}
	return nil
}

// parseJSON reads exactly one JSON value (numbers as json.Number) in one
// pass, refusing a name given twice in one object: encoding/json keeps the
// last, a proxy or a WAF in front may read the first.
func parseJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := parseValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, monban.Errorf(monban.EInvalid, "request.malformed_json")
	}
	return v, nil
}

func parseValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, monban.Errorf(monban.EInvalid, "request.malformed_json").Wrap(err)
	}
	switch tok {
	case json.Delim('{'):
		m := map[string]any{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, monban.Errorf(monban.EInvalid, "request.malformed_json").Wrap(err)
			}
			name, _ := k.(string)
			if _, dup := m[name]; dup {
				return nil, monban.Errorf(monban.EInvalid, "request.duplicate_field").WithField(name).WithParams(map[string]any{"field": name})
			}
			if m[name], err = parseValue(dec); err != nil {
				return nil, err
			}
		}
		return m, closeDelim(dec)
	case json.Delim('['):
		l := []any{}
		for dec.More() {
			v, err := parseValue(dec)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, closeDelim(dec)
	}
	return tok, nil
}

// closeDelim reads the '}' or ']' that ends an object or array.
func closeDelim(dec *json.Decoder) error {
	if _, err := dec.Token(); err != nil {
		return monban.Errorf(monban.EInvalid, "request.malformed_json").Wrap(err)
	}
	return nil
}

// loneSurrogate reports whether a JSON text escapes half of a UTF-16
// surrogate pair (\ud800 alone), which encoding/json would silently turn
// into U+FFFD. Backslashes occur only inside strings in valid JSON, so a
// plain scan suffices; invalid JSON is refused by the decoder anyway.
func loneSurrogate(b []byte) bool {
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16)
		return rune(n), err == nil
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		r, ok := hex4(i)
		if !ok {
			i++ // an escape like \" or \\: skip the escaped byte
			continue
		}
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		case r >= 0xD800 && r <= 0xDBFF:
			lo, ok := hex4(i + 6)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 11
		default:
			i += 5
		}
	}
	return false
}

// fieldLimit refuses over-long text fields before any work is done. Lengths
// are in characters, as the pages and the API documentation say.
func fieldLimit(name, v string, max int) error {
	if utf8.RuneCountInString(v) > max {
		return monban.Errorf(monban.EInvalid, "request.field_too_long").WithField(name).WithParams(map[string]any{"field": name, "max": max})
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}
