package handlers_test

import (
	"regexp"
	"testing"

	"paydesk/handlers"
	"paydesk/store"
)

// A rendered page reports its server time; the webhook route and other
// non-page answers do not.
func TestPagesReportServerTiming(t *testing.T) {
	e := newStaffEnv(t, handlers.Config{})
	rec := e.do("GET", "/", nil, e.mustLogin(store.RoleViewer))
	if rec.Code != 200 {
		t.Fatalf("GET /: %d", rec.Code)
	}
	if got := rec.Header().Get("Server-Timing"); !regexp.MustCompile(`^app;dur=\d+\.\d{3}$`).MatchString(got) {
		t.Errorf("Server-Timing %q, want app;dur=<ms>", got)
	}
	if got := e.do("GET", "/healthz", nil).Header().Get("Server-Timing"); got != "" {
		t.Errorf("/healthz Server-Timing %q, want none", got)
	}
}
