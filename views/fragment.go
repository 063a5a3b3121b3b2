package views

import (
	"context"
	"net/http"
)

type fragmentKey struct{}

// WithFragment marks ctx so that Layout renders only its children (plus the
// page's <title>, which htmx moves into the document, and the flash notice)
// instead of the whole document. A handler's render helper sets it for
// requests where WantsFragment is true.
func WithFragment(ctx context.Context) context.Context {
	return context.WithValue(ctx, fragmentKey{}, true)
}

// IsFragment reports whether ctx was marked by WithFragment.
func IsFragment(ctx context.Context) bool {
	v, _ := ctx.Value(fragmentKey{}).(bool)
	return v
}

// WantsFragment reports whether request headers h ask for a fragment: an
// htmx request (HX-Request) that is not boosted (HX-Boosted) and not a
// history restore, both of which replace the whole body and so get the full
// page.
func WantsFragment(h http.Header) bool {
	return h.Get("HX-Request") == "true" &&
		h.Get("HX-Boosted") != "true" &&
		h.Get("HX-History-Restore-Request") != "true"
}
