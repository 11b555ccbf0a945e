package web_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// banned reads the "not used" table of docs/glossary.md: lang → words.
func banned(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("../../docs/glossary.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		cells := strings.Split(strings.Trim(line, "| "), "|")
		if len(cells) != 3 {
			continue
		}
		lang := strings.TrimSpace(cells[0])
		if lang != "ja" && lang != "en" {
			continue
		}
		for _, w := range strings.Split(cells[2], ",") {
			out[lang] = append(out[lang], strings.TrimSpace(w))
		}
	}
	if len(out["ja"]) == 0 || len(out["en"]) == 0 {
		t.Fatal("docs/glossary.md has no table of words not used")
	}
	return out
}

// TestGlossary: no catalog entry and no message template uses a word the
// glossary rules out, in either language.
func TestGlossary(t *testing.T) {
	bans := banned(t)
	texts := map[string]map[string]string{"ja": {}, "en": {}} // lang → where → text
	for lang := range texts {
		files, _ := filepath.Glob("i18n/" + lang + "/*.json")
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]string
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			for k, v := range m {
				texts[lang][f+": "+k] = v
			}
		}
		tmpls, _ := filepath.Glob("../delivery/templates/*/" + lang + ".*")
		for _, f := range tmpls {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			// Template actions ({{.login_url}}) are not words people read.
			texts[lang][f] = regexp.MustCompile(`\{\{[^}]*\}\}`).ReplaceAllString(string(b), "")
		}
		if len(files) == 0 || len(tmpls) == 0 {
			t.Fatalf("%s: no catalogs or templates found", lang)
		}
	}
	for lang, words := range bans {
		for _, w := range words {
			re := regexp.MustCompile(regexp.QuoteMeta(w))
			if lang == "en" {
				re = regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(w) + `\b`)
			}
			for where, text := range texts[lang] {
				if re.MatchString(text) {
					t.Errorf("%s says %q, which docs/glossary.md rules out: %s", where, w, text)
				}
			}
		}
	}
}

// TestScriptsSpeakThePagesLanguage: no script puts a browser exception's
// text (English whatever the page's language) into what people read.
func TestScriptsSpeakThePagesLanguage(t *testing.T) {
	files, _ := filepath.Glob("static/*.js")
	if len(files) == 0 {
		t.Fatal("no scripts found")
	}
	re := regexp.MustCompile(`(textContent|innerText|innerHTML)\s*=[^;]*\.message\b`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := re.Find(b); m != nil {
			t.Errorf("%s shows an exception's text to people: %s", f, m)
		}
	}
}
