package delivery_test

import (
	"context"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/clocktest"
	"github.com/monban-dev/monban/internal/delivery"
)

var dlrSecret = []byte("0123456789abcdef0123456789abcdef")

func smsOutgoing(id, to, text string) *delivery.Outgoing {
	return &delivery.Outgoing{
		Message:        &monban.Message{ID: id, Channel: monban.ChannelSMS, Destination: to},
		Text:           text,
		IdempotencyKey: "idem-" + id,
	}
}

// dlrReceiver stands in for monban's /hooks/kannel/dlr and hands over the
// URL of every report Kannel makes.
func dlrReceiver(t *testing.T) (*httptest.Server, <-chan *url.URL) {
	t.Helper()
	got := make(chan *url.URL, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != delivery.KannelDLRPath {
			t.Errorf("DLR on path %q, want %q", r.URL.Path, delivery.KannelDLRPath)
		}
		u := *r.URL
		got <- &u
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// TestKannelRealGateway sends through a real bearerbox and smsbox to
// fakesmsc and follows the delivery reports back. The fake SMSC reports
// type 8 (accepted by the SMSC, reply "ACK/") and then type 1 (delivered)
// for every message, so a message moves sent → delivered.
func TestKannelRealGateway(t *testing.T) {
	gw := startKannel(t)
	srv, dlrs := dlrReceiver(t)
	k := delivery.NewKannel(delivery.KannelConfig{
		SendSMSURL: gw.SendSMSURL, Username: gw.Username, Password: gw.Password,
		DLRBaseURL: srv.URL, Timeout: 5 * time.Second,
	}, dlrSecret)
	if k.Provider() != "kannel" {
		t.Fatalf("Provider = %q", k.Provider())
	}

	cases := []struct {
		id, text, wantType string
	}{
		{"msg_JA", "monban 確認コード: 123456\n10分間有効です。他人に教えないでください。", "ucs-2"},
		{"msg_EN", "monban code: 654321. Valid for 10 minutes.", "text"},
	}
	for _, c := range cases {
		id, err := k.Send(context.Background(), smsOutgoing(c.id, "+819012345678", c.text))
		if err != nil {
			t.Fatalf("Send %s: %v", c.id, err)
		}
		if id != c.id {
			t.Fatalf("provider id = %q, want the message id %q", id, c.id)
		}
	}

	// fakesmsc prints each message it gets from the SMSC side.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var got map[string]fakeSMS
	gw.poll(ctx, t, "fakesmsc to print both messages", func() (bool, string) {
		out := gw.fakesmscOutput(t)
		got = parseFakesmsc(t, out)
		return len(got) == len(cases), out
	})
	for _, c := range cases {
		m, ok := got[c.text]
		if !ok {
			t.Errorf("fakesmsc did not get %q; got %+v", c.text, got)
			continue
		}
		if m.to != "+819012345678" || m.from != "12345" || m.typ != c.wantType {
			t.Errorf("fakesmsc got %+v, want to +819012345678 from 12345 as %s", m, c.wantType)
		}
	}

	// Two reports per message: SMSC success, then delivered.
	want := map[string]monban.MessageStatus{
		"msg_JA/8": monban.MessageSent, "msg_JA/1": monban.MessageDelivered,
		"msg_EN/8": monban.MessageSent, "msg_EN/1": monban.MessageDelivered,
	}
	for len(want) > 0 {
		select {
		case u := <-dlrs:
			rc, err := delivery.ParseKannelDLR(httptest.NewRequest(http.MethodGet, u.String(), nil), dlrSecret)
			if err != nil {
				t.Fatalf("ParseKannelDLR(%s): %v", u, err)
			}
			key := rc.MessageID + "/" + u.Query().Get("type")
			st, ok := want[key]
			if !ok {
				t.Fatalf("unexpected report %s → %+v", u, rc)
			}
			if rc.Status != st || rc.ProviderID != rc.MessageID || rc.Provider != "kannel" {
				t.Errorf("report %s → %+v, want status %s", u, rc, st)
			}
			if _, err := delivery.ParseKannelDLR(httptest.NewRequest(http.MethodGet, u.String(), nil), []byte("another secret")); err == nil {
				t.Errorf("report accepted under another secret")
			}
			delete(want, key)
		case <-ctx.Done():
			t.Fatalf("reports still missing: %v", want)
		}
	}

	t.Run("wrong password is permanent", func(t *testing.T) {
		bad := delivery.NewKannel(delivery.KannelConfig{
			SendSMSURL: gw.SendSMSURL, Username: gw.Username, Password: "wrong",
			DLRBaseURL: srv.URL, Timeout: 5 * time.Second,
		}, dlrSecret)
		_, err := bad.Send(context.Background(), smsOutgoing("msg_PW", "+819012345678", "x"))
		p, ok := delivery.IsPermanent(err)
		if !ok || !strings.Contains(p.Reason, "Authorization failed") {
			t.Fatalf("err = %v, want permanent with Kannel's reason", err)
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Errorf("error shows the password: %v", err)
		}
	})
	t.Run("number refused by Kannel is permanent", func(t *testing.T) {
		_, err := k.Send(context.Background(), smsOutgoing("msg_BL", "+19005550100", "x"))
		p, ok := delivery.IsPermanent(err)
		if !ok || !strings.Contains(p.Reason, "denied") {
			t.Fatalf("err = %v, want permanent with Kannel's reason", err)
		}
	})
}

type fakeSMS struct{ from, to, typ string }

var fakesmscLine = regexp.MustCompile(`Got message \d+: <(\S+) (\S+) (\S+) (.*)>`)

// parseFakesmsc reads fakesmsc's "Got message N: <from to type data>" lines,
// keyed by the decoded text. Type "ucs-2" is URL-encoded UTF-16BE.
func parseFakesmsc(t *testing.T, out string) map[string]fakeSMS {
	t.Helper()
	got := map[string]fakeSMS{}
	for _, m := range fakesmscLine.FindAllStringSubmatch(out, -1) {
		text := m[4]
		switch m[3] {
		case "ucs-2":
			raw, err := url.QueryUnescape(text)
			if err != nil || len(raw)%2 != 0 {
				t.Fatalf("fakesmsc ucs-2 data %q: %v", text, err)
			}
			u := make([]uint16, len(raw)/2)
			for i := range u {
				u[i] = binary.BigEndian.Uint16([]byte(raw[2*i:]))
			}
			text = string(utf16.Decode(u))
		case "data":
			raw, err := url.QueryUnescape(text)
			if err != nil {
				t.Fatalf("fakesmsc data %q: %v", text, err)
			}
			text = raw
		}
		got[text] = fakeSMS{from: m[1], to: m[2], typ: m[3]}
	}
	return got
}

func TestKannelConnectionRefusedIsTemporary(t *testing.T) {
	port := loopbackPort(t) // closed again: nothing listens there
	k := delivery.NewKannel(delivery.KannelConfig{
		SendSMSURL: "http://127.0.0.1:" + strconv.Itoa(port) + "/cgi-bin/sendsms",
		Username:   "monban", Password: "pw-in-url", DLRBaseURL: "https://monban.example",
		Timeout: time.Second,
	}, dlrSecret)
	_, err := k.Send(context.Background(), smsOutgoing("msg_1", "+819012345678", "x"))
	if err == nil {
		t.Fatal("Send succeeded with Kannel down")
	}
	if _, ok := delivery.IsPermanent(err); ok {
		t.Fatalf("err = %v, want temporary", err)
	}
	if strings.Contains(err.Error(), "pw-in-url") {
		t.Errorf("error shows the sendsms password: %v", err)
	}
}

// fakeSMSBox answers sendsms like smsbox would and records the query.
func fakeSMSBox(t *testing.T, status int, body string) (*httptest.Server, <-chan url.Values) {
	t.Helper()
	got := make(chan url.Values, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Query()
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func TestKannelAnswers(t *testing.T) {
	cases := []struct {
		status    int
		body      string
		ok, perm  bool
		reasonHas string
	}{
		{202, "0: Accepted for delivery", true, false, ""},
		{202, "3: Queued for later delivery", true, false, ""},
		{202, "<html>proxy login</html>", false, false, ""},
		{403, "Authorization failed for sendsms", false, true, "Authorization failed"},
		{400, "Number(s) has/have been denied by white- and/or black-lists.", false, true, "denied"},
		{400, "", false, true, "Bad Request"},
		{429, "slow down", false, false, ""},
		{503, "Sending failed.", false, false, ""},
		{500, "", false, false, ""},
	}
	for _, c := range cases {
		srv, _ := fakeSMSBox(t, c.status, c.body)
		k := delivery.NewKannel(delivery.KannelConfig{SendSMSURL: srv.URL, DLRBaseURL: "https://m.example"}, dlrSecret)
		id, err := k.Send(context.Background(), smsOutgoing("msg_1", "+819012345678", "x"))
		if c.ok {
			if err != nil || id != "msg_1" {
				t.Errorf("%d %q: id %q err %v, want msg_1", c.status, c.body, id, err)
			}
			continue
		}
		p, perm := delivery.IsPermanent(err)
		if err == nil || perm != c.perm {
			t.Errorf("%d %q: err %v, want permanent=%v", c.status, c.body, err, c.perm)
			continue
		}
		if perm && !strings.Contains(p.Reason, c.reasonHas) {
			t.Errorf("%d %q: reason %q, want %q", c.status, c.body, p.Reason, c.reasonHas)
		}
	}
}

func TestKannelHangingSMSBoxTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	k := delivery.NewKannel(delivery.KannelConfig{SendSMSURL: srv.URL, DLRBaseURL: "https://m.example", Timeout: 50 * time.Millisecond}, dlrSecret)
	_, err := k.Send(context.Background(), smsOutgoing("msg_1", "+819012345678", "x"))
	if err == nil {
		t.Fatal("Send succeeded against a hanging smsbox")
	}
	if _, ok := delivery.IsPermanent(err); ok {
		t.Fatalf("err = %v, want temporary", err)
	}
}

func TestKannelRequest(t *testing.T) {
	srv, got := fakeSMSBox(t, 202, "0: Accepted for delivery")
	clock := clocktest.New(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	k := delivery.NewKannel(delivery.KannelConfig{
		SendSMSURL: srv.URL, Username: "u", Password: "p", From: "MONBAN", SMSC: "smpp1",
		DLRBaseURL: "https://monban.example/", Clock: clock,
	}, dlrSecret)
	out := smsOutgoing("msg_Q", "+819012345678", "確認コード 123456")
	out.Message.ExpiresAt = clock.Now().Add(10 * time.Minute)
	if _, err := k.Send(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	q := <-got
	for k, want := range map[string]string{
		"username": "u", "password": "p", "from": "MONBAN", "smsc": "smpp1", "to": "+819012345678",
		"text": "確認コード 123456", "coding": "2", "charset": "UTF-8", "dlr-mask": "31", "validity": "10",
	} {
		if q.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, q.Get(k), want)
		}
	}
	dlr, err := url.Parse(q.Get("dlr-url"))
	if err != nil {
		t.Fatal(err)
	}
	if dlr.Scheme+"://"+dlr.Host+dlr.Path != "https://monban.example/hooks/kannel/dlr" {
		t.Errorf("dlr-url = %s", dlr)
	}
	if !strings.Contains(q.Get("dlr-url"), "type=%d") || !strings.Contains(q.Get("dlr-url"), "reply=%A") {
		t.Errorf("dlr-url %q lacks Kannel's %%d/%%A", q.Get("dlr-url"))
	}
	if dlr.Query().Get("msg") != "msg_Q" || dlr.Query().Get("sig") == "" {
		t.Errorf("dlr-url %q lacks msg or sig", dlr)
	}

	// Number formats.
	for format, want := range map[string]string{"": "+819012345678", "plus": "+819012345678", "00": "00819012345678", "digits": "819012345678"} {
		k := delivery.NewKannel(delivery.KannelConfig{SendSMSURL: srv.URL, DLRBaseURL: "https://m.example", NumberFormat: format}, dlrSecret)
		if _, err := k.Send(context.Background(), smsOutgoing("msg_N", "+819012345678", "hi")); err != nil {
			t.Fatal(err)
		}
		q := <-got
		if q.Get("to") != want {
			t.Errorf("format %q: to = %q, want %q", format, q.Get("to"), want)
		}
		if q.Get("coding") != "" {
			t.Errorf("ASCII text sent with coding %q, want GSM default", q.Get("coding"))
		}
	}
	// Not E.164 or not SMS: permanent, and smsbox never asked.
	for _, out := range []*delivery.Outgoing{
		smsOutgoing("msg_X", "09012345678", "x"),
		{Message: &monban.Message{ID: "msg_V", Channel: monban.ChannelVoice, Destination: "+819012345678"}},
	} {
		if _, err := k.Send(context.Background(), out); err == nil {
			t.Errorf("%+v: sent", out.Message)
		} else if _, ok := delivery.IsPermanent(err); !ok {
			t.Errorf("%+v: err %v, want permanent", out.Message, err)
		}
	}
	select {
	case q := <-got:
		t.Errorf("smsbox asked with %v", q)
	default:
	}
}

// signedDLR returns the dlr-url Kannel would call for a message, with the
// type and reply filled in as Kannel fills them.
func signedDLR(t *testing.T, secret []byte, id string, typ, reply string) string {
	t.Helper()
	srv, got := fakeSMSBox(t, 202, "0: Accepted for delivery")
	k := delivery.NewKannel(delivery.KannelConfig{SendSMSURL: srv.URL, DLRBaseURL: "https://m.example"}, secret)
	if _, err := k.Send(context.Background(), smsOutgoing(id, "+819012345678", "x")); err != nil {
		t.Fatal(err)
	}
	u := (<-got).Get("dlr-url")
	u = strings.Replace(u, "%d", url.QueryEscape(typ), 1)
	return strings.Replace(u, "%A", url.QueryEscape(reply), 1)
}

func TestParseKannelDLR(t *testing.T) {
	cases := []struct {
		typ, reply string
		want       monban.MessageStatus
		reason     string
	}{
		{"1", "", monban.MessageDelivered, ""},
		{"2", "id:42 stat:UNDELIV err:001", monban.MessageFailed, "id:42 stat:UNDELIV err:001"},
		{"2", "", monban.MessageFailed, "not delivered to the phone"},
		{"16", "NACK/0x0000000b/Invalid Destination Address", monban.MessageFailed, "rejected by the SMSC: NACK/0x0000000b/Invalid Destination Address"},
		{"8", "ACK/", monban.MessageSent, ""},
		{"4", "", monban.MessageSent, ""},
	}
	for _, c := range cases {
		u := signedDLR(t, dlrSecret, "msg_D", c.typ, c.reply)
		rc, err := delivery.ParseKannelDLR(httptest.NewRequest(http.MethodGet, u, nil), dlrSecret)
		if err != nil {
			t.Errorf("type %s: %v", c.typ, err)
			continue
		}
		want := delivery.Receipt{Provider: "kannel", ProviderID: "msg_D", MessageID: "msg_D", Status: c.want, Reason: c.reason}
		if rc != want {
			t.Errorf("type %s: %+v, want %+v", c.typ, rc, want)
		}
	}

	good := signedDLR(t, dlrSecret, "msg_D", "1", "")
	other := signedDLR(t, dlrSecret, "msg_E", "1", "")
	bad := map[string]string{
		"unknown type":         signedDLR(t, dlrSecret, "msg_D", "3", ""),
		"type not a number":    signedDLR(t, dlrSecret, "msg_D", "x", ""),
		"no type":              strings.Replace(good, "type=1", "", 1),
		"no signature":         strings.Replace(good, "sig=", "nosig=", 1),
		"signed for another":   strings.Replace(good, "msg=msg_D", "msg=msg_E", 1),
		"other message's sig":  strings.Replace(other, "msg=msg_E", "msg=msg_D", 1),
		"signed, other secret": signedDLR(t, []byte("another secret"), "msg_D", "1", ""),
		"empty":                "https://m.example/hooks/kannel/dlr",
	}
	for name, u := range bad {
		if rc, err := delivery.ParseKannelDLR(httptest.NewRequest(http.MethodGet, u, nil), dlrSecret); err == nil {
			t.Errorf("%s: accepted %s as %+v", name, u, rc)
		}
	}
	if _, err := delivery.ParseKannelDLR(httptest.NewRequest(http.MethodGet, good, nil), nil); err == nil {
		t.Error("accepted a report with no secret configured")
	}
}

func FuzzParseKannelDLR(f *testing.F) {
	f.Add("msg=msg_D&sig=" + delivery.KannelSignature(dlrSecret, "msg_D") + "&type=1&reply=")
	f.Add("msg=msg_D&sig=" + delivery.KannelSignature(dlrSecret, "msg_D") + "&type=16&reply=NACK%2F")
	f.Add("msg=&sig=&type=2")
	f.Add("msg=%ff&sig=%&type=-1")
	f.Fuzz(func(t *testing.T, rawQuery string) {
		r := httptest.NewRequest(http.MethodGet, "/hooks/kannel/dlr", nil)
		r.URL.RawQuery = rawQuery
		rc, err := delivery.ParseKannelDLR(r, dlrSecret)
		if err != nil {
			return
		}
		q := r.URL.Query()
		if q.Get("sig") != delivery.KannelSignature(dlrSecret, q.Get("msg")) || rc.MessageID != q.Get("msg") {
			t.Fatalf("accepted %q without its signature: %+v", rawQuery, rc)
		}
		switch rc.Status {
		case monban.MessageSent, monban.MessageDelivered, monban.MessageFailed:
		default:
			t.Fatalf("status %q from %q", rc.Status, rawQuery)
		}
	})
}
