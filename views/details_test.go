package views

import (
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
)

// detailPages renders each detail page with every text field set to s.
func detailPages(s string) map[string]templ.Component {
	meta := []MetadataEntry{{Key: s, Value: s}}
	inv := RelatedInvoice{ID: "in_1", URL: "/invoices/in_1", Number: s, Status: "open", PastDue: true, Total: "$1.00",
		AmountRemaining: "$1.00", DueDate: "2024-01-01", Created: "2024-01-01 00:00:00 UTC"}
	ch := RelatedCharge{ID: "ch_1", URL: "/charges/ch_1", Amount: "$1.00", Status: "succeeded", Flags: []string{"disputed"},
		Card: s, Description: s, Created: "2024-01-01 00:00:00 UTC"}
	re := RelatedRefund{ID: "re_1", URL: "/refunds/re_1", Amount: "$1.00", Status: "succeeded", Reason: s,
		ChargeID: "ch_1", ChargeURL: "/charges/ch_1", Created: "2024-01-01 00:00:00 UTC"}
	return map[string]templ.Component{
		"customer": CustomerDetailPage(signedIn(), CustomerView{ID: "cus_1", URL: "/customers/cus_1", Name: s, Email: s,
			Phone: s, Description: s, Currency: "USD", Balance: "$0.00", Created: "2024-01-01 00:00:00 UTC", Metadata: meta,
			Invoices: []RelatedInvoice{inv}, Charges: []RelatedCharge{ch}, Refunds: []RelatedRefund{re},
			InvoicesURL: "/invoices?customer=cus_1", ChargesURL: "/charges?customer=cus_1", RefundsURL: "/refunds?customer=cus_1"}),
		"invoice": InvoiceDetailPage(signedIn(), InvoiceView{ID: "in_1", URL: "/invoices/in_1", Number: s, Status: "open",
			CustomerID: "cus_1", CustomerURL: "/customers/cus_1", CustomerName: s, CustomerEmail: s, CollectionMethod: s,
			Lines:   []InvoiceLineView{{ID: "il_1", Description: s, Quantity: "1", UnitAmount: "$1.00", Amount: "$1.00", Period: s}},
			History: []InvoiceHistoryEntry{{EventID: "evt_1", Type: s, At: s, Status: s}}, Charges: []RelatedCharge{ch},
			Metadata: meta}),
		"charge": ChargeDetailPage(signedIn(), ChargeView{ID: "ch_1", URL: "/charges/ch_1", Amount: "$1.00", Status: "succeeded",
			CustomerID: "cus_1", CustomerURL: "/customers/cus_1", CustomerName: s, CardBrand: s, CardLast4: s,
			Outcome:     &ChargeOutcomeView{NetworkStatus: s, Type: s, SellerMessage: s, RiskLevel: s, Reason: s},
			FailureCode: s, FailureMessage: s, ReceiptEmail: s, ReceiptNumber: s, Description: s,
			Refunds: []RelatedRefund{re}, Metadata: meta}),
		"refund": RefundDetailPage(signedIn(), RefundView{ID: "re_1", URL: "/refunds/re_1", Amount: "$1.00", Status: "failed",
			Reason: s, FailureReason: s, ReceiptNumber: s, ChargeID: "ch_1", ChargeURL: "/charges/ch_1", ChargeMirrored: true,
			ChargeAmount: "$2.00", ChargeStatus: "succeeded", CustomerID: "cus_1", CustomerURL: "/customers/cus_1",
			CustomerName: s, Metadata: meta}),
	}
}

// Every hostile string comes out as text on every detail page, in every
// field that carries it.
func TestDetailPagesRenderHostileTextAsText(t *testing.T) {
	for _, h := range hostile {
		for name, c := range detailPages(h) {
			t.Run(name, func(t *testing.T) {
				doc, _ := render(t, c)
				checkNoInjected(t, doc.Find("main *"))
				if n := strings.Count(doc.Find("main").Text(), h); n < 5 {
					t.Errorf("the hostile text appears %d times as text", n)
				}
			})
		}
	}
}

// Headings never skip a level, there is one h1, and every live panel
// selects itself from the page it re-fetches.
func TestDetailPagesStructure(t *testing.T) {
	for name, c := range detailPages("Zoë") {
		t.Run(name, func(t *testing.T) {
			doc, _ := render(t, c)
			if n := doc.Find("h1").Length(); n != 1 {
				t.Errorf("%d h1", n)
			}
			last := 0
			doc.Find("main h1, main h2, main h3, main h4").Each(func(_ int, s *goquery.Selection) {
				level, _ := strconv.Atoi(goquery.NodeName(s)[1:])
				if level > last+1 {
					t.Errorf("h%d after h%d: %q", level, last, text(s))
				}
				last = level
			})
			panels := doc.Find("[hx-select]")
			if panels.Length() < 2 {
				t.Errorf("%d live panels", panels.Length())
			}
			panels.Each(func(_ int, s *goquery.Selection) {
				id := s.AttrOr("id", "")
				if id == "" || s.AttrOr("hx-select", "") != "#"+id || !strings.HasPrefix(s.AttrOr("hx-trigger", ""), "sse:change-") ||
					s.AttrOr("hx-swap", "") != "outerHTML" || !strings.HasPrefix(s.AttrOr("hx-get", ""), "/"+name+"s/") {
					t.Errorf("panel %q: %v", id, s.Nodes[0].Attr)
				}
			})
			crumb := one(t, doc, `[data-testid="breadcrumb"]`)
			attr(t, crumb, "aria-label", "Breadcrumb")
			attr(t, one(t, crumb, "a"), "href", "/"+name+"s")
			doc.Find("table").Each(func(_ int, tb *goquery.Selection) {
				if tb.Find(`th[scope="col"]`).Length() == 0 {
					t.Errorf("table %s has no column headers", tb.AttrOr("data-testid", ""))
				}
			})
		})
	}
}

// A URL that is not http(s) never becomes a link, even if a handler let
// one through: templ.URL refuses it.
func TestInvoiceExternalLinks(t *testing.T) {
	doc, _ := render(t, InvoiceDetailPage(signedIn(), InvoiceView{ID: "in_1", URL: "/invoices/in_1",
		HostedURL: "javascript:alert(1)", PDFRefused: true}))
	if n := doc.Find(`[href^="javascript"]`).Length(); n != 0 {
		t.Errorf("%d javascript: links", n)
	}
	one(t, doc, `[data-testid="invoice-pdf"] [data-testid="external-refused"]`)

	doc, _ = render(t, InvoiceDetailPage(signedIn(), InvoiceView{ID: "in_1", URL: "/invoices/in_1",
		HostedURL: "https://invoice.stripe.com/i/x", PDFURL: "https://pay.stripe.com/invoice/x/pdf"}))
	hosted := one(t, doc, `[data-testid="invoice-hosted"] a`)
	attr(t, hosted, "href", "https://invoice.stripe.com/i/x")
	attr(t, hosted, "rel", "noopener noreferrer")
	attr(t, one(t, doc, `[data-testid="invoice-pdf"] a`), "href", "https://pay.stripe.com/invoice/x/pdf")
}

// Empty sections say so instead of showing nothing.
func TestDetailPagesEmptyStates(t *testing.T) {
	doc, _ := render(t, InvoiceDetailPage(signedIn(), InvoiceView{ID: "in_1", URL: "/invoices/in_1", Status: "draft", LinesMissing: 3}))
	one(t, doc, `[data-testid="invoice-lines-empty"]`)
	one(t, doc, `[data-testid="invoice-history-empty"]`)
	one(t, doc, `[data-testid="invoice-metadata-empty"]`)
	if got := text(one(t, doc, `[data-testid="invoice-lines-missing"]`)); !strings.HasPrefix(got, "3 more lines") {
		t.Errorf("missing lines note %q", got)
	}
	if got := text(one(t, doc, `[data-testid="invoice-number"]`)); got != "—" {
		t.Errorf("empty number shows %q", got)
	}
	if got := text(one(t, doc, `[data-testid="invoice-status"]`)); got != "draft" {
		t.Errorf("status %q", got)
	}

	doc, _ = render(t, InvoiceDetailPage(signedIn(), InvoiceView{ID: "in_1", URL: "/invoices/in_1", Deleted: true}))
	one(t, doc, `[data-testid="invoice-deleted"]`)
	if got := text(one(t, doc, `[data-testid="invoice-status"]`)); got != "—" {
		t.Errorf("no status shows %q", got)
	}
	if n := doc.Find(`[data-testid="invoice-status"] span`).Length(); n != 0 {
		t.Errorf("%d empty badges", n)
	}

	doc, _ = render(t, ChargeDetailPage(signedIn(), ChargeView{ID: "ch_1", URL: "/charges/ch_1", Status: "pending"}))
	one(t, doc, `[data-testid="charge-no-outcome"]`)
	if n := doc.Find(`[data-testid="charge-failure"], [data-testid="related-refund"], [data-testid="related-more"]`).Length(); n != 0 {
		t.Errorf("%d unexpected elements", n)
	}

	doc, _ = render(t, CustomerDetailPage(signedIn(), CustomerView{ID: "cus_1", URL: "/customers/cus_1", Deleted: true,
		MoreCharges: true, Charges: []RelatedCharge{{ID: "ch_1", URL: "/charges/ch_1", Status: "failed"}}}))
	one(t, doc, `[data-testid="customer-deleted"]`)
	one(t, doc, `[data-testid="customer-metadata-empty"]`)
	if got := text(one(t, doc, `#customer-charges [data-testid="related-more"]`)); got != "The latest 1 charges are shown." {
		t.Errorf("more note %q", got)
	}
}

func TestStatusClass(t *testing.T) {
	for in, want := range map[string]string{"paid": "status status-paid", "past due": "status status-past-due",
		"partially refunded": "status status-partially-refunded", `x" onclick="y`: "status", "": "status"} {
		if got := statusClass(in); got != want {
			t.Errorf("statusClass(%q) = %q, want %q", in, got, want)
		}
	}
}
