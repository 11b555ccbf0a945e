package delivery

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/monban-dev/monban"
)

// KannelProvider is the provider name of SMS sent through Kannel.
const KannelProvider = "kannel"

// KannelDLRPath is the path, below DLRBaseURL, where monban takes Kannel's
// delivery reports.
const KannelDLRPath = "/hooks/kannel/dlr"

// Kannel delivery-report types (the dlr-mask bits; Kannel calls the dlr-url
// once per event, with one bit in %d).
const (
	kannelDelivered  = 1  // delivered to the phone (final)
	kannelFailed     = 2  // not delivered to the phone (final)
	kannelBuffered   = 4  // queued on the SMSC
	kannelSMSCAck    = 8  // accepted by the SMSC
	kannelSMSCReject = 16 // rejected by the SMSC (final)
	kannelDLRMask    = kannelDelivered | kannelFailed | kannelBuffered | kannelSMSCAck | kannelSMSCReject
)

// Kannel number formats for the "to" parameter.
const (
	// KannelNumberPlus sends "+819012345678". Kannel passes the number on
	// as is; its SMPP driver strips the "+" and sets TON=international,
	// which is what an SMSC needs to route a number without guessing.
	KannelNumberPlus = "plus"
	// KannelNumber00 sends "00819012345678", for SMSCs configured to read
	// the international prefix.
	KannelNumber00 = "00"
	// KannelNumberDigits sends "819012345678", for SMSCs with a forced
	// dest-addr-ton = 1 in kannel.conf.
	KannelNumberDigits = "digits"
)

// KannelConfig says how to reach Kannel's smsbox. The sendsms-user in
// kannel.conf needs max-messages above 1 and concatenation = true, or smsbox
// cuts a Japanese text after one 70-character part.
type KannelConfig struct {
	SendSMSURL string // e.g. http://127.0.0.1:13013/cgi-bin/sendsms
	Username   string // a sendsms-user
	Password   string
	From       string // sender id; "" lets smsbox use its global-sender
	// DLRBaseURL is monban's public base URL as Kannel reaches it, e.g.
	// https://monban.example; reports come to DLRBaseURL + KannelDLRPath.
	DLRBaseURL string
	SMSC       string // optional smsc-id to route through
	// NumberFormat is how E.164 numbers are written in "to":
	// KannelNumberPlus (default), KannelNumber00 or KannelNumberDigits.
	NumberFormat string
	Timeout      time.Duration // per request; default 10 s
	Clock        monban.Clock  // for the validity period; default the wall clock
}

// Kannel sends SMS through Kannel's HTTP sendsms interface and asks for
// delivery reports on a signed dlr-url.
type Kannel struct {
	cfg    KannelConfig
	secret []byte
	client *http.Client
}

var _ Sender = (*Kannel)(nil)

// NewKannel returns a Kannel sender. secret keys the signature carried in
// each dlr-url; it must be the one given to ParseKannelDLR.
func NewKannel(cfg KannelConfig, secret []byte) *Kannel {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = monban.SystemClock{}
	}
	return &Kannel{
		cfg:    cfg,
		secret: append([]byte(nil), secret...),
		client: &http.Client{Timeout: cfg.Timeout, CheckRedirect: noRedirects},
	}
}

// Provider names the provider.
func (k *Kannel) Provider() string { return KannelProvider }

// Send hands the SMS to smsbox. Kannel has no message id of its own to give
// back, so the provider id is monban's message id, which the dlr-url carries.
func (k *Kannel) Send(ctx context.Context, out *Outgoing) (string, error) {
	m := out.Message
	if m == nil || m.ID == "" {
		return "", Permanent("no message", errors.New("kannel: outgoing without a message id"))
	}
	if m.Channel != "" && m.Channel != monban.ChannelSMS {
		return "", Permanent("not an SMS", fmt.Errorf("kannel: channel %q", m.Channel))
	}
	if len(k.secret) == 0 {
		// A configuration fault: kept temporary so the message waits for a
		// fixed configuration instead of failing.
		return "", errors.New("kannel: no DLR secret configured")
	}
	to, err := kannelNumber(m.Destination, k.cfg.NumberFormat)
	if errors.Is(err, errKannelFormat) {
		return "", err // configuration: temporary, so the message waits for a fix
	} else if err != nil {
		return "", Permanent("invalid number", err)
	}
	u, err := url.Parse(k.cfg.SendSMSURL)
	if err != nil {
		return "", fmt.Errorf("kannel: sendsms url: %w", err)
	}
	u.RawQuery = k.query(m, to, out.Text).Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("kannel: %w", err)
	}
	resp, err := k.client.Do(req)
	if err != nil {
		// Connection refused, reset, timeout: smsbox may come back.
		return "", fmt.Errorf("kannel: sendsms: %w", withoutQuery(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return m.ID, classifyKannel(resp.StatusCode, strings.TrimSpace(string(body)))
}

func (k *Kannel) query(m *monban.Message, to, text string) url.Values {
	q := url.Values{}
	q.Set("username", k.cfg.Username)
	q.Set("password", k.cfg.Password)
	q.Set("to", to)
	if k.cfg.From != "" {
		q.Set("from", k.cfg.From)
	}
	if k.cfg.SMSC != "" {
		q.Set("smsc", k.cfg.SMSC)
	}
	q.Set("text", text)
	q.Set("charset", "UTF-8")
	if !gsmSafe(text) {
		q.Set("coding", "2") // UCS-2: Japanese needs it; Kannel converts from UTF-8
	}
	if !m.ExpiresAt.IsZero() {
		// Let the SMSC stop retrying once the code is useless (minutes).
		mins := int(m.ExpiresAt.Sub(k.cfg.Clock.Now()).Minutes())
		q.Set("validity", strconv.Itoa(max(mins, 1)))
	}
	q.Set("dlr-mask", strconv.Itoa(kannelDLRMask))
	q.Set("dlr-url", k.dlrURL(m.ID))
	return q
}

// dlrURL is the report URL for one message. %d and %A are left for Kannel
// to fill with the report type and the SMSC's reply; url.Values escapes the
// whole URL once more, so Kannel receives it with the % signs intact.
func (k *Kannel) dlrURL(messageID string) string {
	return strings.TrimRight(k.cfg.DLRBaseURL, "/") + KannelDLRPath +
		"?msg=" + url.QueryEscape(messageID) +
		"&sig=" + kannelSignature(k.secret, messageID) +
		"&type=%d&reply=%A"
}

// kannelSignature binds a dlr-url to one message. Kannel fills in the type
// itself, so only the message id can be signed: whoever can read the
// dlr-url (Kannel, the path between it and monban) can report on that one
// message, and nobody else can report on any.
func kannelSignature(secret []byte, messageID string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("monban kannel dlr\x00"))
	mac.Write([]byte(messageID))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// classifyKannel turns smsbox's answer into nil, a temporary or a permanent
// error. smsbox answers 202 with "0: Accepted for delivery" or "3: Queued
// for later delivery", 403 "Authorization failed for sendsms", 400 for
// missing or refused numbers, and 503 when bearerbox is unreachable.
func classifyKannel(status int, body string) error {
	switch {
	case status >= 200 && status < 300:
		if strings.HasPrefix(body, "0:") || strings.HasPrefix(body, "3:") || body == "Sent." {
			return nil
		}
		// Not an answer we know: it may or may not have gone out.
		return fmt.Errorf("kannel: unexpected answer %d %q", status, clip(body, 200))
	case status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
		reason := clip(body, 200)
		if reason == "" {
			reason = http.StatusText(status)
		}
		return Permanent(reason, fmt.Errorf("kannel: sendsms answered %d", status))
	default:
		return fmt.Errorf("kannel: sendsms answered %d %q", status, clip(body, 200))
	}
}

var errKannelFormat = errors.New("kannel: unknown number format")

// kannelNumber writes an E.164 number as the configured format wants.
func kannelNumber(e164, format string) (string, error) {
	digits, ok := strings.CutPrefix(e164, "+")
	if !ok || len(digits) < 4 || len(digits) > 15 || strings.Trim(digits, "0123456789") != "" {
		return "", fmt.Errorf("kannel: %q is not an E.164 number", e164)
	}
	switch format {
	case "", KannelNumberPlus:
		return "+" + digits, nil
	case KannelNumber00:
		return "00" + digits, nil
	case KannelNumberDigits:
		return digits, nil
	}
	return "", fmt.Errorf("%w %q", errKannelFormat, format)
}

// gsmSafe reports whether text fits the GSM 7-bit default alphabet well
// enough to send uncoded (160 characters a part instead of 70). Only plain
// printable ASCII qualifies, less the characters GSM lacks or escapes.
func gsmSafe(text string) bool {
	for _, r := range text {
		if r == '\n' || r == '\r' {
			continue
		}
		if r < 0x20 || r > 0x7e || strings.ContainsRune("`[]{}\\^~|$_", r) {
			return false
		}
	}
	return true
}

// ParseKannelDLR reads one of Kannel's delivery reports for a message sent
// by Kannel.Send. It fails, changing nothing, unless the signature matches
// the message; a replayed report is harmless since receipts are idempotent.
func ParseKannelDLR(r *http.Request, secret []byte) (Receipt, error) {
	q := r.URL.Query()
	id, sig := q.Get("msg"), q.Get("sig")
	if len(secret) == 0 {
		return Receipt{}, errors.New("kannel dlr: no secret configured")
	}
	if id == "" || sig == "" {
		return Receipt{}, errors.New("kannel dlr: unsigned report")
	}
	if !hmac.Equal([]byte(sig), []byte(kannelSignature(secret, id))) {
		return Receipt{}, errors.New("kannel dlr: bad signature")
	}
	typ, err := strconv.Atoi(q.Get("type"))
	if err != nil {
		return Receipt{}, fmt.Errorf("kannel dlr: type %q", clip(q.Get("type"), 20))
	}
	rc := Receipt{Provider: KannelProvider, ProviderID: id, MessageID: id}
	reply := clip(strings.TrimSpace(q.Get("reply")), 200)
	switch typ {
	case kannelDelivered:
		rc.Status = monban.MessageDelivered
	case kannelFailed:
		rc.Status, rc.Reason = monban.MessageFailed, cmp.Or(reply, "not delivered to the phone")
	case kannelSMSCReject:
		rc.Status, rc.Reason = monban.MessageFailed, "rejected by the SMSC"
		if reply != "" {
			rc.Reason += ": " + reply
		}
	case kannelBuffered, kannelSMSCAck:
		rc.Status = monban.MessageSent
	default:
		return Receipt{}, fmt.Errorf("kannel dlr: unknown type %d", typ)
	}
	return rc, nil
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// clip shortens s to at most n bytes without splitting a character.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// withoutQuery drops the query, which holds the sendsms password, from the
// URL that net/http puts in its errors.
func withoutQuery(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil {
		return &url.Error{Op: ue.Op, URL: "(sendsms url)", Err: ue.Err}
	}
	u.RawQuery, u.User = "", nil
	return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
