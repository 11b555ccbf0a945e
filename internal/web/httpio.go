package web

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

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

// decodeJSON reads a bounded JSON object into dst, refusing other content
// types, unknown fields and trailing data.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return monban.Errorf(monban.EUnsupportedMedia, "request.content_type")
	}
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var mbe *http.MaxBytesError
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return errBody(err)
		case errors.As(err, &ute):
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

// fieldLimit refuses over-long text fields before any work is done.
func fieldLimit(name, v string, max int) error {
	if len(v) > max {
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
