package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/monban-dev/monban"
)

// apiIntrospect is the host app's session check. It is the hottest path,
// so it writes its small response by hand instead of through reflection.
func (s *Server) apiIntrospect(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.hostKey(r); err != nil {
		return err
	}
	var req struct {
		Token string `json:"token"`
	}
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Token == "" {
		return monban.Errorf(monban.EInvalid, "request.token_required").WithField("token")
	}
	who, err := s.accounts.WhoAmI(r.Context(), req.Token)
	if monban.ErrorCodeOf(err) == monban.EUnauthorized {
		// An inactive token is an answer, not an error (as in RFC 7662).
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, err = w.Write([]byte(`{"active":false}` + "\n"))
		return err
	}
	if err != nil {
		return err
	}
	b := make([]byte, 0, 512)
	b = append(b, `{"active":true,"account_id":`...)
	b = strconv.AppendQuote(b, who.AccountID)
	b = append(b, `,"session_id":`...)
	b = strconv.AppendQuote(b, who.SessionID)
	b = append(b, `,"device_id":`...)
	b = strconv.AppendQuote(b, who.DeviceID)
	b = append(b, `,"auth_level":`...)
	b = strconv.AppendInt(b, int64(who.AuthLevel), 10)
	b = append(b, `,"methods":`...)
	m, _ := json.Marshal(who.Methods)
	b = append(b, m...)
	b = append(b, `,"expires_at":"`...)
	b = who.ExpiresAt.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, `","identifiers":[`...)
	for i, id := range who.Identifiers {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"kind":`...)
		b = strconv.AppendQuote(b, string(id.Kind))
		b = append(b, `,"value":`...)
		b = strconv.AppendQuote(b, id.Value)
		b = append(b, `,"verified":`...)
		b = strconv.AppendBool(b, id.Verified)
		b = append(b, '}')
	}
	b = append(b, ']')
	b = appendLock(b, who.Lock)
	b = append(b, "}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(b)
	return err
}

// appendLock adds what a host app is told of a lock: that there is one,
// its category and until when (never the rule).
func appendLock(b []byte, l *monban.Lock) []byte {
	if l == nil {
		return append(b, `,"locked":false`...)
	}
	b = append(b, `,"locked":true,"lock":{"kind":`...)
	b = strconv.AppendQuote(b, string(l.Kind))
	b = append(b, `,"category":`...)
	b = strconv.AppendQuote(b, l.Category)
	b = append(b, `,"until":`...)
	if l.ExpiresAt.IsZero() {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendQuote(b, l.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return append(b, '}')
}
