package web_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/notices"
)

// lockedFixture registers taro with a verified email and phone and sends
// him a lock notice.
func lockedFixture(t *testing.T, h *harness) (account, *monban.Notice) {
	t.Helper()
	a := h.register(map[string]any{"username": "taro", "email": "taro@example.jp", "phone": "090-1234-5678",
		"password": goodPassword})
	h.exec("UPDATE identifiers SET verified = TRUE WHERE account_id = ?", a.ID)
	n, err := h.n.Notices.Send(context.Background(), a.ID, monban.TopicAccountLocked,
		map[string]string{"until": t0.Add(24 * time.Hour).Format(time.RFC3339)}, notices.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return a, n
}

func TestNoticesAPI(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		a, n := lockedFixture(t, h)
		var list struct {
			Unread  int `json:"unread"`
			Notices []struct {
				ID, Ref, Topic, TopicLabel string
				Read                       bool
			} `json:"notices"`
		}
		decode(t, h.do(request{method: "GET", path: "/api/v1/notices", bearer: a.Token, lang: "en"}).wantStatus(t, http.StatusOK).body, &list)
		if list.Unread != 1 || len(list.Notices) != 1 || list.Notices[0].Ref != n.Ref || list.Notices[0].Read ||
			list.Notices[0].Topic != monban.TopicAccountLocked {
			t.Fatalf("notices = %+v", list)
		}
		// The notice went out by email and SMS, each carrying it.
		var msgs int
		if err := h.raw.QueryRow(rebind(h, "SELECT COUNT(*) FROM messages WHERE notice_id = ?"), n.ID).Scan(&msgs); err != nil || msgs != 2 {
			t.Errorf("messages of the notice: %d, %v", msgs, err)
		}
		// Another account sees none of it and cannot mark it read.
		b := h.register(map[string]any{"username": "hanako", "password": goodPassword})
		decode(t, h.do(request{method: "GET", path: "/api/v1/notices", bearer: b.Token}).wantStatus(t, http.StatusOK).body, &list)
		if list.Unread != 0 || len(list.Notices) != 0 {
			t.Errorf("another account sees %+v", list)
		}
		r := h.do(request{method: "POST", path: "/api/v1/notices/read", bearer: b.Token, json: map[string]any{"ids": []string{n.ID}}})
		if r.wantStatus(t, http.StatusOK).object(t)["marked"] != float64(0) {
			t.Errorf("another account marked it read: %s", r.body)
		}
		r = h.do(request{method: "POST", path: "/api/v1/notices/read", bearer: a.Token, json: map[string]any{}})
		if r.wantStatus(t, http.StatusOK).object(t)["marked"] != float64(1) {
			t.Errorf("mark all: %s", r.body)
		}
		decode(t, h.do(request{method: "GET", path: "/api/v1/notices", bearer: a.Token}).body, &list)
		if list.Unread != 0 || !list.Notices[0].Read {
			t.Errorf("after marking read: %+v", list)
		}
		if p := h.do(request{method: "GET", path: "/api/v1/notices"}).wantStatus(t, http.StatusUnauthorized).problem(t); p.Key != "session.missing" {
			t.Errorf("no session: %s", p.Key)
		}
	})
}

// TestCheckAPI: genuine, forged, pasted text, no code, and the answers for
// known and unknown references have the same shape.
func TestCheckAPI(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		_, n := lockedFixture(t, h)
		ip := map[string]string{}
		check := func(body map[string]any, lang string) *response {
			return h.do(request{method: "POST", path: "/api/v1/check", json: body, lang: lang, header: ip})
		}
		genuine := check(map[string]any{"ref": strings.ToLower(n.Ref)}, "en").wantStatus(t, http.StatusOK).object(t)
		if genuine["genuine"] != true || genuine["ref"] != n.Ref || genuine["topic"] != monban.TopicAccountLocked {
			t.Fatalf("genuine: %v", genuine)
		}
		to, _ := genuine["to"].([]any)
		if len(to) != 2 || !slices.Contains(to, any("t***@example.jp")) || !slices.Contains(to, any("090-****-5678")) {
			t.Errorf("to = %v: want both masked destinations", genuine["to"])
		}
		msg, _ := genuine["message"].(string)
		if !strings.Contains(msg, "t***@example.jp") || !strings.Contains(msg, "Account locked") || strings.Contains(msg, "taro@") {
			t.Errorf("message: %q", msg)
		}
		forged := check(map[string]any{"ref": "MB-ZZZZ-0000"}, "en").wantStatus(t, http.StatusOK).object(t)
		if forged["genuine"] != false || !strings.Contains(forged["message"].(string), "antiphishing") {
			t.Errorf("forged: %v", forged)
		}
		if keys(genuine) != keys(forged) {
			t.Errorf("answer shapes differ: %s vs %s", keys(genuine), keys(forged))
		}
		pasted := "【monban】アカウントをロックしました。アプリでご確認ください。参照 " + n.Ref
		if got := check(map[string]any{"text": pasted}, "ja").object(t); got["genuine"] != true {
			t.Errorf("pasted SMS: %v", got)
		}
		p := check(map[string]any{"text": "Your account is locked, click here"}, "en").wantStatus(t, http.StatusBadRequest).problem(t)
		if p.Key != "check.no_ref" || p.Field != "ref" {
			t.Errorf("no code: %+v", p)
		}
	})
}

func keys(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return strings.Join(ks, ",")
}

// TestCheckLimited: one network gets CheckPerIPPer10Min checks, known or
// unknown, then 429 with the time of the next try; the count is the same
// whether the references exist.
func TestCheckLimited(t *testing.T) {
	h := newHarness(t, "sqlite")
	_, n := lockedFixture(t, h)
	for i := range notices.CheckPerIPPer10Min {
		ref := "MB-ZZZZ-000" + string(rune('0'+i%10))
		if i%2 == 0 {
			ref = n.Ref
		}
		h.do(request{method: "POST", path: "/api/v1/check", json: map[string]any{"ref": ref}}).wantStatus(t, http.StatusOK)
	}
	r := h.do(request{method: "POST", path: "/api/v1/check", json: map[string]any{"ref": n.Ref}, lang: "en"})
	p := r.wantStatus(t, http.StatusTooManyRequests).problem(t)
	if p.Key != "check.limit" || r.header.Get("Retry-After") == "" || p.RetryAt == nil {
		t.Errorf("limit: %+v, Retry-After %q", p, r.header.Get("Retry-After"))
	}
	h.clock.Advance(10 * time.Minute)
	h.do(request{method: "POST", path: "/api/v1/check", json: map[string]any{"ref": n.Ref}}).wantStatus(t, http.StatusOK)
}

// TestMessagesAndCheckPages: the message center lists the notice with its
// reference; the public page confirms it without sign-in and calls a forged
// code not ours.
func TestMessagesAndCheckPages(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		a, n := lockedFixture(t, h)
		b := newBrowser(h)
		b.lang = "ja"
		if r := b.do(request{method: "GET", path: "/messages"}); r.status != http.StatusSeeOther || r.header.Get("Location") != "/signin" {
			t.Fatalf("signed out /messages: %d %s", r.status, r.header.Get("Location"))
		}
		b.knownDevice(a.ID) // one-step sign-in: the second step is tested in twostep_test.go
		tok := b.form("/signin")
		b.post("/signin", url.Values{"csrf": {tok}, "identifier": {"taro"}, "password": {goodPassword}}, nil).wantStatus(t, http.StatusSeeOther)
		page := string(b.do(request{method: "GET", path: "/messages"}).wantStatus(t, http.StatusOK).body)
		for _, want := range []string{n.Ref, "アカウントのロック", "未読 1 件", `class="notice-item unread"`} {
			if !strings.Contains(page, want) {
				t.Errorf("/messages lacks %q", want)
			}
		}
		tok = csrfField.FindStringSubmatch(page)[1]
		b.post("/messages/read", url.Values{"csrf": {tok}}, nil).wantStatus(t, http.StatusSeeOther)
		if page := string(b.do(request{method: "GET", path: "/messages"}).body); strings.Contains(page, "未読") && strings.Contains(page, `unread-count`) {
			t.Errorf("still unread after marking all")
		}

		anon := newBrowser(h)
		anon.lang = "en"
		tok = anon.form("/check")
		page = string(anon.post("/check", url.Values{"csrf": {tok}, "ref": {"Reference: " + n.Ref}}, nil).wantStatus(t, http.StatusOK).body)
		if !strings.Contains(page, `data-genuine="true"`) || !strings.Contains(page, "t***@example.jp") {
			t.Errorf("genuine page:\n%s", page)
		}
		page = string(anon.post("/check", url.Values{"csrf": {tok}, "ref": {"MB-ZZZZ-0000"}}, nil).wantStatus(t, http.StatusOK).body)
		if !strings.Contains(page, `data-genuine="false"`) || !strings.Contains(page, "We did not send this") {
			t.Errorf("forged page:\n%s", page)
		}
		r := anon.post("/check", url.Values{"csrf": {tok}, "ref": {"click here"}}, nil)
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "MB-7K3Q-9D2F") {
			t.Errorf("no code: %d", r.status)
		}
		if r := anon.do(request{method: "GET", path: "/check?ref=" + url.QueryEscape(n.Ref)}); !strings.Contains(string(r.body), `data-genuine="true"`) {
			t.Errorf("GET /check?ref=: %d", r.status)
		}
	})
}
