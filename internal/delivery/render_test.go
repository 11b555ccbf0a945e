package delivery_test

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/delivery"
)

func newRenderer(t testing.TB) *delivery.Renderer {
	t.Helper()
	r, err := delivery.NewRenderer("monban", "no-reply@example.com")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var codeParams = map[string]any{"code": "123456", "minutes": float64(10)} // as JSON decodes it

func TestRenderEveryPurpose(t *testing.T) {
	r := newRenderer(t)
	for _, p := range monban.Purposes {
		for _, lang := range delivery.Langs {
			for _, ch := range []monban.Channel{monban.ChannelSMS, monban.ChannelVoice, monban.ChannelEmail} {
				m := &monban.Message{ID: "msg_1", Template: "code." + string(p), Lang: lang, Channel: ch}
				out, err := r.Render(m, codeParams)
				if err != nil {
					t.Fatalf("%s %s %s: %v", p, lang, ch, err)
				}
				checkRendered(t, out, lang, ch)
			}
		}
	}
}

func checkRendered(t *testing.T, out *delivery.Outgoing, lang string, ch monban.Channel) {
	t.Helper()
	what := out.Message.Template + " " + lang + " " + string(ch)
	if out.IdempotencyKey != out.Message.ID {
		t.Errorf("%s: idempotency key %q", what, out.IdempotencyKey)
	}
	if strings.Contains(out.Text+out.Subject+out.HTML, "no value") {
		t.Errorf("%s: unfilled parameter:\n%s", what, out.Text)
	}
	switch ch {
	case monban.ChannelSMS:
		// One segment: 70 UCS-2 characters, or 160 GSM-7 ones.
		if n := utf8.RuneCountInString(out.Text); lang == "ja" && n > 70 || n > 160 {
			t.Errorf("%s: %d characters: %s", what, n, out.Text)
		}
		if !strings.Contains(out.Text, "123456") || !strings.Contains(out.Text, "10") {
			t.Errorf("%s: no code or lifetime: %s", what, out.Text)
		}
	case monban.ChannelVoice:
		spelled := "1, 2, 3, 4, 5, 6"
		if lang == "ja" {
			spelled = "1、2、3、4、5、6"
		}
		if strings.Count(out.Text, spelled) != 2 {
			t.Errorf("%s: code not spelled out twice: %s", what, out.Text)
		}
	case monban.ChannelEmail:
		if out.Subject == "" || strings.Contains(out.Subject, "123456") || strings.ContainsAny(out.Subject, "\r\n") {
			t.Errorf("%s: subject %q (one line, without the code)", what, out.Subject)
		}
		if !strings.Contains(out.Text, "123456") || !strings.Contains(out.HTML, "123456") {
			t.Errorf("%s: code missing", what)
		}
		for _, bad := range []string{"<img", "href=", "src=", "url("} {
			if strings.Contains(out.HTML, bad) {
				t.Errorf("%s: HTML holds %q: no images or links", what, bad)
			}
		}
		if !strings.Contains(out.HTML, `<html lang="`+lang+`">`) {
			t.Errorf("%s: HTML language", what)
		}
	}
}

func TestRenderExamples(t *testing.T) {
	r := newRenderer(t)
	out, err := r.Render(&monban.Message{Template: "code.sign_in", Lang: "ja", Channel: monban.ChannelSMS}, codeParams)
	if err != nil {
		t.Fatal(err)
	}
	if want := "【monban】確認コード 123456（ログイン用・10分間有効）。他人に教えないでください。"; out.Text != want {
		t.Errorf("ja SMS:\n got %s\nwant %s", out.Text, want)
	}
	out, err = r.Render(&monban.Message{Template: "code.new_device", Lang: "en-US", Channel: monban.ChannelSMS}, codeParams)
	if err != nil {
		t.Fatal(err)
	}
	if want := "monban: 123456 is your code for a new device (valid 10 min). Never share it."; out.Text != want {
		t.Errorf("en SMS:\n got %s\nwant %s", out.Text, want)
	}
	// An unknown language falls back to Japanese.
	out, err = r.Render(&monban.Message{Template: "code.sign_in", Lang: "fr", Channel: monban.ChannelEmail}, codeParams)
	if err != nil || !strings.HasPrefix(out.Subject, "【monban】") {
		t.Errorf("fr falls back to ja: %q %v", out.Subject, err)
	}
}

func TestRenderEscapesHTML(t *testing.T) {
	r, err := delivery.NewRenderer(`<b>"App"</b>`, "no-reply@example.com")
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Render(&monban.Message{Template: "code.sign_in", Lang: "en", Channel: monban.ChannelEmail},
		map[string]any{"code": "<script>", "minutes": 10})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.HTML, "<script>") || strings.Contains(out.HTML, "<b>") {
		t.Errorf("HTML not escaped:\n%s", out.HTML)
	}
}

func TestRenderRefuses(t *testing.T) {
	r := newRenderer(t)
	for _, tt := range []struct {
		name     string
		m        monban.Message
		params   map[string]any
		template bool // the error is ErrUnknownTemplate
	}{
		{"unknown family", monban.Message{Template: "nope.sign_in", Channel: monban.ChannelSMS}, codeParams, true},
		{"unknown purpose", monban.Message{Template: "code.nope", Channel: monban.ChannelSMS}, codeParams, true},
		{"bare family", monban.Message{Template: "code", Channel: monban.ChannelSMS}, codeParams, true},
		{"path", monban.Message{Template: "../code.sign_in", Channel: monban.ChannelSMS}, codeParams, true},
		{"unknown channel", monban.Message{Template: "code.sign_in", Channel: "fax"}, codeParams, true},
		{"missing code", monban.Message{Template: "code.sign_in", Channel: monban.ChannelSMS}, map[string]any{"minutes": 10}, false},
	} {
		_, err := r.Render(&tt.m, tt.params)
		if err == nil || errors.Is(err, delivery.ErrUnknownTemplate) != tt.template {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

// TestTemplatesInEveryLanguage keeps the set complete: each family has the
// same parts in every language, and the labels name the same variants.
func TestTemplatesInEveryLanguage(t *testing.T) {
	root := os.DirFS("templates")
	parts := map[string]map[string]bool{} // family → "part" → present in lang…
	files, err := fs.Glob(root, "*/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		lang, part, _ := strings.Cut(path.Base(f), ".")
		key := path.Dir(f) + " " + part
		if parts[key] == nil {
			parts[key] = map[string]bool{}
		}
		parts[key][lang] = true
	}
	for key, langs := range parts {
		for _, lang := range delivery.Langs {
			if !langs[lang] {
				t.Errorf("%s: missing in %s", key, lang)
			}
		}
	}
}
