package monban

import _ "embed"

// OpenAPI is docs/openapi.yaml, served at /api/openapi.yaml.
//
//go:embed docs/openapi.yaml
var OpenAPI []byte
