package delivery_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/clocktest"
	"github.com/monban-dev/monban/internal/delivery"
)

// providerRequest is what a fake provider got.
type providerRequest struct {
	method, path, contentType, body string
	header                          http.Header
	user, pass                      string
}

// fakeHTTPProvider answers every request with status and body and records it.
func fakeHTTPProvider(t *testing.T, status int, body string) (*httptest.Server, <-chan providerRequest) {
	t.Helper()
	got := make(chan providerRequest, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		user, pass, _ := r.BasicAuth()
		got <- providerRequest{r.Method, r.URL.Path, r.Header.Get("Content-Type"), string(b), r.Header.Clone(), user, pass}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func newHTTPProvider(t *testing.T, cfg delivery.HTTPProviderConfig) *delivery.HTTPProvider {
	t.Helper()
	p, err := delivery.NewHTTPProvider(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func twilioLikeConfig(url string) delivery.HTTPProviderConfig {
	return delivery.HTTPProviderConfig{
		Name: "twilio", Channel: monban.ChannelSMS,
		URL:        url + "/2010-04-01/Accounts/AC123/Messages.json",
		BodyFormat: "form",
		Body: map[string]string{
			"To": "{{.To}}", "From": "+15005550006", "Body": "{{.Text}}", "StatusCallback": "{{.StatusCallbackURL}}",
		},
		BasicAuthUser: "AC123", BasicAuthPassword: "token",
		IDFrom:            "sid",
		IdempotencyHeader: "I-Twilio-Idempotency-Token",
		CallbackSecret:    []byte("callback-secret-0123456789"),
		CallbackBaseURL:   "https://monban.example",
		Timeout:           5 * time.Second,
	}
}

func TestHTTPProviderTwilioLikeForm(t *testing.T) {
	srv, got := fakeHTTPProvider(t, 201, `{"sid": "SM0123", "status": "queued"}`)
	p := newHTTPProvider(t, twilioLikeConfig(srv.URL))
	if p.Provider() != "twilio" {
		t.Fatalf("Provider = %q", p.Provider())
	}
	out := smsOutgoing("msg_T", "+819012345678", "確認コード 123456")
	id, err := p.Send(context.Background(), out)
	if err != nil || id != "SM0123" {
		t.Fatalf("Send = %q, %v; want SM0123", id, err)
	}
	r := <-got
	if r.method != http.MethodPost || r.path != "/2010-04-01/Accounts/AC123/Messages.json" ||
		r.contentType != "application/x-www-form-urlencoded" || r.user != "AC123" || r.pass != "token" {
		t.Errorf("request %+v", r)
	}
	if r.header.Get("I-Twilio-Idempotency-Token") != "idem-msg_T" {
		t.Errorf("idempotency header = %q", r.header.Get("I-Twilio-Idempotency-Token"))
	}
	form, err := url.ParseQuery(r.body)
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{
		"To": {"+819012345678"}, "From": {"+15005550006"}, "Body": {"確認コード 123456"},
		"StatusCallback": {"https://monban.example/hooks/provider/twilio/status"},
	}
	if form.Encode() != want.Encode() {
		t.Errorf("form = %v, want %v", form, want)
	}
}

func TestHTTPProviderJSONNestedID(t *testing.T) {
	srv, got := fakeHTTPProvider(t, 200, `{"status":"ok","result":{"message_id":"jp-42","count":1}}`)
	p := newHTTPProvider(t, delivery.HTTPProviderConfig{
		Name: "jpsms", Channel: monban.ChannelSMS, URL: srv.URL + "/api/v1/send", BodyFormat: "json",
		Headers: map[string]string{"X-API-Key": "k-123", "X-Request-Id": "{{.MessageID}}"},
		Body: map[string]string{
			"mobilenumber": "{{.ToNational}}", "smstext": "{{.Text}}",
			"options.reference": "{{.MessageID}}", "options.callback": "{{.StatusCallbackURL}}",
		},
		IDFrom: "result.message_id",
	})
	id, err := p.Send(context.Background(), smsOutgoing("msg_J", "+819012345678", "コード: 123456"))
	if err != nil || id != "jp-42" {
		t.Fatalf("Send = %q, %v; want jp-42", id, err)
	}
	r := <-got
	if r.contentType != "application/json" || r.header.Get("X-API-Key") != "k-123" || r.header.Get("X-Request-Id") != "msg_J" {
		t.Errorf("request %+v", r)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	wantBody := map[string]any{
		"mobilenumber": "09012345678", "smstext": "コード: 123456",
		"options": map[string]any{"reference": "msg_J", "callback": ""},
	}
	if b, w := providerJSON(t, body), providerJSON(t, wantBody); b != w {
		t.Errorf("body %s, want %s", b, w)
	}
}

func TestHTTPProviderVoiceTwiML(t *testing.T) {
	srv, got := fakeHTTPProvider(t, 201, `{"sid": "CA1"}`)
	p := newHTTPProvider(t, delivery.HTTPProviderConfig{
		Name: "twilio-voice", Channel: monban.ChannelVoice, URL: srv.URL + "/Calls.json",
		Body: map[string]string{
			"To":    "{{.To}}",
			"Twiml": `<Response><Say language="ja-JP">{{xml .Text}}</Say></Response>`,
		},
		IDFrom: "sid",
	})
	out := &delivery.Outgoing{
		Message: &monban.Message{ID: "msg_V", Channel: monban.ChannelVoice, Destination: "+819012345678"},
		Text:    "コードは 1 2 3 <4> & 5 6 です",
	}
	if id, err := p.Send(context.Background(), out); err != nil || id != "CA1" {
		t.Fatalf("Send = %q, %v", id, err)
	}
	form, _ := url.ParseQuery((<-got).body)
	if want := `<Response><Say language="ja-JP">コードは 1 2 3 &lt;4&gt; &amp; 5 6 です</Say></Response>`; form.Get("Twiml") != want {
		t.Errorf("Twiml = %q, want %q", form.Get("Twiml"), want)
	}
	// An SMS handed to a voice provider is refused before any request.
	if _, err := p.Send(context.Background(), smsOutgoing("msg_S", "+819012345678", "x")); err == nil {
		t.Error("voice provider sent an SMS")
	} else if _, ok := delivery.IsPermanent(err); !ok {
		t.Errorf("err %v, want permanent", err)
	}
}

func TestHTTPProviderAnswers(t *testing.T) {
	cases := []struct {
		name      string
		status    int
		body      string
		perm      bool
		reasonHas string
	}{
		{"server error", 500, `{"message":"internal"}`, false, ""},
		{"unavailable", 503, ``, false, ""},
		{"too many requests", 429, `{"message":"slow down"}`, false, ""},
		{"request timeout", 408, ``, false, ""},
		{"garbage 200", 200, `<html>maintenance</html>`, false, ""},
		{"200 without id", 200, `{"status":"ok"}`, false, ""},
		{"200 truncated JSON", 200, `{"sid": "SM1"`, false, ""},
		{"400 with message", 400, `{"code":21211,"message":"The 'To' number +81901234 is not a valid phone number."}`, true, "not a valid phone number"},
		{"400 nested error", 400, `{"error":{"code":"E101","message":"宛先電話番号が不正です"}}`, true, "宛先電話番号が不正です"},
		{"401 plain text", 401, `Authenticate`, true, "Authenticate"},
		{"422 no body", 422, ``, true, "Unprocessable Entity"},
		{"redirect", 302, ``, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, _ := fakeHTTPProvider(t, c.status, c.body)
			p := newHTTPProvider(t, twilioLikeConfig(srv.URL))
			id, err := p.Send(context.Background(), smsOutgoing("msg_A", "+819012345678", "x"))
			if err == nil {
				t.Fatalf("Send = %q, want an error", id)
			}
			pe, perm := delivery.IsPermanent(err)
			if perm != c.perm {
				t.Fatalf("err %v: permanent = %v, want %v", err, perm, c.perm)
			}
			if perm && !strings.Contains(pe.Reason, c.reasonHas) {
				t.Errorf("reason %q, want it to contain %q", pe.Reason, c.reasonHas)
			}
		})
	}
}

func TestHTTPProviderHangingServerTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	cfg := twilioLikeConfig(srv.URL)
	cfg.Timeout = 50 * time.Millisecond
	p := newHTTPProvider(t, cfg)
	_, err := p.Send(context.Background(), smsOutgoing("msg_H", "+819012345678", "x"))
	if err == nil {
		t.Fatal("Send succeeded against a hanging provider")
	}
	if _, ok := delivery.IsPermanent(err); ok {
		t.Fatalf("err = %v, want temporary", err)
	}
}

func TestHTTPProviderConnectionRefused(t *testing.T) {
	p := newHTTPProvider(t, twilioLikeConfig("http://127.0.0.1:"+strconv.Itoa(loopbackPort(t))))
	_, err := p.Send(context.Background(), smsOutgoing("msg_R", "+819012345678", "x"))
	if _, ok := delivery.IsPermanent(err); err == nil || ok {
		t.Fatalf("err = %v, want temporary", err)
	}
}

func TestNewHTTPProviderRefusesBadConfig(t *testing.T) {
	base := twilioLikeConfig("https://api.example")
	bad := map[string]func(*delivery.HTTPProviderConfig){
		"no name":          func(c *delivery.HTTPProviderConfig) { c.Name = "" },
		"name with slash":  func(c *delivery.HTTPProviderConfig) { c.Name = "a/b" },
		"email channel":    func(c *delivery.HTTPProviderConfig) { c.Channel = monban.ChannelEmail },
		"no url":           func(c *delivery.HTTPProviderConfig) { c.URL = "" },
		"ftp url":          func(c *delivery.HTTPProviderConfig) { c.URL = "ftp://x/y" },
		"xml body":         func(c *delivery.HTTPProviderConfig) { c.BodyFormat = "xml" },
		"broken template":  func(c *delivery.HTTPProviderConfig) { c.Body = map[string]string{"To": "{{.To"} },
		"callback, secret": func(c *delivery.HTTPProviderConfig) { c.CallbackSecret = nil },
	}
	for name, change := range bad {
		cfg := base
		change(&cfg)
		if _, err := delivery.NewHTTPProvider(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A template naming a field that does not exist fails at send time,
	// without a request.
	srv, got := fakeHTTPProvider(t, 200, `{"sid":"x"}`)
	cfg := twilioLikeConfig(srv.URL)
	cfg.Body = map[string]string{"To": "{{.Nope}}"}
	p := newHTTPProvider(t, cfg)
	if _, err := p.Send(context.Background(), smsOutgoing("msg_1", "+819012345678", "x")); err == nil {
		t.Error("sent with a broken template")
	}
	select {
	case r := <-got:
		t.Errorf("request made: %+v", r)
	default:
	}
}

var providerCallbackNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func providerCallbackCfg(clock monban.Clock) delivery.HTTPProviderConfig {
	cfg := twilioLikeConfig("https://api.example")
	cfg.Clock = clock
	cfg.CallbackIDField = "MessageSid"
	cfg.CallbackStatusField = "MessageStatus"
	cfg.CallbackReasonField = "ErrorCode"
	return cfg
}

func providerCallbackRequest(contentType, body, signature string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/hooks/provider/twilio/status", strings.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	if signature != "" {
		r.Header.Set(delivery.HTTPProviderSignatureHeader, signature)
	}
	return r
}

func TestParseHTTPProviderCallback(t *testing.T) {
	clock := clocktest.New(providerCallbackNow)
	cfg := providerCallbackCfg(clock)
	sign := func(body string, at time.Time) string {
		return delivery.SignHTTPProviderCallback(cfg.CallbackSecret, at, []byte(body))
	}
	form := "application/x-www-form-urlencoded"
	cases := []struct {
		body string
		want delivery.Receipt
	}{
		{"MessageSid=SM1&MessageStatus=delivered",
			delivery.Receipt{Provider: "twilio", ProviderID: "SM1", Status: monban.MessageDelivered}},
		{"MessageSid=SM1&MessageStatus=undelivered&ErrorCode=30003",
			delivery.Receipt{Provider: "twilio", ProviderID: "SM1", Status: monban.MessageFailed, Reason: "undelivered: 30003"}},
		{"MessageSid=SM1&MessageStatus=Failed",
			delivery.Receipt{Provider: "twilio", ProviderID: "SM1", Status: monban.MessageFailed, Reason: "failed"}},
		{"MessageSid=SM1&MessageStatus=sent",
			delivery.Receipt{Provider: "twilio", ProviderID: "SM1", Status: monban.MessageSent}},
	}
	for _, c := range cases {
		rc, err := delivery.ParseHTTPProviderCallback(providerCallbackRequest(form, c.body, sign(c.body, providerCallbackNow.Add(-time.Minute))), cfg)
		if err != nil || rc != c.want {
			t.Errorf("%s: %+v, %v; want %+v", c.body, rc, err, c.want)
		}
	}

	// A JSON callback with nested fields, custom words and an echoed id.
	jcfg := cfg
	jcfg.CallbackIDField, jcfg.CallbackMessageIDField = "data.id", "data.reference"
	jcfg.CallbackStatusField, jcfg.CallbackReasonField = "data.state", "data.error.text"
	jcfg.DeliveredStatuses, jcfg.FailedStatuses, jcfg.SentStatuses = []string{"DELIVRD"}, []string{"UNDELIV", "REJECTD"}, []string{"ENROUTE"}
	jbody := `{"data":{"id":"jp-1","reference":"msg_J","state":"UNDELIV","error":{"text":"圏外"}}}`
	rc, err := delivery.ParseHTTPProviderCallback(providerCallbackRequest("application/json; charset=utf-8", jbody, sign(jbody, providerCallbackNow)), jcfg)
	want := delivery.Receipt{Provider: "twilio", ProviderID: "jp-1", MessageID: "msg_J", Status: monban.MessageFailed, Reason: "undeliv: 圏外"}
	if err != nil || rc != want {
		t.Errorf("JSON callback: %+v, %v; want %+v", rc, err, want)
	}

	// Secret rotation: any one valid v1 is enough.
	body := "MessageSid=SM1&MessageStatus=delivered"
	old := delivery.SignHTTPProviderCallback([]byte("old secret"), providerCallbackNow, []byte(body))
	rotated := old + "," + strings.Split(sign(body, providerCallbackNow), ",")[1]
	if _, err := delivery.ParseHTTPProviderCallback(providerCallbackRequest(form, body, rotated), cfg); err != nil {
		t.Errorf("rotated signature refused: %v", err)
	}

	good := sign(body, providerCallbackNow)
	bad := map[string]*http.Request{
		"unsigned":          providerCallbackRequest(form, body, ""),
		"forged":            providerCallbackRequest(form, body, "t="+strconv.FormatInt(providerCallbackNow.Unix(), 10)+",v1="+strings.Repeat("ab", 32)),
		"other secret":      providerCallbackRequest(form, body, delivery.SignHTTPProviderCallback([]byte("not the secret"), providerCallbackNow, []byte(body))),
		"body changed":      providerCallbackRequest(form, "MessageSid=SM2&MessageStatus=delivered", good),
		"timestamp changed": providerCallbackRequest(form, body, strings.Replace(good, "t="+strconv.FormatInt(providerCallbackNow.Unix(), 10), "t="+strconv.FormatInt(providerCallbackNow.Unix()+1, 10), 1)),
		"stale":             providerCallbackRequest(form, body, sign(body, providerCallbackNow.Add(-5*time.Minute-time.Second))),
		"from the future":   providerCallbackRequest(form, body, sign(body, providerCallbackNow.Add(5*time.Minute+time.Second))),
		"no timestamp":      providerCallbackRequest(form, body, "v1="+strings.Split(good, "v1=")[1]),
		"unknown status":    providerCallbackRequest(form, "MessageSid=SM1&MessageStatus=teleported", sign("MessageSid=SM1&MessageStatus=teleported", providerCallbackNow)),
		"no id":             providerCallbackRequest(form, "MessageStatus=delivered", sign("MessageStatus=delivered", providerCallbackNow)),
		"no status":         providerCallbackRequest(form, "MessageSid=SM1", sign("MessageSid=SM1", providerCallbackNow)),
		"JSON not JSON":     providerCallbackRequest("application/json", body, good),
	}
	for name, r := range bad {
		if rc, err := delivery.ParseHTTPProviderCallback(r, cfg); err == nil {
			t.Errorf("%s: accepted as %+v", name, rc)
		}
	}
	// The same signed callback is accepted (idempotently) within five
	// minutes, and refused once the clock has moved past the window.
	if _, err := delivery.ParseHTTPProviderCallback(providerCallbackRequest(form, body, good), cfg); err != nil {
		t.Fatalf("fresh callback refused: %v", err)
	}
	clock.Advance(4 * time.Minute)
	if _, err := delivery.ParseHTTPProviderCallback(providerCallbackRequest(form, body, good), cfg); err != nil {
		t.Errorf("replay within the window refused: %v", err)
	}
	clock.Advance(time.Minute + time.Second)
	if rc, err := delivery.ParseHTTPProviderCallback(providerCallbackRequest(form, body, good), cfg); err == nil {
		t.Errorf("replay after the window accepted as %+v", rc)
	}
	// No secret configured: nothing is accepted.
	nosecret := cfg
	nosecret.CallbackSecret = nil
	if _, err := delivery.ParseHTTPProviderCallback(providerCallbackRequest(form, body, good), nosecret); err == nil {
		t.Error("accepted with no secret configured")
	}
}

func FuzzParseHTTPProviderCallback(f *testing.F) {
	cfg := providerCallbackCfg(clocktest.New(providerCallbackNow))
	body := "MessageSid=SM1&MessageStatus=delivered"
	f.Add(delivery.SignHTTPProviderCallback(cfg.CallbackSecret, providerCallbackNow, []byte(body)), "application/x-www-form-urlencoded", []byte(body))
	jbody := `{"MessageSid":"SM1","MessageStatus":"undelivered","ErrorCode":30003}`
	f.Add(delivery.SignHTTPProviderCallback(cfg.CallbackSecret, providerCallbackNow, []byte(jbody)), "application/json", []byte(jbody))
	f.Add("t=1,v1=00", "", []byte("MessageSid=SM1&MessageStatus=delivered"))
	f.Add("", "application/json", []byte("{"))
	f.Fuzz(func(t *testing.T, signature, contentType string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/hooks/provider/twilio/status", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", contentType)
		r.Header.Set(delivery.HTTPProviderSignatureHeader, signature)
		rc, err := delivery.ParseHTTPProviderCallback(r, cfg)
		if err != nil {
			return
		}
		if !validProviderSignature(cfg.CallbackSecret, signature, body, providerCallbackNow, 5*time.Minute) {
			t.Fatalf("accepted %q with signature %q: %+v", body, signature, rc)
		}
		switch rc.Status {
		case monban.MessageSent, monban.MessageDelivered, monban.MessageFailed:
		default:
			t.Fatalf("status %q", rc.Status)
		}
	})
}

// validProviderSignature checks the documented scheme independently of the code
// under test.
func validProviderSignature(secret []byte, header string, body []byte, now time.Time, window time.Duration) bool {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(sec, 0)); d > window || d < -window {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, s := range sigs {
		if got, err := hex.DecodeString(s); err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

func providerJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHTTPProviderGETQuery(t *testing.T) {
	got := make(chan *url.URL, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := *r.URL
		got <- &u
		_, _ = io.WriteString(w, `{"id": 7}`)
	}))
	t.Cleanup(srv.Close)
	p := newHTTPProvider(t, delivery.HTTPProviderConfig{
		Name: "legacy", Channel: monban.ChannelSMS, Method: "get", URL: srv.URL + "/send?apikey=k",
		Body: map[string]string{"tel": "{{.ToNational}}", "msg": "{{.Text}}"}, IDFrom: "id",
	})
	if id, err := p.Send(context.Background(), smsOutgoing("msg_G", "+819012345678", "コード 1")); err != nil || id != "7" {
		t.Fatalf("Send = %q, %v; want the numeric id as text", id, err)
	}
	q := (<-got).Query()
	if q.Get("apikey") != "k" || q.Get("tel") != "09012345678" || q.Get("msg") != "コード 1" {
		t.Errorf("query %v", q)
	}
}
