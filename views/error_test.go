package views

import (
	"net/http"
	"testing"
)

func TestErrorPage(t *testing.T) {
	doc, _ := render(t, ErrorPage(signedIn(), http.StatusForbidden, "Your role cannot issue refunds."))
	if got := text(one(t, doc, "h1")); got != "Forbidden" {
		t.Errorf("h1 %q", got)
	}
	if got := text(one(t, doc, `[data-testid="error-message"]`)); got != "Your role cannot issue refunds." {
		t.Errorf("message %q", got)
	}
	if one(t, doc, `[data-testid="error-page"]`).Find(`a[href="/"]`).Length() != 1 {
		t.Error("no link back to /")
	}

	doc, _ = render(t, ErrorPage(Page{}, 599, ""))
	if got := text(one(t, doc, "h1")); got != "Something went wrong" {
		t.Errorf("unknown status h1 %q", got)
	}
}
