// Package migrations holds paydesk's numbered SQL migrations, embedded into
// the binary and applied by goose (see store.Migrate).
package migrations

import "embed"

// FS holds every migration file, named NNNNN_description.sql.
//
//go:embed *.sql
var FS embed.FS
