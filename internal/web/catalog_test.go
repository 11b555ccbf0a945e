package web

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestCatalogsSameKeys: every message exists in every language, with the
// same {placeholders}.
func TestCatalogsSameKeys(t *testing.T) {
	cat, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	base := cat.msgs[Languages[0]]
	for _, l := range Languages[1:] {
		other := cat.msgs[l]
		for k := range base {
			if _, ok := other[k]; !ok {
				t.Errorf("%q is in %s but not in %s", k, Languages[0], l)
			}
		}
		for k := range other {
			if _, ok := base[k]; !ok {
				t.Errorf("%q is in %s but not in %s", k, l, Languages[0])
			}
		}
	}
	for _, l := range Languages {
		for k, v := range cat.msgs[l] {
			if strings.TrimSpace(v) == "" {
				t.Errorf("%s: %q is empty", l, k)
			}
			if a, b := placeholders(v), placeholders(base[k]); !slices.Equal(a, b) {
				t.Errorf("%q: placeholders %v in %s, %v in %s", k, a, l, b, Languages[0])
			}
		}
	}
}

var placeholder = regexp.MustCompile(`\{([a-z_]+)\}`)

func placeholders(s string) []string {
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// keyPatterns find message keys in Go code: domain errors, the helpers that
// build them, and page titles and texts.
var keyPatterns = []*regexp.Regexp{
	regexp.MustCompile(`Errorf\(\s*(?:monban\.)?E[A-Za-z]+,\s*"([^"]+)"`),
	regexp.MustCompile(`RateLimited\(\s*"([^"]+)"`),
	regexp.MustCompile(`\bKey:\s*"([^"]+)"`),
	regexp.MustCompile(`\b(?:invalid|reject)\(\s*"([a-z_]+\.[a-z_.]+)"`),
	regexp.MustCompile(`\.view\([^,()]+,[^,()]+,\s*"([^"]+)"\)`),
	regexp.MustCompile(`TitleKey\s*=\s*"([^"]+)"`),
	regexp.MustCompile(`\.T\("([^"]+)"`),
	regexp.MustCompile(`\.T\([^,()]+,\s*"([^"]+)"`),
}

// messageKey is the shape of a message id: dotted lower-case words.
var messageKey = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$`)

// templateKey finds {{.T "key"}} and {{$v.T "key"}} in templates.
var templateKey = regexp.MustCompile(`\.T\s+"([^"]+)"`)

// TestCatalogHasEveryKeyInUse: every key the code or a template names is in
// both catalogs, so no user ever sees a raw key.
func TestCatalogHasEveryKeyInUse(t *testing.T) {
	cat, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	used := map[string][]string{} // key → where
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		var patterns []*regexp.Regexp
		switch {
		case strings.HasSuffix(path, "_test.go"):
			return nil
		case strings.HasSuffix(path, ".go"):
			patterns = keyPatterns
		case strings.HasSuffix(path, ".html") && strings.Contains(path, "templates"):
			patterns = []*regexp.Regexp{templateKey}
		default:
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, re := range patterns {
			for _, m := range re.FindAllSubmatch(b, -1) {
				if !messageKey.Match(m[1]) {
					continue // e.g. "problem."+code, or a limit key such as "sms:global"
				}
				used[string(m[1])] = append(used[string(m[1])], rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for code := range statusOf {
		used["problem."+string(code)] = append(used["problem."+string(code)], "internal/web/errors.go statusOf")
	}
	if len(used) < 30 {
		t.Fatalf("found only %d keys in use; the patterns have rotted", len(used))
	}
	for _, k := range []string{"signin.failed", "phone.not_mobile", "password.too_short", "signup.title", "request.too_large"} {
		if _, ok := used[k]; !ok {
			t.Errorf("the scan did not find %q; the patterns have rotted", k)
		}
	}
	for k, where := range used {
		if !cat.Has(k) {
			t.Errorf("key %q (used in %s) is missing from a catalog", k, strings.Join(slices.Compact(where), ", "))
		}
	}
}
