package views

import (
	"strings"
	"testing"
)

func chargesData(h string) ChargesData {
	return ChargesData{
		ListChrome: ListChrome{
			Path: "/charges", Name: "charges", CSVURL: "/charges.csv?q=" + h,
			Filter:  ListFilterForm{Q: h, Status: "succeeded", Currency: h, AmountMin: h},
			Tabs:    []ListTab{{Label: "All", URL: "/charges"}, {Label: "succeeded", URL: "/charges?status=succeeded", Current: true}},
			Totals:  []ListTotal{{Currency: "USD", Count: "2 charges", Amount: "$1,239.56"}},
			Sorts:   map[string]SortHeader{"created": {URL: "/charges?dir=asc", Dir: "desc"}, "amount": {URL: "/charges?sort=amount"}},
			NextURL: "/charges?after=abc", PrevURL: "/charges?before=xyz", FirstURL: "/charges",
			HasAmount: true, HasCustomer: true,
		},
		Rows: []ChargeRow{{ID: "ch_1", URL: "/charges/ch_1", RowURL: "/charges/ch_1/row", Amount: "$12.34", Status: "succeeded",
			StatusClass: "badge-succeeded", Flags: []string{"disputed"}, Customer: h, Card: "visa •••• 4242", ReceiptEmail: h, Created: h}},
	}
}

func TestChargesPageStructure(t *testing.T) {
	doc, _ := render(t, ChargesPage(signedIn(), chargesData("Ann")))
	assertCSPSafe(t, doc)
	form := one(t, doc, `[data-testid="list-filter"]`)
	attr(t, form, "method", "get")
	attr(t, form, "hx-get", "/charges")
	attr(t, form, "hx-push-url", "true")
	attr(t, form, "hx-target", "#list-page")
	attr(t, one(t, form, `input[name="status"]`), "value", "succeeded")
	row := one(t, doc, `tr#row-ch_1`)
	attr(t, row, "hx-get", "/charges/ch_1/row")
	attr(t, row, "hx-trigger", "sse:change-ch_1")
	attr(t, one(t, row, `a[data-testid="row-amount"]`), "href", "/charges/ch_1")
	if !strings.Contains(text(row), "disputed") {
		t.Errorf("row flags: %q", text(row))
	}
	attr(t, one(t, doc, `[data-testid="sort-amount"]`), "hx-get", "/charges?sort=amount")
	attr(t, one(t, doc, `th[aria-sort="descending"] a`), "href", "/charges?dir=asc")
	attr(t, one(t, doc, `[data-testid="page-next"]`), "href", "/charges?after=abc")
	attr(t, one(t, doc, `[data-testid="page-prev"]`), "hx-push-url", "true")
	attr(t, one(t, doc, `[data-testid="status-tabs"] a[aria-current="page"]`), "href", "/charges?status=succeeded")
	if got := text(one(t, doc, `[data-testid="total"]`)); !strings.Contains(got, "$1,239.56") {
		t.Errorf("totals %q", got)
	}
	if doc.Find(`input[name="due_from"]`).Length() != 0 {
		t.Error("charges have no due date filter")
	}
}

func TestListErrorAndEmpty(t *testing.T) {
	d := chargesData("x")
	d.Rows, d.Totals, d.Error = nil, nil, "Check the filter: the “status” parameter is wrong."
	doc, _ := render(t, ChargesPage(signedIn(), d))
	if got := text(one(t, doc, `[data-testid="list-error"]`)); !strings.Contains(got, "“status”") {
		t.Errorf("error %q", got)
	}
	one(t, doc, `[data-testid="list-empty"]`)
	if doc.Find(`[data-testid="list-totals"]`).Length() != 0 {
		t.Error("totals shown beside an error")
	}
}

func TestListsHostileText(t *testing.T) {
	for _, h := range hostile {
		t.Run(h, func(t *testing.T) {
			doc, _ := render(t, ChargesPage(signedIn(), chargesData(h)))
			checkNoInjected(t, doc.Find("#list-page *"))
			attr(t, one(t, doc, `input[name="q"]`), "value", h)
			if !strings.Contains(text(one(t, doc, "tr#row-ch_1")), h) {
				t.Error("hostile text not shown as text in the row")
			}
			c := chargesData(h).ListChrome
			for _, comp := range []struct {
				name string
				html func() (string, error)
			}{
				{"customers", func() (string, error) {
					_, s := render(t, CustomersPage(signedIn(), CustomersData{ListChrome: c, Rows: []CustomerRow{{ID: "cus_1", Name: h, Email: h, Balance: h}}}))
					return s, nil
				}},
				{"invoices", func() (string, error) {
					_, s := render(t, InvoicesPage(signedIn(), InvoicesData{ListChrome: c, Rows: []InvoiceRow{{ID: "in_1", Number: h, CustomerName: h, CustomerEmail: h, Status: h, StatusClass: h}}}))
					return s, nil
				}},
				{"refunds", func() (string, error) {
					_, s := render(t, RefundsPage(signedIn(), RefundsData{ListChrome: c, Rows: []RefundRow{{ID: "re_1", Reason: h, Charge: h, ChargeURL: "/charges/x"}}}))
					return s, nil
				}},
			} {
				s, _ := comp.html()
				if strings.Contains(s, "<script>alert") || strings.Contains(s, "<img src=x") {
					t.Errorf("%s: hostile markup came through", comp.name)
				}
			}
		})
	}
}
