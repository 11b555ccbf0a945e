package web

import "testing"

// TestDeskLabels: every value the domain has, of every kind the console
// shows, has a label in every language, and the label is not the value
// itself in Japanese, so a new purpose, status, step or factor cannot ship unlabelled.
func TestDeskLabels(t *testing.T) {
	cat, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	for kind, k := range deskLabelKinds {
		for _, v := range k.Values() {
			if !cat.Has(k.Prefix + v) {
				t.Errorf("%s %q: no %s%s in every language", kind, v, k.Prefix, v)
				continue
			}
			if got := cat.T("ja", k.Prefix+v, nil); got == v {
				t.Errorf("%s %q is labelled with itself in Japanese", kind, v)
			}
		}
	}
}
