package views

// View models of the list pages (customers, invoices, charges, refunds).
// Handlers build every URL (each carries the whole filter state) and
// format every amount and date; the components only lay them out.

// ListFilterForm is a list's filter as typed, echoed back into the form.
type ListFilterForm struct {
	Q, Status                      string
	CreatedFrom, CreatedTo         string
	DueFrom, DueTo                 string
	Currency, AmountMin, AmountMax string
	Customer                       string
	Sort, Dir, Limit               string
}

// ListTab is a status tab: a link to the list with that status.
type ListTab struct {
	Label, URL string
	Current    bool
}

// ListTotal is the count and sum of the matching rows of one currency.
type ListTotal struct {
	Currency string // upper-case code, or "—" when rows have none
	Count    string // "1,204 charges"
	Amount   string // "$123,456.78"
}

// SortHeader is a sortable column's heading link; Dir is "asc" or "desc"
// when the list is sorted by it, "" otherwise.
type SortHeader struct {
	URL, Dir string
}

// ListChrome is what every list page has around its table: the filter
// form, tabs, totals, sort links, paging links and the CSV export link.
type ListChrome struct {
	Path   string // "/charges"
	Name   string // "charges", for ids and test ids
	Filter ListFilterForm
	Tabs   []ListTab
	Totals []ListTotal
	// TotalsWithheld explains why no totals are shown (a search matching
	// too many rows); "" when Totals are the figures.
	TotalsWithheld string
	Sorts          map[string]SortHeader
	NextURL        string // "" when there is no next page
	PrevURL        string
	// FirstURL leads back to the first page; set when not on it.
	FirstURL string
	CSVURL   string
	// Which filter fields the list has.
	HasAmount, HasDue, HasCustomer bool
	// Error explains a bad parameter (the page answers 400).
	Error string
}

// CustomerRow is a row of the customers list.
type CustomerRow struct {
	ID, URL, RowURL   string
	Name, Email       string
	Created, Currency string
	Balance           string
	Deleted           bool
}

// InvoiceRow is a row of the invoices list.
type InvoiceRow struct {
	ID, URL, RowURL             string
	Number                      string
	CustomerName, CustomerEmail string
	Status                      string // label: "past due", "open", ...
	StatusClass                 string // badge modifier: "badge-open"
	Total, AmountDue            string
	DueDate, Created            string
	PastDue                     bool
}

// ChargeRow is a row of the charges list.
type ChargeRow struct {
	ID, URL, RowURL string
	Amount          string
	Status          string
	StatusClass     string
	// Flags are extra badges: "refunded", "partially refunded",
	// "disputed".
	Flags        []string
	Customer     string // billing name, else the customer id
	Card         string // "visa •••• 4242"
	ReceiptEmail string
	Created      string
}

// RefundRow is a row of the refunds list.
type RefundRow struct {
	ID, URL, RowURL   string
	Amount            string
	Status            string
	StatusClass       string
	Reason            string
	Charge, ChargeURL string
	Created           string
}

// CustomersData is the customers list page.
type CustomersData struct {
	ListChrome
	Rows []CustomerRow
}

// InvoicesData is the invoices list page.
type InvoicesData struct {
	ListChrome
	Rows []InvoiceRow
}

// ChargesData is the charges list page.
type ChargesData struct {
	ListChrome
	Rows []ChargeRow
}

// RefundsData is the refunds list page.
type RefundsData struct {
	ListChrome
	Rows []RefundRow
}

// ariaSort is a sortable heading's aria-sort for dir.
func ariaSort(dir string) string {
	switch dir {
	case "asc":
		return "ascending"
	case "desc":
		return "descending"
	}
	return "none"
}

// isNumericSort says the column sorted by key holds amounts, aligned right.
func isNumericSort(key string) bool {
	switch key {
	case "amount", "total", "amount_due", "balance":
		return true
	}
	return false
}
