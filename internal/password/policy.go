package password

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/monban-dev/monban"
)

// Length limits in Unicode code points after NFKC (NIST SP 800-63B-4
// §3.1.1.2). MaxLen is far above the 64 that must be allowed, and low enough
// that hashing a pasted novel is not a denial of service.
const (
	MinLenSingleFactor = 15
	MinLenTwoStep      = 8
	MaxLen             = 256
)

// ServiceName is always a context word.
const ServiceName = "monban"

// minContextWord is the shortest context word looked for: shorter ones
// ("ken", "abe") occur by chance in good passwords.
const minContextWord = 4

// Policy decides whether a new password may be used.
type Policy struct {
	serviceWords []string
}

// NewPolicy returns a Policy that also refuses passwords containing any of
// serviceWords (the host app's name, for example), besides "monban".
func NewPolicy(serviceWords ...string) *Policy {
	p := &Policy{}
	for _, w := range append([]string{ServiceName}, serviceWords...) {
		p.serviceWords = append(p.serviceWords, contextTerms(w)...)
	}
	blocklist() // load now, not on the first sign-up
	return p
}

// Check returns nil if pw may be used, or an EInvalid *monban.Error on field
// "password" whose key says why: password.too_short {min},
// password.too_long {max}, password.context {word}, password.common or
// password.repetitive. twoStep says whether the account has 2-step
// verification on; contextWords are the account's username, email address
// (its local part is used) and the like.
func (p *Policy) Check(pw string, twoStep bool, contextWords ...string) error {
	pw = norm.NFKC.String(pw)
	n := utf8.RuneCountInString(pw)
	min := MinLenSingleFactor
	if twoStep {
		min = MinLenTwoStep
	}
	switch {
	case n < min:
		return reject("password.too_short").WithParams(map[string]any{"min": min})
	case n > MaxLen:
		return reject("password.too_long").WithParams(map[string]any{"max": MaxLen})
	}
	lower := strings.ToLower(pw)
	if w := p.contextWord(lower, contextWords); w != "" {
		return reject("password.context").WithParams(map[string]any{"word": w})
	}
	if isCommon(lower) {
		return reject("password.common")
	}
	if isRepetitive(lower) {
		return reject("password.repetitive")
	}
	return nil
}

func reject(key string) *monban.Error {
	return monban.Errorf(monban.EInvalid, key).WithField("password")
}

func (p *Policy) contextWord(lower string, words []string) string {
	for _, w := range words {
		for _, t := range contextTerms(w) {
			if strings.Contains(lower, t) {
				return t
			}
		}
	}
	for _, t := range p.serviceWords {
		if strings.Contains(lower, t) {
			return t
		}
	}
	return ""
}

// contextTerms turns a username, email address or name into the lower-case
// terms to look for: the whole (minus a leading "@" and, for an email, the
// domain) and each of its letter-or-digit runs ("taro.yamada" gives
// "taro.yamada", "taro" and "yamada"), keeping those of at least
// minContextWord characters.
func contextTerms(w string) []string {
	w = strings.ToLower(norm.NFKC.String(strings.TrimSpace(w)))
	w = strings.TrimPrefix(w, "@")
	if at := strings.LastIndexByte(w, '@'); at > 0 {
		w = w[:at]
	}
	var terms []string
	add := func(t string) {
		if utf8.RuneCountInString(t) >= minContextWord && !slices.Contains(terms, t) {
			terms = append(terms, t)
		}
	}
	add(w)
	for _, f := range strings.FieldsFunc(w, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		add(f)
	}
	return terms
}

//go:embed blocklist.txt.gz
var blocklistGz []byte

// blocklist is the sorted embedded list, decompressed once.
var blocklist = sync.OnceValue(func() []string {
	zr, err := gzip.NewReader(bytes.NewReader(blocklistGz))
	if err != nil {
		panic("password: embedded blocklist: " + err.Error())
	}
	list := make([]string, 0, 50000)
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		list = append(list, sc.Text())
	}
	if err := sc.Err(); err != nil {
		panic("password: embedded blocklist: " + err.Error())
	}
	slices.Sort(list)
	return slices.Compact(list)
})

func listed(s string) bool {
	_, ok := slices.BinarySearch(blocklist(), s)
	return ok
}

// minCore is the shortest remainder, once digits and punctuation around it
// are dropped, that is looked up: "abc" + 12 random digits is not weak for
// being "abc".
const minCore = 4

// isCommon reports whether lower (already lower-case) is on the list or is
// a trivial variant of a listed password: digits or punctuation added before,
// after or inside ("Password123456!", "Summer2024!Summer"), look-alike
// substitutions ("p@ssw0rd"), or a listed password repeated
// ("iloveyouiloveyou").
func isCommon(lower string) bool {
	seen := map[string]bool{}
	for _, v := range variants(lower) {
		if seen[v] {
			continue
		}
		seen[v] = true
		if listed(v) {
			return true
		}
		if u := repeatUnit(v); u != v && utf8.RuneCountInString(u) >= minCore && listed(u) {
			return true
		}
	}
	return false
}

// variants returns lower, its core with leading and trailing digits and
// punctuation removed, its letters alone after undoing look-alikes, and the
// look-alike decodings of all of them (each only if long enough).
func variants(lower string) []string {
	out := []string{lower}
	noSpace := strings.Join(strings.Fields(lower), "")
	if noSpace != lower {
		out = append(out, noSpace)
	}
	for _, s := range out {
		core := strings.TrimFunc(s, func(r rune) bool { return unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) })
		if core != s && utf8.RuneCountInString(core) >= minCore {
			out = append(out, core)
		}
	}
	// Separators and digits inside: "passw0rd!passw0rd", "Summer2024!Summer".
	for _, s := range []string{lower, inWordLeet.Replace(lower)} {
		letters := strings.Map(func(r rune) rune {
			if unicode.IsLetter(r) {
				return r
			}
			return -1
		}, s)
		if letters != lower && utf8.RuneCountInString(letters) >= minCore {
			out = append(out, letters)
		}
	}
	for _, s := range out {
		for _, r := range leet {
			if d := r.Replace(s); d != s {
				out = append(out, d)
			}
		}
	}
	return out
}

// leet undoes common look-alike substitutions; "1" is ambiguous, so two
// decodings are tried.
var leet = []*strings.Replacer{
	strings.NewReplacer("@", "a", "4", "a", "3", "e", "0", "o", "1", "i", "!", "i", "$", "s", "5", "s", "7", "t", "+", "t"),
	strings.NewReplacer("@", "a", "4", "a", "3", "e", "0", "o", "1", "l", "!", "l", "$", "s", "5", "s", "7", "t", "+", "t"),
}

// inWordLeet undoes the look-alikes that stand for letters inside a word,
// leaving "!" and "+" as the separators they usually are.
var inWordLeet = strings.NewReplacer("@", "a", "4", "a", "3", "e", "0", "o", "1", "i", "$", "s", "5", "s", "7", "t")

// repeatUnit returns the shortest u such that s is u repeated whole, or s.
func repeatUnit(s string) string {
	r := []rune(s)
	for p := 1; p <= len(r)/2; p++ {
		if len(r)%p == 0 && periodic(r, p) {
			return string(r[:p])
		}
	}
	return s
}

func periodic(r []rune, p int) bool {
	for i := p; i < len(r); i++ {
		if r[i] != r[i-p] {
			return false
		}
	}
	return true
}
