package delivery

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/monban-dev/monban"
)

// HTTPProviderSignatureHeader carries a status callback's signature.
const HTTPProviderSignatureHeader = "X-Monban-Signature"

const maxCallbackBody = 64 << 10

// SignHTTPProviderCallback returns the X-Monban-Signature value for a
// callback body sent at t: "t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
// "<unix seconds>.<body>")>". Whatever relays a provider's callbacks to
// monban signs them this way; several v1 entries (old and new secret) may
// be given while a secret is rotated.
func SignHTTPProviderCallback(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(callbackMAC(secret, ts, body))
}

func callbackMAC(secret []byte, ts string, body []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(nil)
}

// ParseHTTPProviderCallback reads a signed status callback for the
// provider cfg describes. It fails, and the caller changes nothing, when
// the signature is missing, forged, or more than CallbackTolerance away
// from now; within that window a replay only repeats an idempotent receipt.
func ParseHTTPProviderCallback(r *http.Request, cfg HTTPProviderConfig) (Receipt, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxCallbackBody+1))
	if err != nil {
		return Receipt{}, fmt.Errorf("%s callback: %w", cfg.Name, err)
	}
	if len(body) > maxCallbackBody {
		return Receipt{}, fmt.Errorf("%s callback: body over %d bytes", cfg.Name, maxCallbackBody)
	}
	if err := verifyCallback(cfg, r.Header.Get(HTTPProviderSignatureHeader), body); err != nil {
		return Receipt{}, fmt.Errorf("%s callback: %w", cfg.Name, err)
	}
	fields, err := callbackFields(r.Header.Get("Content-Type"), body)
	if err != nil {
		return Receipt{}, fmt.Errorf("%s callback: %w", cfg.Name, err)
	}
	rc := Receipt{
		Provider:   cfg.Name,
		ProviderID: fields(cmp.Or(cfg.CallbackIDField, "id")),
	}
	if cfg.CallbackMessageIDField != "" {
		rc.MessageID = fields(cfg.CallbackMessageIDField)
	}
	if rc.ProviderID == "" && rc.MessageID == "" {
		return Receipt{}, fmt.Errorf("%s callback: names no message", cfg.Name)
	}
	word := strings.ToLower(strings.TrimSpace(fields(cmp.Or(cfg.CallbackStatusField, "status"))))
	delivered, failed, sent := statusWords(cfg)
	switch {
	case word == "":
		return Receipt{}, fmt.Errorf("%s callback: no status", cfg.Name)
	case containsFold(delivered, word):
		rc.Status = monban.MessageDelivered
	case containsFold(failed, word):
		rc.Status, rc.Reason = monban.MessageFailed, word
		if cfg.CallbackReasonField != "" {
			if detail := strings.TrimSpace(fields(cfg.CallbackReasonField)); detail != "" {
				rc.Reason += ": " + detail
			}
		}
		rc.Reason = clip(rc.Reason, 200)
	case containsFold(sent, word):
		rc.Status = monban.MessageSent
	default:
		return Receipt{}, fmt.Errorf("%s callback: unknown status %q", cfg.Name, clip(word, 40))
	}
	return rc, nil
}

// verifyCallback checks the signature header against the body, in
// constant time, and the timestamp against the clock.
func verifyCallback(cfg HTTPProviderConfig, header string, body []byte) error {
	if len(cfg.CallbackSecret) == 0 {
		return errors.New("no callback secret configured")
	}
	if header == "" {
		return errors.New("unsigned")
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if sig, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, sig)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 || ts != strconv.FormatInt(sec, 10) {
		return errors.New("malformed signature")
	}
	want := callbackMAC(cfg.CallbackSecret, ts, body)
	ok := false
	for _, sig := range sigs {
		ok = hmac.Equal(sig, want) || ok
	}
	if !ok {
		return errors.New("bad signature")
	}
	clock := cfg.Clock
	if clock == nil {
		clock = monban.SystemClock{}
	}
	tolerance := cfg.CallbackTolerance
	if tolerance <= 0 {
		tolerance = 5 * time.Minute
	}
	now := clock.Now().Unix()
	if sec < now-int64(tolerance/time.Second) || sec > now+int64(tolerance/time.Second) {
		return fmt.Errorf("signature from %s, outside ±%s", time.Unix(sec, 0).UTC().Format(time.RFC3339), tolerance)
	}
	return nil
}

// callbackFields returns a lookup over a JSON or form body.
func callbackFields(contentType string, body []byte) (func(string) string, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/json" || strings.HasSuffix(mt, "+json") {
		var v any
		if err := decodeJSON(body, &v); err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
		return func(path string) string { s, _ := jsonString(v, path); return s }, nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	return form.Get, nil
}

// statusWords are the configured words, or the defaults for the channel
// (Twilio's words, which most providers share).
func statusWords(cfg HTTPProviderConfig) (delivered, failed, sent []string) {
	delivered, failed, sent = cfg.DeliveredStatuses, cfg.FailedStatuses, cfg.SentStatuses
	if cfg.Channel == monban.ChannelVoice {
		delivered = orWords(delivered, "completed", "answered")
		failed = orWords(failed, "busy", "no-answer", "failed", "canceled")
		sent = orWords(sent, "queued", "initiated", "ringing", "in-progress")
		return
	}
	delivered = orWords(delivered, "delivered")
	failed = orWords(failed, "failed", "undelivered", "rejected", "expired")
	sent = orWords(sent, "accepted", "queued", "sending", "sent", "buffered")
	return
}

func orWords(words []string, defaults ...string) []string {
	if len(words) > 0 {
		return words
	}
	return defaults
}

func containsFold(words []string, w string) bool {
	for _, x := range words {
		if strings.EqualFold(x, w) {
			return true
		}
	}
	return false
}
