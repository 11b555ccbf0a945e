package web

// RouteAccess is one row of the route table as the table tests see it.
type RouteAccess struct {
	Pattern string
	Kind    string // page, form, api, raw
	Who     string
	Secrets []string
}

// RouteTable returns who may call each route and the secrets it checks.
func RouteTable(s *Server) []RouteAccess {
	var out []RouteAccess
	for _, rt := range s.routes() {
		ra := RouteAccess{Pattern: rt.pattern, Kind: [...]string{"page", "form", "api", "raw"}[rt.kind], Who: string(rt.who)}
		for _, sec := range rt.secrets {
			ra.Secrets = append(ra.Secrets, string(sec))
		}
		out = append(out, ra)
	}
	return out
}

// BadBodies is badBodies for the HTTP scenario tests in web_test.
var BadBodies = badBodies

// GoodBodies is goodBodies for the HTTP scenario tests in web_test.
var GoodBodies = goodBodies

// CatalogKeys lists the keys of one language of the catalog.
func CatalogKeys(c *Catalog, lang string) []string {
	var keys []string
	for k := range c.msgs[lang] {
		keys = append(keys, k)
	}
	return keys
}
