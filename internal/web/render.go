package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"time"

	"github.com/monban-dev/monban/internal/humantime"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pages holds one parsed template set per page, each with the layout.
type pages struct {
	set map[string]*template.Template
}

var pageFuncs = template.FuncMap{
	// Pages show Japan time: the service's users are in Japan first.
	"fmtTime": humantime.Date,
}

// nextTry prints a next allowed try, rounded up (humantime.NextTry).
var nextTry = humantime.NextTry

func loadPages() (*pages, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{set: map[string]*template.Template{}}
	// Files named "_x.html" are partials every page may include, e.g.
	// {{template "reach" .}}.
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" || base[0] == '_' {
			continue // the layout and the partials every page shares
		}
		t, err := template.New("layout.html").Funcs(pageFuncs).ParseFS(templateFS, "templates/layout.html", "templates/_*.html", n)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", n, err)
		}
		p.set[base[:len(base)-len(".html")]] = t
	}
	return p, nil
}

// View is the data every page gets.
type View struct {
	s         *Server
	Lang      string
	OtherLang string
	LangURL   string // the same page in the other language
	TitleKey  string
	CSRF      string
	Dev       bool
	SignedIn  bool
	Error     string
	Notice    string
	ErrField  string
	Status    int
	Form      url.Values
	Data      any
	Reach     *reachView // a code page's "where is my code" (partial "reach")
	HumanURL  string     // the support form for "None of these work", set by render
}

// T translates a key for the page's language.
func (v *View) T(key string, params ...any) string {
	var m map[string]any
	switch len(params) {
	case 0:
	case 1:
		m, _ = params[0].(map[string]any)
	default:
		m = map[string]any{}
		for i := 0; i+1 < len(params); i += 2 {
			m[fmt.Sprint(params[i])] = params[i+1]
		}
	}
	return v.s.cat.T(v.Lang, key, m)
}

// NextTry shows when something is allowed again (a limit, a lock, a
// resend), rounded up as humantime.RetryAt: the same moment as retry_at.
func (v *View) NextTry(t time.Time) string { return humantime.NextTry(v.Lang, t, v.s.clock.Now()) }

// Title is the page title.
func (v *View) Title() string { return v.T(v.TitleKey) + " — " + v.s.cfg.ServiceName }

// view prepares the common page data and makes sure the browser has a
// device cookie (forms are bound to it).
func (s *Server) view(w http.ResponseWriter, r *http.Request, titleKey string) *View {
	lang := s.cat.Lang(r)
	if q := r.URL.Query().Get("lang"); q == lang {
		http.SetCookie(w, &http.Cookie{Name: LangCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
			Secure: !s.cfg.Dev, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	other := "en"
	if lang == "en" {
		other = "ja"
	}
	q := url.Values{}
	for k, v := range r.URL.Query() {
		q[k] = v
	}
	q.Set("lang", other)
	langURL := r.URL.Path + "?" + q.Encode()
	if r.Method != http.MethodGet {
		langURL = r.URL.Path + "?lang=" + other
	}
	dev := s.ensureDevice(w, r)
	return &View{s: s, Lang: lang, OtherLang: other, LangURL: langURL, TitleKey: titleKey,
		CSRF: s.csrfToken(dev), Dev: s.cfg.Dev, Form: url.Values{}}
}

// render executes a page into a buffer first, so a template error never
// sends half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, v *View) {
	t, ok := s.pages.set[name]
	if !ok {
		s.writeProblem(w, r, fmt.Errorf("no page %q", name))
		return
	}
	v.HumanURL = s.humanURL(name, v, status)
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		s.log.ErrorContext(r.Context(), "render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", v.Lang)
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Accept-Language, Cookie")
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

func staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	fsrv := http.FileServerFS(sub)
	return http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	}))
}
