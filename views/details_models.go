package views

import (
	"strings"

	"github.com/a-h/templ"
)

// View models of the four detail pages. Every amount, date and label is
// preformatted by the handler (money.Format, the display time zone); an
// empty string means "not set" and the page shows an em dash. URL fields
// are paydesk paths, or "" where there is nothing to link to.

// MetadataEntry is one key/value pair of a Stripe object's metadata.
type MetadataEntry struct {
	Key, Value string
}

// RelatedInvoice is an invoice in a related-rows table.
type RelatedInvoice struct {
	ID, URL                         string
	Number, Status                  string
	PastDue                         bool
	Total, AmountRemaining, DueDate string
	Created                         string
}

// RelatedCharge is a charge in a related-rows table.
type RelatedCharge struct {
	ID, URL        string
	Amount         string
	AmountRefunded string   // "" when nothing was refunded
	Status         string   // Stripe's status
	Flags          []string // "refunded", "partially refunded", "disputed"
	Card           string   // "visa •••• 4242", or ""
	Description    string
	Created        string
}

// RelatedRefund is a refund in a related-rows table.
type RelatedRefund struct {
	ID, URL             string
	Amount, Status      string
	Reason              string
	ChargeID, ChargeURL string
	Created             string
}

// CustomerView is the customer page.
type CustomerView struct {
	ID, URL                         string
	Name, Email, Phone, Description string
	Currency, Balance               string
	Delinquent, Deleted, Livemode   bool
	Created                         string
	Metadata                        []MetadataEntry
	Invoices                        []RelatedInvoice
	Charges                         []RelatedCharge
	Refunds                         []RelatedRefund
	MoreInvoices, MoreCharges       bool
	MoreRefunds                     bool
	InvoicesURL, ChargesURL         string // the lists filtered to this customer
	RefundsURL                      string
	// NewInvoiceURL is the new invoice form, for staff who may run
	// invoices; "" hides the link.
	NewInvoiceURL string
}

// InvoiceLineView is one line of an invoice.
type InvoiceLineView struct {
	ID                         string
	Description                string
	Quantity                   string
	UnitAmount, Amount, Period string
}

// InvoiceHistoryEntry is one stored event about an invoice.
type InvoiceHistoryEntry struct {
	EventID, Type, At string
	Status            string // the invoice status the event carries
	Queue             string // "" once applied; otherwise the queue's state ("queued", "failed", "ignored")
}

// InvoiceView is the invoice page.
type InvoiceView struct {
	ID, URL                     string
	Number, Status              string
	PastDue, Deleted, Livemode  bool
	CustomerID, CustomerURL     string
	CustomerName, CustomerEmail string
	CollectionMethod            string
	Created, DueDate            string
	Subtotal, Tax, Total        string
	AmountDue, AmountPaid       string
	AmountRemaining             string
	Lines                       []InvoiceLineView
	LinesMissing                int64  // lines Stripe has that the mirror does not hold yet
	HostedURL, PDFURL           string // http(s) links, or ""
	HostedRefused, PDFRefused   bool   // a link was stored but is not an http(s) URL
	ChargeID, ChargeURL         string
	Charges                     []RelatedCharge
	MoreCharges                 bool
	History                     []InvoiceHistoryEntry
	MoreHistory                 bool
	Metadata                    []MetadataEntry
	// Actions are the state changes offered to staff who may run
	// invoices, only those Stripe allows in the invoice's state.
	Actions []InvoiceActionButton
}

// ChargeOutcomeView is a charge's outcome as Stripe states it.
type ChargeOutcomeView struct {
	NetworkStatus, Type, SellerMessage, RiskLevel, Reason string
}

// ChargeView is the charge page.
type ChargeView struct {
	ID, URL                        string
	Amount, Currency               string
	Status                         string
	Flags                          []string
	Livemode                       bool
	CustomerID, CustomerURL        string
	CustomerName                   string
	InvoiceID, InvoiceURL          string
	InvoiceNumber                  string
	PaymentIntent                  string
	CardBrand, CardLast4           string
	Outcome                        *ChargeOutcomeView
	FailureCode, FailureMessage    string
	ReceiptEmail, ReceiptNumber    string
	Description                    string
	Created                        string
	AmountCaptured, AmountRefunded string
	Refundable                     string
	// RefundURL is the refund form, for staff who may refund and while
	// something is left to refund; "" hides the button.
	RefundURL   string
	Refunds     []RelatedRefund
	MoreRefunds bool
	Metadata    []MetadataEntry
}

// RefundView is the refund page.
type RefundView struct {
	ID, URL                    string
	Amount, Currency           string
	Status, Reason             string
	FailureReason              string
	ReceiptNumber              string
	Created                    string
	Livemode                   bool
	ChargeID, ChargeURL        string
	ChargeMirrored             bool // the mirror holds the charge: its amount and status are known
	ChargeAmount, ChargeStatus string
	CustomerID, CustomerURL    string
	CustomerName               string
	Metadata                   []MetadataEntry
}

// livePanelFollowing is LivePanel for a panel that shows several objects:
// it re-fetches itself when any of ids changes (a charge's refunds panel
// follows the charge and each refund shown).
func livePanelFollowing(pageURL, panelID string, ids ...string) templ.Attributes {
	a := LivePanel(pageURL, panelID, ids[0])
	if len(ids) > 1 {
		triggers := make([]string, len(ids))
		for i, id := range ids {
			triggers[i] = "sse:" + ChangeEvent(id)
		}
		a["hx-trigger"] = strings.Join(triggers, ", ")
	}
	return a
}

func relatedInvoiceIDs(parent string, rows []RelatedInvoice) []string {
	ids := []string{parent}
	for _, r := range rows {
		ids = append(ids, r.ID)
	}
	return ids
}

func relatedChargeIDs(parent string, rows []RelatedCharge) []string {
	ids := []string{parent}
	for _, r := range rows {
		ids = append(ids, r.ID)
	}
	return ids
}

func relatedRefundIDs(parent string, rows []RelatedRefund) []string {
	ids := []string{parent}
	for _, r := range rows {
		ids = append(ids, r.ID)
	}
	return ids
}

// orDash shows "—" for a value that is not set.
func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// yesNo is a flag for people.
func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

func modeLabel(live bool) string {
	if live {
		return "Live"
	}
	return "Test"
}

// statusClass is the badge class of a Stripe status ("past due" ->
// "status-past-due"). Statuses are Stripe's lower-case words; anything
// else gets the neutral badge.
func statusClass(status string) string {
	s := strings.ReplaceAll(strings.ToLower(status), " ", "-")
	switch s {
	case "paid", "succeeded", "open", "draft", "void", "uncollectible", "failed", "pending", "canceled",
		"requires_action", "refunded", "partially-refunded", "disputed", "past-due", "deleted":
		return "status status-" + s
	}
	return "status"
}

// refundFollows is what the refund page's summary follows: the refund and,
// since it shows the charge's amount and status, the charge.
func refundFollows(d RefundView) []string {
	if d.ChargeID == "" {
		return []string{d.ID}
	}
	return []string{d.ID, d.ChargeID}
}
