package monban_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/monban-dev/monban"
)

// TestAuditActionsListed parses the package's Go files and fails on an
// Audit… string constant missing from monban.AuditActions, so a new
// action cannot ship without a label in the console.
func TestAuditActionsListed(t *testing.T) {
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !strings.HasPrefix(n.Name, "Audit") || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					v, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					found++
					if !slices.Contains(monban.AuditActions, v) {
						t.Errorf("%s (%q, %s) is not in monban.AuditActions", n.Name, v, fset.Position(n.Pos()))
					}
				}
			}
		}
	}
	if found == 0 {
		t.Fatal("no Audit… constants found: the parse looked in the wrong place")
	}
	if found != len(monban.AuditActions) {
		t.Errorf("%d Audit… constants, %d in monban.AuditActions (a duplicate or a stale entry)", found, len(monban.AuditActions))
	}
}
