// Package static holds the files served under /static: the stylesheet and
// the vendored htmx, embedded so the binary needs nothing beside it.
//
// htmx.min.js is htmx 2.0.11 (npm package htmx.org@2.0.11, dist/htmx.min.js,
// unmodified; Zero-Clause BSD, see HTMX_LICENSE). README.md says how to
// check and update it.
package static

import "embed"

// FS holds paydesk.css and htmx.min.js at its root.
//
//go:embed paydesk.css htmx.min.js
var FS embed.FS
