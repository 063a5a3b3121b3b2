package views

import "testing"

func TestAuditPage(t *testing.T) {
	d := AuditData{
		Filter: AuditFilter{Actor: "ada@example.com", Action: "refund.create", From: "2024-05-01", To: "2024-05-31"},
		Rows: []AuditRow{
			{ID: 42, At: "2024-05-03 10:11:12", Actor: "ada@example.com", Action: "refund.create", Target: "ch_123",
				Params: `{"amount":500}`, Outcome: "ok", StripeRequestID: "req_abc", RemoteAddr: "192.0.2.1"},
			{ID: 41, At: "2024-05-02 08:00:00", Actor: "ada@example.com", Action: "refund.create", Target: "ch_122",
				Outcome: "error: card_declined", RemoteAddr: "192.0.2.1"},
		},
		NextURL: "/admin/audit?actor=ada%40example.com&before=41",
	}
	doc, _ := render(t, AuditPage(signedIn(), d))

	if got := text(one(t, doc, "h1")); got != "Audit log" {
		t.Errorf("h1 %q", got)
	}
	filter := one(t, doc, `[data-testid="audit-filter"]`)
	attr(t, filter, "method", "get")
	for name, want := range map[string]string{"actor": d.Filter.Actor, "action": d.Filter.Action, "target": "", "from": d.Filter.From, "to": d.Filter.To} {
		in := one(t, filter, `input[name="`+name+`"]`)
		attr(t, in, "value", want)
		if id := in.AttrOr("id", ""); filter.Find(`label[for="`+id+`"]`).Length() != 1 {
			t.Errorf("%s filter has no label", name)
		}
	}
	attr(t, one(t, filter, `input[name="from"]`), "type", "date")
	attr(t, one(t, filter, `input[name="to"]`), "type", "date")
	if got := text(one(t, filter, `button[type="submit"]`)); got != "Filter" {
		t.Errorf("submit %q", got)
	}

	table := one(t, doc, `[data-testid="audit-table"]`)
	if n := table.Find(`thead th[scope="col"]`).Length(); n != 8 {
		t.Errorf("%d column headers", n)
	}
	rows := table.Find(`[data-testid="audit-row"]`)
	if rows.Length() != 2 {
		t.Fatalf("%d rows", rows.Length())
	}
	first := rows.First().Find("td")
	want := []string{"2024-05-03 10:11:12", "ada@example.com", "refund.create", "ch_123", `{"amount":500}`, "ok", "req_abc", "192.0.2.1"}
	for i, w := range want {
		if got := text(first.Eq(i)); got != w {
			t.Errorf("cell %d %q, want %q", i, got, w)
		}
	}
	if got := text(first.Eq(4).Find("code")); got != `{"amount":500}` {
		t.Errorf("params not in <code>: %q", got)
	}

	next := one(t, doc, `[data-testid="audit-next"]`)
	attr(t, next, "href", d.NextURL)
	if text(next) != "Older entries" {
		t.Errorf("next link %q", text(next))
	}
	if n := doc.Find(`[data-testid="audit-empty"], [data-testid="audit-error"]`).Length(); n != 0 {
		t.Errorf("%d empty/error notes with rows", n)
	}
}

func TestAuditPageEmptyAndError(t *testing.T) {
	doc, _ := render(t, AuditPage(signedIn(), AuditData{}))
	one(t, doc, `[data-testid="audit-empty"]`)
	if n := doc.Find(`[data-testid="audit-next"]`).Length(); n != 0 {
		t.Error("next link without NextURL")
	}

	doc, _ = render(t, AuditPage(signedIn(), AuditData{Error: "Dates are YYYY-MM-DD."}))
	alert := one(t, doc, `[data-testid="audit-error"]`)
	attr(t, alert, "role", "alert")
	if n := doc.Find(`[data-testid="audit-empty"]`).Length(); n != 0 {
		t.Error("empty note beside an error")
	}
}
