package web

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"strings"

	"golang.org/x/text/language"
)

// Each language is a folder of JSON files, one per capability, merged at
// load; a key may appear in only one file.
//
//go:embed i18n/*/*.json
var catalogFS embed.FS

// Languages monban speaks, the default first.
var Languages = []string{"ja", "en"}

// Catalog holds the user-facing text in every language.
type Catalog struct {
	msgs    map[string]map[string]string // lang → key → text
	matcher language.Matcher
}

// LoadCatalog reads the embedded catalogs.
func LoadCatalog() (*Catalog, error) {
	c := &Catalog{msgs: map[string]map[string]string{}}
	var tags []language.Tag
	for _, l := range Languages {
		m, err := loadLanguage(l)
		if err != nil {
			return nil, err
		}
		c.msgs[l] = m
		tags = append(tags, language.Make(l))
	}
	c.matcher = language.NewMatcher(tags)
	return c, nil
}

func loadLanguage(lang string) (map[string]string, error) {
	files, err := fs.Glob(catalogFS, "i18n/"+lang+"/*.json")
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("catalog %s: no files", lang)
	}
	m := map[string]string{}
	for _, f := range files {
		b, err := catalogFS.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("catalog %s: %w", f, err)
		}
		part := map[string]string{}
		if err := json.Unmarshal(b, &part); err != nil {
			return nil, fmt.Errorf("catalog %s: %w", f, err)
		}
		for k, v := range part {
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("catalog %s: %q is defined twice", f, k)
			}
			m[k] = v
		}
	}
	return m, nil
}

// T translates key into lang, filling {name} placeholders from params. A
// missing key shows itself, which the catalog test forbids.
func (c *Catalog) T(lang, key string, params map[string]any) string {
	s, ok := c.msgs[lang][key]
	if !ok {
		s, ok = c.msgs[Languages[0]][key]
		if !ok {
			return key
		}
	}
	if len(params) == 0 || !strings.Contains(s, "{") {
		return s
	}
	for k, v := range params {
		s = strings.ReplaceAll(s, "{"+k+"}", fmt.Sprint(v))
	}
	return s
}

// Has reports whether every language has key.
func (c *Catalog) Has(key string) bool {
	for _, l := range Languages {
		if _, ok := c.msgs[l][key]; !ok {
			return false
		}
	}
	return true
}

// LangCookie stores an explicit language choice.
const LangCookie = "monban_lang"

// Lang picks the language of a request: an explicit ?lang=, then the
// language cookie, then Accept-Language, then Japanese.
func (c *Catalog) Lang(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); c.known(l) {
		return l
	}
	if ck, err := r.Cookie(LangCookie); err == nil && c.known(ck.Value) {
		return ck.Value
	}
	if al := r.Header.Get("Accept-Language"); al != "" {
		tags, _, err := language.ParseAcceptLanguage(al)
		if err == nil && len(tags) > 0 {
			_, idx, conf := c.matcher.Match(tags...)
			if conf != language.No {
				return Languages[idx]
			}
		}
	}
	return Languages[0]
}

func (c *Catalog) known(l string) bool {
	_, ok := c.msgs[l]
	return ok
}
