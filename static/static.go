// Package static holds the files served under /static: the stylesheet and
// the vendored htmx, embedded so the binary needs nothing beside it.
//
// htmx.min.js is htmx 2.0.11 (npm package htmx.org@2.0.11, dist/htmx.min.js,
// unmodified; Zero-Clause BSD, see HTMX_LICENSE). htmx-ext-sse.js is the
// htmx SSE extension 2.2.4 (npm htmx-ext-sse@2.2.4, dist/sse.js,
// unmodified; Zero-Clause BSD, see HTMX_EXT_SSE_LICENSE). paydesk-live.js
// is paydesk's own: it refreshes live elements after a missed update.
// README.md says how to check and update the vendored files.
package static

import "embed"

// FS holds paydesk.css and the scripts at its root.
//
//go:embed paydesk.css htmx.min.js htmx-ext-sse.js paydesk-live.js
var FS embed.FS
