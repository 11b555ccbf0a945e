package web

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/monban-dev/monban"
)

// openAPIDoc is the part of docs/openapi.yaml the tests read.
type openAPIDoc struct {
	OpenAPI string                               `yaml:"openapi"`
	Paths   map[string]map[string]map[string]any `yaml:"paths"`
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	dec := yaml.NewDecoder(bytes.NewReader(monban.OpenAPI))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("docs/openapi.yaml is not valid YAML: %v", err)
	}
	return doc
}

func TestOpenAPIIsVersion31(t *testing.T) {
	var anyDoc map[string]any
	if err := yaml.Unmarshal(monban.OpenAPI, &anyDoc); err != nil {
		t.Fatalf("docs/openapi.yaml is not valid YAML: %v", err)
	}
	doc := loadOpenAPI(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	for _, k := range []string{"info", "paths", "components"} {
		if _, ok := anyDoc[k]; !ok {
			t.Errorf("document has no %q", k)
		}
	}
}

// TestOpenAPIMatchesRoutes fails when an /api/ route is undocumented or the
// document describes a path and method that no route serves.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s, err := New(Config{}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	routes := s.APIRoutes()
	if len(routes) == 0 {
		t.Fatal("no API routes")
	}
	var documented []string
	for path, item := range loadOpenAPI(t).Paths {
		for m := range item {
			if slices.Contains(httpMethods, m) {
				documented = append(documented, strings.ToUpper(m)+" "+path)
			}
		}
	}
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %q is missing from docs/openapi.yaml", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("docs/openapi.yaml documents %q, which is not a route", d)
		}
	}
}

// TestOpenAPIProblemTypes keeps the documented problem types in step with
// the error codes the server maps.
func TestOpenAPIProblemTypes(t *testing.T) {
	doc := string(monban.OpenAPI)
	for code := range statusOf {
		if !strings.Contains(doc, ProblemTypePrefix+string(code)) {
			t.Errorf("docs/openapi.yaml does not list problem type %s%s", ProblemTypePrefix, code)
		}
	}
}

// TestOpenAPIRefsResolve checks every local $ref names a component that
// exists.
func TestOpenAPIRefsResolve(t *testing.T) {
	var root map[string]any
	if err := yaml.Unmarshal(monban.OpenAPI, &root); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if ref, ok := c.(string); ok && k == "$ref" {
					if !resolves(root, ref) {
						t.Errorf("$ref %q does not resolve", ref)
					}
				}
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(root)
}

func resolves(root map[string]any, ref string) bool {
	if !strings.HasPrefix(ref, "#/") {
		return false
	}
	var cur any = root
	for _, part := range strings.Split(ref[2:], "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}
