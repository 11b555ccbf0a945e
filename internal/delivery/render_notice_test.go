package delivery_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/monban-dev/monban"
)

// noticeParams is what notices.Service seals into a message: every optional
// parameter present, empty when not given.
func noticeParams(extra map[string]any) map[string]any {
	p := map[string]any{"ref": "MB-7K3Q-9D2F", "check_url": "https://id.example.jp/check", "site": "id.example.jp",
		"sent_at": "2026年3月14日 15:09（日本時間）", "until": "", "device": "", "ip": "", "kind": "", "restore_url": "",
		"factor": "", "case_ref": "", "status": "", "status_url": "", "approve_url": approveURL, "disabled": "", "how": ""}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

// approveURL is the one-time link of a sign-in approval: always given.
const approveURL = "https://id.example.jp/approve/psi_1.tok"

// TestRenderEveryNotice: every topic renders by email and SMS in both
// languages, prints the reference and the check page, and links to nothing
// but a restore page.
func TestRenderEveryNotice(t *testing.T) {
	r := newRenderer(t)
	for _, topic := range monban.Topics {
		for _, lang := range []string{"ja", "en"} {
			for _, extra := range []map[string]any{nil, {"until": "3月15日", "device": "iPhone", "ip": "192.0.2.1",
				"kind": "phone", "restore_url": "https://id.example.jp/restore/tok", "factor": "TOTP",
				"case_ref": "C-1234", "status": "answered", "status_url": "https://id.example.jp/cases/x", "how": "rollback"}} {
				for _, ch := range []monban.Channel{monban.ChannelEmail, monban.ChannelSMS} {
					m := &monban.Message{ID: "msg_1", Template: "notice." + topic, Lang: lang, Channel: ch}
					out, err := r.Render(m, noticeParams(extra))
					if err != nil {
						t.Fatalf("%s %s %s: %v", topic, lang, ch, err)
					}
					what := topic + " " + lang + " " + string(ch)
					all := out.Subject + out.Text + out.HTML
					if strings.Contains(all, "no value") || strings.Contains(all, "{{") {
						t.Errorf("%s: unfilled parameter:\n%s", what, out.Text)
					}
					if !strings.Contains(out.Text, "MB-7K3Q-9D2F") {
						t.Errorf("%s: no reference: %s", what, out.Text)
					}
					if ch == monban.ChannelSMS {
						// The approval SMS is its link; the words around it still fit one segment.
						text := out.Text
						if topic == monban.TopicSignInApproval {
							if !strings.Contains(text, approveURL) {
								t.Errorf("%s: no approval link: %s", what, text)
							}
							text = strings.Replace(text, approveURL, "", 1)
						}
						if n := utf8.RuneCountInString(text); lang == "ja" && n > 70 || n > 160 {
							t.Errorf("%s: %d characters: %s", what, n, out.Text)
						}
						if strings.Contains(text, "http") && !strings.Contains(text, "/check") {
							t.Errorf("%s: SMS links: %s", what, out.Text)
						}
						continue
					}
					if !strings.Contains(out.Text, "https://id.example.jp/check") || !strings.Contains(out.HTML, "MB-7K3Q-9D2F") {
						t.Errorf("%s: no check page or reference in HTML", what)
					}
					hrefs := strings.Count(out.HTML, "href=")
					wantHrefs := 0
					if topic == monban.TopicContactChanged && extra != nil {
						wantHrefs = 1
						if !strings.Contains(out.HTML, `href="https://id.example.jp/restore/tok"`) {
							t.Errorf("%s: restore link missing", what)
						}
					}
					if topic == monban.TopicSignInApproval {
						wantHrefs = 1
						if !strings.Contains(out.HTML, `href="`+approveURL+`"`) || !strings.Contains(out.Text, approveURL) {
							t.Errorf("%s: approval link missing", what)
						}
					}
					if hrefs != wantHrefs || strings.Contains(out.HTML, "<img") {
						t.Errorf("%s: %d links (want %d) or an image", what, hrefs, wantHrefs)
					}
					if strings.Contains(strings.ToLower(all), "/signin") {
						t.Errorf("%s: links to sign-in", what)
					}
				}
			}
		}
	}
}

// TestUnlockAfterRollbackApologises: an unlock after a faulty rule was
// rolled back says, in every channel and language, that the lock was the
// service's mistake, apologises and that nothing is needed; a plain unlock
// does not.
func TestUnlockAfterRollbackApologises(t *testing.T) {
	r := newRenderer(t)
	want := map[string][]string{"ja": {"申し訳ありません", "誤り"}, "en": {"sorry", "by mistake"}}
	nothing := map[string]string{"ja": "必要はありません", "en": "nothing"}
	for _, lang := range []string{"ja", "en"} {
		for _, ch := range []monban.Channel{monban.ChannelEmail, monban.ChannelSMS} {
			for _, how := range []string{"rollback", ""} {
				m := &monban.Message{ID: "msg_1", Template: "notice." + monban.TopicAccountUnlocked, Lang: lang, Channel: ch}
				out, err := r.Render(m, noticeParams(map[string]any{"how": how}))
				if err != nil {
					t.Fatal(err)
				}
				text := strings.ToLower(out.Subject + out.Text)
				for _, w := range append(want[lang], nothing[lang]) {
					if has := strings.Contains(text, strings.ToLower(w)); has != (how == "rollback") {
						t.Errorf("%s %s how=%q: contains %q = %v:\n%s", lang, ch, how, w, has, out.Text)
					}
				}
			}
		}
	}
}
