package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/monban-dev/monban/internal/clocktest"
)

// TestHumanOnEveryFailurePage walks every page template: each shows the
// "None of these work" box unless noHuman names it with a reason, the
// layout (which every page uses) includes the one partial, and the error
// page shows it for limits and refusals. A new page cannot forget it.
func TestHumanOnEveryFailurePage(t *testing.T) {
	p, err := loadPages()
	if err != nil {
		t.Fatal(err)
	}
	layout, _ := templateFS.ReadFile("templates/layout.html")
	if !strings.Contains(string(layout), `{{template "human" .}}`) {
		t.Fatal("the layout does not include the human partial")
	}
	s := &Server{clock: clocktest.New(time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC))}
	for name, set := range p.set {
		if set.Lookup("human") == nil {
			t.Errorf("page %s is parsed without the human partial", name)
		}
		v := &View{Lang: "ja"}
		url := s.humanURL(name, v, http.StatusOK)
		_, exempt := noHuman[name]
		switch {
		case name == "error":
		case exempt && url != "":
			t.Errorf("%s is exempt but gets %s", name, url)
		case !exempt && !strings.HasPrefix(url, "/support/new?category="):
			t.Errorf("%s: no support link (%q); add it or name it in noHuman with the reason", name, url)
		}
	}
	for name := range noHuman {
		if _, ok := p.set[name]; !ok {
			t.Errorf("noHuman names %s, which is no page", name)
		}
	}
	for status, want := range map[int]string{http.StatusTooManyRequests: "flow=limit", http.StatusForbidden: "flow=error", http.StatusNotFound: ""} {
		got := s.humanURL("error", &View{Lang: "ja"}, status)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("error page %d: %q, want %q", status, got, want)
		}
	}
}
