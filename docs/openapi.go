// Package docs carries the documents the daemon serves: the OpenAPI 3.1
// description of the HTTP API (openapi.json, served at GET
// /v1/openapi.json). The file here is the one source: the server embeds
// it, and httpapi's tests check it against a validator and the router.
package docs

import _ "embed"

// OpenAPI is docs/openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte
