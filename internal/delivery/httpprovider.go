package delivery

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/identifier"
)

// HTTPProviderConfig describes one SMS or voice provider's HTTP API as
// data, so a Twilio-style form post and a Japanese provider's JSON API are
// both a configuration, not code.
//
// Header values and Body fields are text/template texts over
// {{.To}} (E.164), {{.ToNational}} (e.g. 09012345678), {{.Text}},
// {{.MessageID}}, {{.IdempotencyKey}} and {{.StatusCallbackURL}}, with the
// function xml to escape text placed inside XML (e.g. TwiML).
type HTTPProviderConfig struct {
	Name    string         // names the provider in receipts and in /hooks/provider/{name}/status
	Channel monban.Channel // ChannelSMS or ChannelVoice
	Method  string         // default POST
	URL     string
	Headers map[string]string
	// BodyFormat is "form" (application/x-www-form-urlencoded, the
	// default) or "json". In JSON a dotted field such as "message.text"
	// nests objects.
	BodyFormat        string
	Body              map[string]string
	BasicAuthUser     string
	BasicAuthPassword string
	// IDFrom is the path of the provider's message id in the JSON answer,
	// e.g. "sid" or "result.message_id" ("messages.0.id" indexes arrays).
	// Empty means the provider gives none and echoes monban's message id in
	// its callbacks instead.
	IDFrom string
	// ErrorFrom is the path of the error text in a refused request's JSON
	// answer; empty tries "message", "error.message", "error", "detail"…
	ErrorFrom string
	// IdempotencyHeader carries Outgoing.IdempotencyKey, e.g.
	// "Idempotency-Key", for providers that deduplicate retries.
	IdempotencyHeader string
	Timeout           time.Duration // per request; default 10 s

	// Status callbacks, to CallbackBaseURL + /hooks/provider/{Name}/status,
	// signed as SignHTTPProviderCallback describes.
	CallbackSecret    []byte
	CallbackBaseURL   string
	CallbackTolerance time.Duration // how old or early a signature may be; default 5 minutes
	// Paths in the callback body (JSON, or form field names).
	CallbackIDField        string // the provider's id; default "id"
	CallbackMessageIDField string // monban's message id, when the provider echoes it
	CallbackStatusField    string // default "status"
	CallbackReasonField    string // failure detail, e.g. an error code
	// Status words (case-insensitive). Empty lists take defaults for the
	// channel, e.g. delivered/failed,undelivered for SMS and
	// completed/busy,no-answer for voice.
	DeliveredStatuses []string
	FailedStatuses    []string
	SentStatuses      []string

	Clock monban.Clock // default the wall clock
}

// HTTPProvider sends SMS or voice calls through a configured HTTP API.
type HTTPProvider struct {
	cfg     HTTPProviderConfig
	headers map[string]*template.Template
	body    map[string]*template.Template
	client  *http.Client
}

var _ Sender = (*HTTPProvider)(nil)

// httpTemplateData is what header and body templates see.
type httpTemplateData struct {
	To                string
	ToNational        string
	Text              string
	MessageID         string
	IdempotencyKey    string
	StatusCallbackURL string
}

var providerName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

var templateFuncs = template.FuncMap{"xml": xmlEscape}

// NewHTTPProvider checks cfg and parses its templates.
func NewHTTPProvider(cfg HTTPProviderConfig) (*HTTPProvider, error) {
	if !providerName.MatchString(cfg.Name) {
		return nil, fmt.Errorf("http provider: name %q: want lower-case letters, digits, - and _", cfg.Name)
	}
	if cfg.Channel != monban.ChannelSMS && cfg.Channel != monban.ChannelVoice {
		return nil, fmt.Errorf("http provider %s: channel %q: want sms or voice", cfg.Name, cfg.Channel)
	}
	if u, err := url.Parse(cfg.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("http provider %s: url %q: want an http(s) URL", cfg.Name, cfg.URL)
	}
	cfg.Method = strings.ToUpper(cmp.Or(cfg.Method, http.MethodPost))
	cfg.BodyFormat = cmp.Or(cfg.BodyFormat, "form")
	if cfg.BodyFormat != "form" && cfg.BodyFormat != "json" {
		return nil, fmt.Errorf("http provider %s: body format %q: want form or json", cfg.Name, cfg.BodyFormat)
	}
	if cfg.CallbackBaseURL != "" && len(cfg.CallbackSecret) < 16 {
		return nil, fmt.Errorf("http provider %s: a callback URL needs a callback secret of 16 bytes or more", cfg.Name)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	p := &HTTPProvider{cfg: cfg, client: &http.Client{Timeout: cfg.Timeout, CheckRedirect: noRedirects}}
	var err error
	if p.headers, err = parseTemplates(cfg.Name, "header", cfg.Headers); err != nil {
		return nil, err
	}
	if p.body, err = parseTemplates(cfg.Name, "body", cfg.Body); err != nil {
		return nil, err
	}
	return p, nil
}

func parseTemplates(provider, kind string, texts map[string]string) (map[string]*template.Template, error) {
	out := make(map[string]*template.Template, len(texts))
	for name, text := range texts {
		t, err := template.New(kind + " " + name).Funcs(templateFuncs).Option("missingkey=error").Parse(text)
		if err != nil {
			return nil, fmt.Errorf("http provider %s: %s %s: %w", provider, kind, name, err)
		}
		out[name] = t
	}
	return out, nil
}

// Provider names the provider.
func (p *HTTPProvider) Provider() string { return p.cfg.Name }

// StatusCallbackURL is where this provider should post status changes.
func (p *HTTPProvider) StatusCallbackURL() string {
	if p.cfg.CallbackBaseURL == "" {
		return ""
	}
	return strings.TrimRight(p.cfg.CallbackBaseURL, "/") + "/hooks/provider/" + p.cfg.Name + "/status"
}

// Send makes the configured request and reads the provider's id from the
// answer.
func (p *HTTPProvider) Send(ctx context.Context, out *Outgoing) (string, error) {
	m := out.Message
	if m == nil || m.ID == "" {
		return "", Permanent("no message", fmt.Errorf("%s: outgoing without a message id", p.cfg.Name))
	}
	if m.Channel != "" && m.Channel != p.cfg.Channel {
		return "", Permanent("wrong channel", fmt.Errorf("%s: sends %s, not %s", p.cfg.Name, p.cfg.Channel, m.Channel))
	}
	if !strings.HasPrefix(m.Destination, "+") {
		return "", Permanent("invalid number", fmt.Errorf("%s: %q is not an E.164 number", p.cfg.Name, m.Destination))
	}
	req, err := p.request(ctx, out)
	if err != nil {
		return "", err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		// Refused, reset or timed out: the provider may come back.
		return "", fmt.Errorf("%s: %w", p.cfg.Name, withoutQuery(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return p.classify(m.ID, resp.StatusCode, body)
}

func (p *HTTPProvider) request(ctx context.Context, out *Outgoing) (*http.Request, error) {
	m := out.Message
	data := httpTemplateData{
		To:                m.Destination,
		ToNational:        nationalDigits(m.Destination),
		Text:              out.Text,
		MessageID:         m.ID,
		IdempotencyKey:    cmp.Or(out.IdempotencyKey, m.ID),
		StatusCallbackURL: p.StatusCallbackURL(),
	}
	fields, err := execTemplates(p.body, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.cfg.Name, err)
	}
	var body []byte
	var contentType string
	if p.cfg.BodyFormat == "json" {
		contentType = "application/json"
		body, err = json.Marshal(nestFields(fields))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.cfg.Name, err)
		}
	} else {
		contentType = "application/x-www-form-urlencoded"
		form := url.Values{}
		for k, v := range fields {
			form.Set(k, v)
		}
		body = []byte(form.Encode())
	}
	target := p.cfg.URL
	var rd io.Reader
	if p.cfg.Method == http.MethodGet && p.cfg.BodyFormat == "form" {
		// Older APIs take GET with the fields in the query.
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		if len(body) > 0 {
			target += sep + string(body)
		}
	} else {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, p.cfg.Method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.cfg.Name, err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	headers, err := execTemplates(p.headers, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.cfg.Name, err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if p.cfg.IdempotencyHeader != "" {
		req.Header.Set(p.cfg.IdempotencyHeader, data.IdempotencyKey)
	}
	if p.cfg.BasicAuthUser != "" || p.cfg.BasicAuthPassword != "" {
		req.SetBasicAuth(p.cfg.BasicAuthUser, p.cfg.BasicAuthPassword)
	}
	return req, nil
}

// classify turns the provider's answer into an id, a temporary or a
// permanent error.
//
// A 2xx answer without a readable id is temporary: the provider may or may
// not have taken the message, and a retry carries the same idempotency key,
// so a provider that deduplicates sends it once; one that does not may send
// a second copy of the same code, which is better than a code that never
// comes and a person locked out behind it.
func (p *HTTPProvider) classify(messageID string, status int, body []byte) (string, error) {
	switch {
	case status >= 200 && status < 300:
		if p.cfg.IDFrom == "" {
			return messageID, nil
		}
		var v any
		if err := decodeJSON(body, &v); err != nil {
			return "", fmt.Errorf("%s: answered %d with no JSON (%q): %w", p.cfg.Name, status, clip(string(body), 100), err)
		}
		id, ok := jsonString(v, p.cfg.IDFrom)
		if !ok || id == "" {
			return "", fmt.Errorf("%s: answered %d without %q: %q", p.cfg.Name, status, p.cfg.IDFrom, clip(string(body), 100))
		}
		return id, nil
	case status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
		reason := fmt.Sprintf("%s answered %d: %s", p.cfg.Name, status, p.errorText(status, body))
		return "", Permanent(reason, fmt.Errorf("%s: refused with %d", p.cfg.Name, status))
	default:
		// 408, 429, 5xx, and redirects, which a configured API should not
		// need: may pass, so retry.
		return "", fmt.Errorf("%s: answered %d: %q", p.cfg.Name, status, clip(string(body), 200))
	}
}

var errorPaths = []string{"message", "error.message", "error_message", "errors.0.message", "error", "detail", "title"}

// errorText finds the provider's own words for a refusal.
func (p *HTTPProvider) errorText(status int, body []byte) string {
	var v any
	if decodeJSON(body, &v) == nil {
		paths := errorPaths
		if p.cfg.ErrorFrom != "" {
			paths = []string{p.cfg.ErrorFrom}
		}
		for _, path := range paths {
			if s, ok := jsonString(v, path); ok && s != "" {
				return clip(s, 200)
			}
		}
	} else if s := strings.TrimSpace(string(body)); s != "" && !strings.HasPrefix(s, "<") {
		return clip(s, 200)
	}
	return http.StatusText(status)
}

func execTemplates(ts map[string]*template.Template, data httpTemplateData) (map[string]string, error) {
	out := make(map[string]string, len(ts))
	for _, name := range slices.Sorted(maps.Keys(ts)) {
		var b strings.Builder
		if err := ts[name].Execute(&b, data); err != nil {
			return nil, err
		}
		out[name] = b.String()
	}
	return out, nil
}

// nestFields turns {"a.b": "x", "c": "y"} into {"a": {"b": "x"}, "c": "y"}.
// A field that is both a value and an object keeps the object.
func nestFields(fields map[string]string) map[string]any {
	root := map[string]any{}
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		parts := strings.Split(name, ".")
		node := root
		for _, part := range parts[:len(parts)-1] {
			child, ok := node[part].(map[string]any)
			if !ok {
				child = map[string]any{}
				node[part] = child
			}
			node = child
		}
		if _, isObject := node[parts[len(parts)-1]].(map[string]any); !isObject {
			node[parts[len(parts)-1]] = fields[name]
		}
	}
	return root
}

func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after JSON")
	}
	return nil
}

// jsonString follows a dotted path ("result.message_id", "messages.0.id")
// and returns a string or number found there as text.
func jsonString(v any, path string) (string, bool) {
	for _, part := range strings.Split(path, ".") {
		switch node := v.(type) {
		case map[string]any:
			v = node[part]
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(node) {
				return "", false
			}
			v = node[i]
		default:
			return "", false
		}
	}
	switch s := v.(type) {
	case string:
		return s, true
	case json.Number:
		return s.String(), true
	}
	return "", false
}

// nationalDigits writes a number the way its country dials it at home,
// digits only (+819012345678 → 09012345678), as Japanese providers expect.
func nationalDigits(e164 string) string {
	ph, err := identifier.NormalizePhone(e164, "JP")
	if err != nil {
		return e164
	}
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, ph.National)
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
