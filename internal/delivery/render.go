package delivery

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"path"
	"strings"
	texttemplate "text/template"

	"github.com/monban-dev/monban"
)

// Message templates, one directory per family; see templates/README.md.
//
//go:embed templates
var templateFS embed.FS

// Langs are the languages every template exists in; the first is the
// fallback for any other.
var Langs = []string{"ja", "en"}

// ErrUnknownTemplate means no template renders this message on its channel
// in its language; retrying cannot help.
var ErrUnknownTemplate = errors.New("delivery: unknown template")

// Renderer turns an outbox message and its parameters into the text a
// channel sends, in the message's language.
type Renderer struct {
	fromName, fromAddr string
	labels             map[string]map[string]string // lang → template name → label
	sets               map[string]*templateSet      // "dir/lang" → parts
}

// templateSet is one family's parts in one language; nil where a channel
// cannot carry the family.
type templateSet struct {
	sms, voice, subject, emailText *texttemplate.Template
	emailHTML                      *htmltemplate.Template
}

// NewRenderer parses the embedded templates. fromName names the service in
// messages (e.g. "monban" or the host app's name); fromAddr is the email
// sender.
func NewRenderer(fromName, fromAddr string) (*Renderer, error) {
	r := &Renderer{fromName: orDefault(fromName, "monban"), fromAddr: fromAddr, sets: map[string]*templateSet{}}
	b, err := templateFS.ReadFile("templates/labels.json")
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &r.labels); err != nil {
		return nil, fmt.Errorf("delivery: templates/labels.json: %w", err)
	}
	layout, err := htmltemplate.ParseFS(templateFS, "templates/layout.email.html")
	if err != nil {
		return nil, err
	}
	files, err := fs.Glob(templateFS, "templates/*/*.*")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if err := r.parse(f, layout); err != nil {
			return nil, fmt.Errorf("delivery: %s: %w", f, err)
		}
	}
	return r, nil
}

// parse adds one template file, named <dir>/<lang>.<part>.
func (r *Renderer) parse(file string, layout *htmltemplate.Template) error {
	dir := path.Base(path.Dir(file))
	lang, part, _ := strings.Cut(path.Base(file), ".")
	b, err := templateFS.ReadFile(file)
	if err != nil {
		return err
	}
	key := dir + "/" + lang
	set := r.sets[key]
	if set == nil {
		set = &templateSet{}
		r.sets[key] = set
	}
	text := func() (*texttemplate.Template, error) {
		funcs := texttemplate.FuncMap{"spell": func(v any) string { return spell(v, lang) }}
		return texttemplate.New(file).Funcs(funcs).Option("missingkey=error").Parse(string(b))
	}
	switch part {
	case "sms.txt":
		set.sms, err = text()
	case "voice.txt":
		set.voice, err = text()
	case "subject.txt":
		set.subject, err = text()
	case "email.txt":
		set.emailText, err = text()
	case "email.html":
		var t *htmltemplate.Template
		if t, err = layout.Clone(); err == nil {
			set.emailHTML, err = t.Option("missingkey=error").Parse(string(b))
		}
	default:
		err = fmt.Errorf("unknown part %q", part)
	}
	return err
}

// Render renders m for its channel in its language with params (the
// opened payload). The error wraps ErrUnknownTemplate when nothing renders
// m, or reports a template that params do not fill.
func (r *Renderer) Render(m *monban.Message, params map[string]any) (*Outgoing, error) {
	lang := r.lang(m.Lang)
	set, name := r.lookup(m.Template, lang)
	if set == nil {
		return nil, fmt.Errorf("%w %q (%s)", ErrUnknownTemplate, m.Template, lang)
	}
	data := make(map[string]any, len(params)+3)
	for k, v := range params {
		data[k] = v
	}
	data["app"], data["name"], data["lang"] = r.fromName, name, lang
	out := &Outgoing{Message: m, IdempotencyKey: m.ID}
	out.Code, _ = params["code"].(string)
	var err error
	switch m.Channel {
	case monban.ChannelSMS:
		out.Text, err = execText(set.sms, data)
	case monban.ChannelVoice:
		out.Text, err = execText(set.voice, data)
	case monban.ChannelEmail:
		err = r.renderEmail(set, data, out)
	default:
		err = fmt.Errorf("%w %q: channel %q", ErrUnknownTemplate, m.Template, m.Channel)
	}
	if err != nil {
		return nil, fmt.Errorf("render %s (%s, %s): %w", m.Template, lang, m.Channel, err)
	}
	return out, nil
}

func (r *Renderer) renderEmail(set *templateSet, data map[string]any, out *Outgoing) error {
	if set.subject == nil || set.emailText == nil || set.emailHTML == nil {
		return ErrUnknownTemplate
	}
	subject, err := execText(set.subject, data)
	if err != nil {
		return err
	}
	out.Subject = strings.Join(strings.Fields(subject), " ") // one line
	if out.Text, err = execText(set.emailText, data); err != nil {
		return err
	}
	data["subject"] = out.Subject
	var b bytes.Buffer
	if err := set.emailHTML.ExecuteTemplate(&b, "layout", data); err != nil {
		return err
	}
	out.HTML = b.String()
	return nil
}

// lookup finds the templates for name, which always has a dot: a directory
// of that name (e.g. "notice.locked"), or else the family directory (e.g.
// "code" for "code.sign_in") when the labels name the variant.
func (r *Renderer) lookup(name, lang string) (*templateSet, string) {
	family, _, ok := strings.Cut(name, ".")
	if !ok {
		return nil, ""
	}
	label, named := r.labels[lang][name]
	if set := r.sets[name+"/"+lang]; set != nil {
		return set, label
	}
	if !named {
		return nil, ""
	}
	return r.sets[family+"/"+lang], label
}

// lang picks the language to render in.
func (r *Renderer) lang(l string) string {
	l = strings.ToLower(l)
	if i := strings.IndexAny(l, "-_"); i >= 0 {
		l = l[:i]
	}
	for _, s := range Langs {
		if l == s {
			return s
		}
	}
	return Langs[0]
}

func execText(t *texttemplate.Template, data map[string]any) (string, error) {
	if t == nil {
		return "", ErrUnknownTemplate
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}

// spell spaces out the characters of a code for a voice call, e.g.
// "1, 2, 3, 4, 5, 6", so text-to-speech reads it digit by digit with a
// pause between, not as a number.
func spell(v any, lang string) string {
	sep := ", "
	if lang == "ja" {
		sep = "、"
	}
	return strings.Join(strings.Split(fmt.Sprint(v), ""), sep)
}
