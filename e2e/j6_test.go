package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/notices"
)

// TestJ6NoticeIsReal is journey J6 (seed 002): a genuine lock notice is in
// the account's message center and the public check page confirms it by its
// reference code, pasted as the whole email; a forged "your account is
// locked" email's code is reported as not ours, with how to report it.
func TestJ6NoticeIsReal(t *testing.T) {
	srv := startServer(t)
	const user, email, password = "j6_taro", "taro.j6@example.jp", "violet harbor quietly sings"
	body, _ := json.Marshal(map[string]string{"username": user, "email": email, "password": password})
	resp, err := http.Post(srv.URL+"/api/v1/accounts", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %v %v", resp, err)
	}
	var reg struct {
		AccountID string `json:"account_id"`
	}
	json.NewDecoder(resp.Body).Decode(&reg)
	resp.Body.Close()

	// The lock notice, as the risk engine will send it.
	n, err := srv.Notices.Send(context.Background(), reg.AccountID, monban.TopicAccountLocked,
		map[string]string{"until": time.Now().Add(24 * time.Hour).Format(time.RFC3339)},
		notices.Options{To: []notices.Recipient{{Channel: monban.ChannelEmail, Address: email}}})
	if err != nil {
		t.Fatal(err)
	}
	// The worker renders it into the dev outbox: that is the email as the
	// person receives it.
	var mail string
	waitFor(t, "the lock email in the dev outbox", func() bool {
		ms, err := srv.DB.DevMessages(context.Background(), 10)
		for _, m := range ms {
			if err == nil && m.Template == "notice.account.locked" {
				mail = m.Subject + "\n\n" + m.Body
			}
		}
		return mail != ""
	})
	if !strings.Contains(mail, n.Ref) || strings.Contains(mail, "/signin") {
		t.Fatalf("the email lacks its reference or links to sign-in:\n%s", mail)
	}

	t.Run("genuine", func(t *testing.T) {
		b, a := startBrowser(t, srv.URL)
		a.open("/signin")
		a.fill("#identifier", user)
		a.fill("#password", password)
		a.follow("#submit")
		a.open("/messages")
		a.expectPage("/messages", "ja", "メッセージ")
		item := a.text(`li.notice-item[data-ref="` + n.Ref + `"]`)
		if !strings.Contains(item, "アカウントのロック") || !strings.Contains(item, "未読") || !strings.Contains(item, n.Ref) {
			t.Errorf("message center entry: %q", item)
		}
		a.shot("message-center")

		// Signed out, as the person checking a suspicious email would be.
		c := b.newIsolatedTab("c")
		c.open("/check")
		c.expectPage("/check", "ja", "このメッセージは本物？")
		c.do("paste the email", chromedp.SetValue(chromedp.CSS("#ref"), mail))
		c.shot("check-pasted-email")
		c.follow("#check-submit")
		if got := c.eval(`document.querySelector("#verdict").dataset.genuine`); got != "true" {
			t.Fatalf("verdict genuine=%s: %s", got, c.text("main"))
		}
		verdict := c.text("#verdict-text")
		if !strings.Contains(verdict, n.Ref) || !strings.Contains(verdict, "t***@example.jp") || !strings.Contains(verdict, "アカウントのロック") {
			t.Errorf("verdict: %q", verdict)
		}
		c.shot("check-genuine")
	})

	t.Run("forged", func(t *testing.T) {
		_, c := startBrowser(t, srv.URL)
		forged := "【monban】お客様のアカウントはロックされました。24時間以内に下記から本人確認をしてください。\n" +
			"http://monban-secure-login.example.com/signin\n参照コード: MB-4XQ7-KP2M"
		c.open("/check")
		c.do("paste the forged email", chromedp.SetValue(chromedp.CSS("#ref"), forged))
		c.follow("#check-submit")
		if got := c.eval(`document.querySelector("#verdict").dataset.genuine`); got != "false" {
			t.Fatalf("verdict genuine=%s: %s", got, c.text("main"))
		}
		verdict := c.text("#verdict-text")
		if !strings.Contains(verdict, "MB-4XQ7-KP2M") || !strings.Contains(verdict, "お送りしたことはありません") ||
			!strings.Contains(verdict, "antiphishing.jp") {
			t.Errorf("verdict: %q", verdict)
		}
		c.shot("check-forged")
		// In English too, by the code alone.
		c.open("/check?lang=en&ref=mb-4xq7-kp2m")
		if !strings.Contains(c.text("#verdict"), "We did not send this") {
			t.Errorf("en verdict: %q", c.text("#verdict"))
		}
		c.shot("check-forged-en")
	})
}
