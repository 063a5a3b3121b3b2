package views

import (
	"strings"
	"testing"
)

func TestHomePage(t *testing.T) {
	d := HomeData{Customers: 1234567, Invoices: 89, Charges: 1000, Refunds: 0,
		QueuedEvents: 12, FailedEvents: 3, OtherAPIVersionEvents: 7, ShowEvents: true}
	doc, _ := render(t, HomePage(signedIn(), d))

	if got := text(one(t, doc, "h1")); got != "Overview" {
		t.Errorf("h1 %q", got)
	}
	for id, want := range map[string]string{
		"count-customers": "1,234,567", "count-invoices": "89", "count-charges": "1,000", "count-refunds": "0",
		"count-queued-events": "12", "count-failed-events": "3", "count-other-api-version-events": "7",
	} {
		if got := text(one(t, doc, `[data-testid="`+id+`"]`)); got != want {
			t.Errorf("%s = %q, want %q", id, got, want)
		}
	}
	note := text(one(t, doc, `[data-testid="api-version-note"]`))
	if !strings.Contains(note, "2023-10-16") || !strings.Contains(note, "re-fetches") {
		t.Errorf("API version note %q", note)
	}
}

func TestHomePageHidesEventsFromNonAdmins(t *testing.T) {
	doc, _ := render(t, HomePage(signedIn(), HomeData{QueuedEvents: 5}))
	if n := doc.Find(`[data-testid="event-queue"], [data-testid="count-queued-events"]`).Length(); n != 0 {
		t.Errorf("event queue shown without ShowEvents")
	}
	one(t, doc, `[data-testid="count-customers"]`)
}

func TestFormatCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234: "-1,234", 9223372036854775807: "9,223,372,036,854,775,807"} {
		if got := formatCount(n); got != want {
			t.Errorf("formatCount(%d) = %q, want %q", n, got, want)
		}
	}
}
