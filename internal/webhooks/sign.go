package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Headers of a webhook request.
const (
	HeaderID        = "Monban-Webhook-Id"        // the event id: deduplicate on it
	HeaderTimestamp = "Monban-Webhook-Timestamp" // unix seconds of this attempt
	HeaderSignature = "Monban-Webhook-Signature" // "v1=<hex HMAC-SHA256>"
)

// ReplayWindow is how old (or how far in the future) a timestamp may be
// for Verify to accept it.
const ReplayWindow = 5 * time.Minute

// Sign returns the signature header value for one attempt: HMAC-SHA256
// with secret over "<id>.<unix timestamp>.<body>".
func Sign(secret []byte, id string, ts time.Time, body []byte) string {
	return "v1=" + hex.EncodeToString(mac(secret, id, strconv.FormatInt(ts.Unix(), 10), body))
}

func mac(secret []byte, id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("webhooks: signature does not match")
	ErrStale        = errors.New("webhooks: timestamp outside the replay window")
)

// Verify checks a received webhook as a host app should: the signature over
// id, timestamp and body, and a timestamp within window of now. It does
// not deduplicate: keep the ids seen within the window and drop repeats.
func Verify(secret []byte, id, timestamp, signature string, body []byte, now time.Time, window time.Duration) error {
	secs, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	want := mac(secret, id, timestamp, body)
	ok := false
	for _, part := range strings.Split(signature, ",") {
		v, found := strings.CutPrefix(strings.TrimSpace(part), "v1=")
		got, err := hex.DecodeString(v)
		if found && err == nil && hmac.Equal(got, want) {
			ok = true
		}
	}
	if !ok {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(secs, 0)); d > window || d < -window {
		return ErrStale
	}
	return nil
}
