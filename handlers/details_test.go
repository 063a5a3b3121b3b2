package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"paydesk/handlers"
	"paydesk/store"
)

// Text a customer, Stripe or an attacker can put into names, descriptions
// and metadata: each must reach the page as text.
const detailHostile = `<script>alert(1)</script><img src=x onerror=alert(2)> ` + "\u202Eevil.exe Zoë 💸🧾"

// detailZone is the display time zone of the detail tests: nine hours
// ahead of UTC, so a date shown in UTC would be visibly wrong.
var detailZone = time.FixedZone("JST", 9*3600)

type detailEnv struct {
	*staffEnv
	cookie *http.Cookie
}

func newDetailEnv(t *testing.T) *detailEnv {
	t.Helper()
	e := newStaffEnv(t, handlers.Config{Location: detailZone})
	return &detailEnv{staffEnv: e, cookie: e.mustLogin(store.RoleViewer)}
}

// page fetches path as a signed-in viewer and parses it, failing unless it
// answers want.
func (e *detailEnv) page(path string, want int) *goquery.Document {
	e.t.Helper()
	return e.parsedPage(e.cookie, path, want)
}

func (e *detailEnv) upsert(rows ...any) {
	e.t.Helper()
	ctx := context.Background()
	for _, row := range rows {
		var err error
		switch r := row.(type) {
		case store.Customer:
			_, err = e.st.UpsertCustomers(ctx, []store.Customer{r})
		case store.Invoice:
			_, err = e.st.UpsertInvoices(ctx, []store.Invoice{r})
		case store.Charge:
			_, err = e.st.UpsertCharges(ctx, []store.Charge{r})
		case store.Refund:
			_, err = e.st.UpsertRefunds(ctx, []store.Refund{r})
		case store.Event:
			_, err = e.st.EnqueueEvent(ctx, r)
		default:
			e.t.Fatalf("cannot store %T", row)
		}
		if err != nil {
			e.t.Fatal(err)
		}
	}
}

func dStr(s string) *string { return &s }

func dJSON(t *testing.T, v map[string]any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dCreated is 2024-05-31 20:30 UTC: 2024-06-01 05:30 in detailZone.
var dCreated = time.Date(2024, 5, 31, 20, 30, 0, 0, time.UTC)

func dCharge(id, customer, currency string, amount int64) store.Charge {
	return store.Charge{ID: id, Customer: dStr(customer), Amount: amount, AmountCaptured: amount, Currency: currency,
		Status: "succeeded", Paid: true, Captured: true, Created: dCreated,
		Data: json.RawMessage(`{"id":"` + id + `","object":"charge"}`), Version: 1}
}

func dRefund(id, charge, currency string, amount int64, at time.Time) store.Refund {
	return store.Refund{ID: id, Charge: dStr(charge), Amount: amount, Currency: currency, Status: dStr("succeeded"),
		Created: at, Data: json.RawMessage(`{"id":"` + id + `","object":"refund"}`), Version: 1}
}

func dText(s *goquery.Selection) string { return strings.Join(strings.Fields(s.Text()), " ") }

// find returns the one element matching sel.
func dFind(t *testing.T, doc *goquery.Document, sel string) *goquery.Selection {
	t.Helper()
	s := doc.Find(sel)
	if s.Length() != 1 {
		t.Fatalf("%s: %d matches, want 1", sel, s.Length())
	}
	return s
}

// wantText checks the text of the element with data-testid id.
func dWant(t *testing.T, doc *goquery.Document, id, want string) {
	t.Helper()
	if got := dText(dFind(t, doc, `[data-testid="`+id+`"]`)); got != want {
		t.Errorf("%s: %q, want %q", id, got, want)
	}
}

// assertNoInjection fails when hostile text became markup: any script but
// htmx's, any element the hostile strings contain, any on* attribute.
func dNoInjection(t *testing.T, doc *goquery.Document) {
	t.Helper()
	doc.Find("script").Each(func(_ int, s *goquery.Selection) {
		if src, _ := s.Attr("src"); !strings.HasPrefix(src, "/static/") {
			h, _ := goquery.OuterHtml(s)
			t.Errorf("injected script: %s", h)
		}
	})
	if n := doc.Find("img").Length(); n > 0 {
		t.Errorf("%d injected <img>", n)
	}
	doc.Find("*").Each(func(_ int, s *goquery.Selection) {
		for _, a := range s.Nodes[0].Attr {
			if strings.HasPrefix(a.Key, "on") || a.Key == "style" {
				t.Errorf("attribute %s on <%s>", a.Key, goquery.NodeName(s))
			}
		}
	})
}

func TestCustomerDetailPage(t *testing.T) {
	e := newDetailEnv(t)
	e.upsert(store.Customer{ID: "cus_A", Name: dStr(detailHostile), Email: dStr("ada@example.com"), Phone: dStr("+81 3 1234 5678"),
		Description: dStr(detailHostile), Currency: dStr("bhd"), Balance: -1234, Delinquent: true, Created: dCreated,
		Data:    dJSON(t, map[string]any{"id": "cus_A", "metadata": map[string]any{"z_note": detailHostile, "a_plan": "gold"}}),
		Version: 1})
	big := int64(math.MaxInt32)*2 + 1 // 4,294,967,295: above 2^31
	ch := dCharge("ch_1", "cus_A", "usd", big)
	ch.AmountRefunded, ch.CardBrand, ch.CardLast4 = 100, dStr("visa"), dStr("4242")
	e.upsert(ch, dCharge("ch_other", "cus_B", "usd", 1),
		dRefund("re_1", "ch_1", "usd", 100, dCreated.Add(time.Hour)),
		store.Invoice{ID: "in_1", Customer: dStr("cus_A"), Number: dStr("INV-1"), Status: dStr("open"), Currency: "jpy",
			Total: 5000, AmountDue: 5000, AmountRemaining: 5000, DueDate: dTime(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)),
			Created: dCreated, Data: json.RawMessage(`{}`), Version: 1})

	doc := e.page("/customers/cus_A", http.StatusOK)
	dNoInjection(t, doc)
	dWant(t, doc, "customer-name", detailHostile)
	dWant(t, doc, "customer-description", detailHostile)
	dWant(t, doc, "customer-id", "cus_A")
	if !dFind(t, doc, `[data-testid="customer-id"]`).HasClass("mono") {
		t.Error("the id is not monospace")
	}
	dWant(t, doc, "customer-email", "ada@example.com")
	dWant(t, doc, "customer-balance", "-BHD 1.234")
	dWant(t, doc, "customer-currency", "BHD")
	dWant(t, doc, "customer-delinquent", "Yes")
	dWant(t, doc, "customer-deleted-flag", "No")
	dWant(t, doc, "customer-created", "2024-06-01 05:30:00 JST")
	dWant(t, doc, "customer-mode", "Test")
	if got := dText(doc.Find("h1")); !strings.Contains(got, detailHostile) {
		t.Errorf("h1 %q", got)
	}

	meta := doc.Find(`[data-testid="customer-metadata"] [data-testid="metadata-entry"]`)
	if meta.Length() != 2 || dText(meta.Eq(0).Find("th")) != "a_plan" || dText(meta.Eq(0).Find("td")) != "gold" ||
		dText(meta.Eq(1).Find("td")) != detailHostile {
		t.Errorf("metadata rows: %d %q", meta.Length(), dText(meta))
	}

	charges := doc.Find(`[data-testid="related-charge"]`)
	if charges.Length() != 1 || charges.AttrOr("data-id", "") != "ch_1" {
		t.Fatalf("related charges %d %q", charges.Length(), dText(charges))
	}
	if got := dText(charges.Find("td").Eq(0)); got != "$42,949,672.95 ($1.00 refunded)" {
		t.Errorf("charge amount %q", got)
	}
	if got := dText(charges.Find("td").Eq(1)); got != "succeeded partially refunded" {
		t.Errorf("charge status %q", got)
	}
	if got := charges.Find("a").AttrOr("href", ""); got != "/charges/ch_1" {
		t.Errorf("charge link %q", got)
	}
	invoices := doc.Find(`[data-testid="related-invoice"]`)
	if invoices.Length() != 1 || !strings.Contains(dText(invoices), "open past due") || !strings.Contains(dText(invoices), "¥5,000") {
		t.Errorf("related invoices %q", dText(invoices))
	}
	refunds := doc.Find(`[data-testid="related-refund"]`)
	if refunds.Length() != 1 || refunds.Find(`a[href="/refunds/re_1"]`).Length() != 1 ||
		refunds.Find(`a[href="/charges/ch_1"]`).Length() != 1 {
		t.Errorf("related refunds %q", dText(refunds))
	}
	for id, href := range map[string]string{"customer-all-invoices": "/invoices?customer=cus_A",
		"customer-all-charges": "/charges?customer=cus_A", "customer-all-refunds": "/refunds?customer=cus_A"} {
		if got := dFind(t, doc, `[data-testid="`+id+`"]`).AttrOr("href", ""); got != href {
			t.Errorf("%s: %q, want %q", id, got, href)
		}
	}

	// The panels follow their objects' change events.
	profile := dFind(t, doc, "#customer-profile")
	if profile.AttrOr("hx-trigger", "") != "sse:change-cus_A" || profile.AttrOr("hx-get", "") != "/customers/cus_A" ||
		profile.AttrOr("hx-select", "") != "#customer-profile" {
		t.Errorf("profile panel attributes: %v", profile.Nodes[0].Attr)
	}
	if got := dFind(t, doc, "#customer-charges").AttrOr("hx-trigger", ""); got != "sse:change-cus_A, sse:change-ch_1" {
		t.Errorf("charges panel trigger %q", got)
	}
	// Headings in order: one h1, then h2s.
	if doc.Find("h1").Length() != 1 || doc.Find("h2").Length() != 4 {
		t.Errorf("%d h1, %d h2", doc.Find("h1").Length(), doc.Find("h2").Length())
	}
}

func dTime(t time.Time) *time.Time { return &t }

func TestInvoiceDetailPage(t *testing.T) {
	e := newDetailEnv(t)
	big := int64(math.MaxInt32) + 1 // 2^31 cents
	inv := store.Invoice{ID: "in_1", Customer: dStr("cus_A"), CustomerName: dStr(detailHostile), CustomerEmail: dStr("ada@example.com"),
		Number: dStr("INV-0042"), Status: dStr("open"), CollectionMethod: dStr("send_invoice"), Currency: "usd",
		Subtotal: big * 465, Tax: dInt(1), Total: big*465 + 1, AmountDue: big*465 + 1, AmountPaid: 1,
		AmountRemaining: big * 465, DueDate: dTime(time.Date(2020, 1, 31, 23, 0, 0, 0, time.UTC)), Created: dCreated,
		HostedInvoiceURL: dStr("https://invoice.stripe.com/i/acct_1/test_abc?s=ap"), InvoicePDF: dStr("javascript:alert(1)"),
		Charge: dStr("ch_9"), LinesTotalCount: 30, Version: 1,
		Data: dJSON(t, map[string]any{"metadata": map[string]any{"order": detailHostile}})}
	for i := range 30 {
		inv.Lines = append(inv.Lines, store.InvoiceLine{ID: fmt.Sprintf("il_%02d", 29-i), Position: i,
			Description: dStr(fmt.Sprintf("Seat %d %s", i, detailHostile)), Quantity: dInt(int64(i + 1)), UnitAmount: dInt(big),
			Amount: big * int64(i+1), Currency: "usd", PeriodStart: dTime(dCreated), PeriodEnd: dTime(dCreated.AddDate(0, 1, 0)),
			Data: json.RawMessage(`{}`)})
	}
	obj := "invoice"
	id := "in_1"
	event := func(eid, typ, status string, at int64) store.Event {
		return store.Event{ID: eid, Type: typ, Created: at, ObjectType: &obj, ObjectID: &id, Source: store.SourceWebhook,
			Data: json.RawMessage(fmt.Sprintf(`{"id":%q,"type":%q,"data":{"object":{"id":"in_1","status":%q}}}`, eid, typ, status))}
	}
	ch := dCharge("ch_9", "cus_A", "usd", 1)
	ch.Invoice = dStr("in_1")
	e.upsert(inv, ch, event("evt_2", "invoice.finalized", "open", 1717200000), event("evt_1", "invoice.created", "draft", 1717100000))

	doc := e.page("/invoices/in_1", http.StatusOK)
	dNoInjection(t, doc)
	dWant(t, doc, "invoice-number", "INV-0042")
	dWant(t, doc, "invoice-status", "open past due")
	dWant(t, doc, "invoice-customer", "cus_A "+detailHostile+" ada@example.com")
	if dFind(t, doc, `[data-testid="invoice-customer"] a`).AttrOr("href", "") != "/customers/cus_A" {
		t.Error("customer link")
	}
	dWant(t, doc, "invoice-collection", "send invoice")
	dWant(t, doc, "invoice-due", "2020-02-01") // 23:00 UTC is the next day in JST
	dWant(t, doc, "invoice-subtotal", "$"+dDollars(big*465))
	dWant(t, doc, "invoice-tax", "$0.01")
	dWant(t, doc, "invoice-total", "$"+dDollars(big*465+1))
	dWant(t, doc, "invoice-amount-due", "$"+dDollars(big*465+1))
	dWant(t, doc, "invoice-amount-paid", "$0.01")
	dWant(t, doc, "invoice-amount-remaining", "$"+dDollars(big*465))
	if dFind(t, doc, `[data-testid="invoice-charge"] a`).AttrOr("href", "") != "/charges/ch_9" {
		t.Error("charge link")
	}

	hosted := dFind(t, doc, `[data-testid="invoice-hosted"] a`)
	if hosted.AttrOr("href", "") != "https://invoice.stripe.com/i/acct_1/test_abc?s=ap" {
		t.Errorf("hosted link %q", hosted.AttrOr("href", ""))
	}
	if n := doc.Find(`[data-testid="invoice-pdf"] a`).Length(); n != 0 {
		t.Error("a javascript: PDF URL is rendered as a link")
	}
	dFind(t, doc, `[data-testid="invoice-pdf"] [data-testid="external-refused"]`)
	if doc.Find(`[href^="javascript"]`).Length() != 0 {
		t.Error("javascript: URL in an href")
	}

	lines := doc.Find(`[data-testid="invoice-line"]`)
	if lines.Length() != 30 {
		t.Fatalf("%d lines", lines.Length())
	}
	lines.Each(func(i int, l *goquery.Selection) {
		if got := dText(l.Find(`[data-testid="line-description"]`)); got != fmt.Sprintf("Seat %d %s", i, detailHostile) {
			t.Errorf("line %d description %q", i, got)
		}
		if got, want := dText(l.Find(`[data-testid="line-amount"]`)), fmt.Sprintf("$%s", dDollars(big*int64(i+1))); got != want {
			t.Errorf("line %d amount %q, want %q", i, got, want)
		}
		if got := dText(l.Find(`[data-testid="line-quantity"]`)); got != fmt.Sprint(i+1) {
			t.Errorf("line %d quantity %q", i, got)
		}
	})
	if got := dText(lines.First().Find(`[data-testid="line-unit-amount"]`)); got != "$21,474,836.48" {
		t.Errorf("unit amount %q", got)
	}
	if got := dText(lines.First().Find(`[data-testid="line-period"]`)); got != "2024-06-01 – 2024-07-02" {
		t.Errorf("period %q", got)
	}
	if n := doc.Find(`#invoice-lines th[scope="col"]`).Length(); n != 5 {
		t.Errorf("%d line column headers", n)
	}

	history := doc.Find(`[data-testid="invoice-event"]`)
	if history.Length() != 2 {
		t.Fatalf("%d history rows", history.Length())
	}
	for i, want := range [][3]string{{"invoice.created (queued)", "draft", "2024-05-31 05:13:20 JST"}, {"invoice.finalized (queued)", "open", "2024-06-01 09:00:00 JST"}} {
		row := history.Eq(i)
		if got := dText(row.Find(`[data-testid="event-type"]`)); got != want[0] {
			t.Errorf("history %d type %q, want %q", i, got, want[0])
		}
		if got := dText(row.Find(`[data-testid="event-status"]`)); got != want[1] {
			t.Errorf("history %d status %q", i, got)
		}
		if got := dText(row.Find(`[data-testid="event-at"]`)); got != want[2] {
			t.Errorf("history %d time %q, want %q", i, got, want[2])
		}
	}
	if got := dFind(t, doc, `[data-testid="related-charge"]`).AttrOr("data-id", ""); got != "ch_9" {
		t.Errorf("payment attempt %q", got)
	}
	if got := dText(doc.Find(`[data-testid="invoice-metadata"] td`)); got != detailHostile {
		t.Errorf("metadata %q", got)
	}
	if n := doc.Find(`[data-testid="invoice-lines-missing"]`).Length(); n != 0 {
		t.Error("missing-lines note with every line stored")
	}
}

func dInt(v int64) *int64 { return &v }

// groupDollars writes cents as dollars with thousands separators.
func dDollars(cents int64) string {
	whole := fmt.Sprint(cents / 100)
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return fmt.Sprintf("%s.%02d", b.String(), cents%100)
}

func TestChargeDetailPage(t *testing.T) {
	e := newDetailEnv(t)
	e.upsert(store.Customer{ID: "cus_A", Name: dStr(detailHostile), Created: dCreated, Data: json.RawMessage(`{}`), Version: 1},
		store.Invoice{ID: "in_1", Number: dStr("INV-7"), Currency: "jpy", Created: dCreated, Data: json.RawMessage(`{}`), Version: 1})
	ch := dCharge("ch_jpy", "cus_A", "jpy", 12_345)
	ch.Invoice, ch.AmountRefunded, ch.Disputed = dStr("in_1"), 2_000, true
	ch.CardBrand, ch.CardLast4, ch.ReceiptEmail, ch.ReceiptNumber = dStr("mastercard"), dStr("4444"), dStr("ada@example.com"), dStr("1000-2000")
	ch.Description = dStr(detailHostile)
	ch.Data = dJSON(t, map[string]any{"outcome": map[string]any{"network_status": "approved_by_network", "type": "authorized",
		"seller_message": "Payment complete.", "risk_level": "normal"}, "metadata": map[string]any{"k": detailHostile}})
	bhd := dCharge("ch_bhd", "cus_A", "bhd", 1_234)
	bhd.AmountRefunded = 235
	failed := dCharge("ch_failed", "cus_A", "usd", 5_000)
	failed.Status, failed.Paid, failed.Captured, failed.AmountCaptured = "failed", false, false, 0
	failed.FailureCode, failed.FailureMessage = dStr("card_declined"), dStr("Your card was declined.")
	e.upsert(ch, bhd, failed, dRefund("re_1", "ch_jpy", "jpy", 1_500, dCreated), dRefund("re_2", "ch_jpy", "jpy", 500, dCreated.Add(time.Minute)))

	doc := e.page("/charges/ch_jpy", http.StatusOK)
	dNoInjection(t, doc)
	dWant(t, doc, "charge-id", "ch_jpy")
	dWant(t, doc, "charge-amount", "¥12,345")
	dWant(t, doc, "charge-currency", "JPY")
	dWant(t, doc, "charge-status", "succeeded partially refunded disputed")
	dWant(t, doc, "charge-customer", "cus_A "+detailHostile)
	dWant(t, doc, "charge-invoice", "in_1 INV-7")
	dWant(t, doc, "charge-card-brand", "mastercard")
	dWant(t, doc, "charge-card-last4", "•••• ending in 4444")
	dWant(t, doc, "charge-description", detailHostile)
	dWant(t, doc, "charge-receipt-email", "ada@example.com")
	dWant(t, doc, "charge-receipt-number", "1000-2000")
	dWant(t, doc, "charge-amount-captured", "¥12,345")
	dWant(t, doc, "charge-amount-refunded", "¥2,000")
	dWant(t, doc, "charge-refundable", "¥10,345")
	dWant(t, doc, "outcome-network-status", "approved by network")
	dWant(t, doc, "outcome-type", "authorized")
	dWant(t, doc, "outcome-seller-message", "Payment complete.")
	dWant(t, doc, "outcome-risk-level", "normal")
	refunds := doc.Find(`[data-testid="related-refund"]`)
	if refunds.Length() != 2 || refunds.Eq(0).AttrOr("data-id", "") != "re_2" || refunds.Eq(1).AttrOr("data-id", "") != "re_1" {
		t.Fatalf("refunds %q", dText(refunds))
	}
	if got := dText(refunds.Eq(1).Find("td").Eq(0)); got != "¥1,500" {
		t.Errorf("refund amount %q", got)
	}
	if refunds.Eq(0).Find(`a[href="/refunds/re_2"]`).Length() != 1 {
		t.Error("refund link")
	}
	if got := dFind(t, doc, "#charge-refunds").AttrOr("hx-trigger", ""); got != "sse:change-ch_jpy, sse:change-re_2, sse:change-re_1" {
		t.Errorf("refunds panel trigger %q", got)
	}
	if got := dText(doc.Find(`[data-testid="charge-metadata"] td`)); got != detailHostile {
		t.Errorf("metadata %q", got)
	}
	if doc.Find(`[data-testid="charge-failure"]`).Length() != 0 {
		t.Error("failure section on a succeeded charge")
	}

	doc = e.page("/charges/ch_bhd", http.StatusOK)
	dWant(t, doc, "charge-amount", "BHD 1.234")
	dWant(t, doc, "charge-refundable", "BHD 0.999")
	dWant(t, doc, "charge-status", "succeeded partially refunded")
	dFind(t, doc, `[data-testid="charge-no-outcome"]`)
	dWant(t, doc, "charge-card", "—")

	doc = e.page("/charges/ch_failed", http.StatusOK)
	dWant(t, doc, "charge-refundable", "$0.00")
	dWant(t, doc, "charge-status", "failed")
	dWant(t, doc, "charge-failure-code", "card_declined")
	dWant(t, doc, "charge-failure-message", "Your card was declined.")
}

func TestRefundDetailPage(t *testing.T) {
	e := newDetailEnv(t)
	e.upsert(store.Customer{ID: "cus_A", Name: dStr(detailHostile), Created: dCreated, Data: json.RawMessage(`{}`), Version: 1},
		dCharge("ch_1", "cus_A", "kwd", 10_000))
	re := dRefund("re_1", "ch_1", "kwd", 2_500, dCreated)
	re.Reason, re.ReceiptNumber, re.Status = dStr("requested_by_customer"), dStr("3000-1111"), dStr("pending")
	orphan := dRefund("re_2", "ch_missing", "usd", 100, dCreated)
	orphan.Status, orphan.FailureReason = dStr("failed"), dStr("expired_or_canceled_card")
	e.upsert(re, orphan)

	doc := e.page("/refunds/re_1", http.StatusOK)
	dNoInjection(t, doc)
	dWant(t, doc, "refund-id", "re_1")
	dWant(t, doc, "refund-amount", "KWD 2.500")
	dWant(t, doc, "refund-currency", "KWD")
	dWant(t, doc, "refund-status", "pending")
	dWant(t, doc, "refund-reason", "requested by customer")
	dWant(t, doc, "refund-receipt-number", "3000-1111")
	dWant(t, doc, "refund-created", "2024-06-01 05:30:00 JST")
	dWant(t, doc, "refund-charge", "ch_1")
	dWant(t, doc, "refund-charge-amount", "KWD 10.000")
	dWant(t, doc, "refund-charge-status", "succeeded")
	dWant(t, doc, "refund-customer", "cus_A "+detailHostile)
	if dFind(t, doc, `[data-testid="refund-charge"] a`).AttrOr("href", "") != "/charges/ch_1" {
		t.Error("charge link")
	}
	if got := dFind(t, doc, "#refund-summary").AttrOr("hx-trigger", ""); got != "sse:change-re_1, sse:change-ch_1" {
		t.Errorf("summary trigger %q", got)
	}

	doc = e.page("/refunds/re_2", http.StatusOK)
	dWant(t, doc, "refund-failure-reason", "expired or canceled card")
	dWant(t, doc, "refund-charge", "ch_missing")
	dFind(t, doc, `[data-testid="refund-charge-missing"]`)
}

// Unknown and malformed ids answer a 404 page naming what is missing;
// anonymous visitors are sent to sign in; an htmx request gets the page
// without the layout, panels included.
func TestDetailPagesNotFoundAndAccess(t *testing.T) {
	e := newDetailEnv(t)
	e.upsert(dCharge("ch_1", "cus_A", "usd", 100))
	for _, path := range []string{"/customers/cus_nope", "/invoices/in_nope", "/charges/ch_nope", "/refunds/re_nope",
		"/charges/ch%3Cscript%3E", "/charges/" + strings.Repeat("x", 300)} {
		doc := e.page(path, http.StatusNotFound)
		dFind(t, doc, `[data-testid="error-page"]`)
		if msg := dText(dFind(t, doc, `[data-testid="error-message"]`)); !strings.Contains(msg, "There is no") {
			t.Errorf("%s: message %q", path, msg)
		}
		dNoInjection(t, doc)
	}
	for _, path := range []string{"/customers/cus_A", "/invoices/in_1", "/charges/ch_1", "/refunds/re_1"} {
		if rec := e.do(http.MethodGet, path, nil); !isLoginRedirect(rec) {
			t.Errorf("anonymous %s: %d %q", path, rec.Code, rec.Header().Get("Location"))
		}
	}

	req := func(headers map[string]string) string {
		r, _ := http.NewRequest(http.MethodGet, "/charges/ch_1", nil)
		for k, v := range headers {
			r.Header.Set(k, v)
		}
		r.AddCookie(e.cookie)
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			t.Fatalf("%v: %d", headers, rec.Code)
		}
		return rec.Body.String()
	}
	frag := req(map[string]string{"HX-Request": "true"})
	if strings.Contains(frag, "<html") || !strings.Contains(frag, `id="charge-summary"`) {
		t.Errorf("htmx fragment: %.300s", frag)
	}
	if full := req(nil); !strings.Contains(full, "<html") {
		t.Error("a normal request did not get the whole page")
	}
}
