package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// The list pages (customers, invoices, charges, refunds) read the mirror
// through one filter type. Every list orders by a whitelisted sort key and
// then by id, so the order is total and paging is exact; pages are found by
// keyset (the last row's key and id), never by OFFSET. See
// migrations/00004_list_indexes.sql for the indexes each filter and sort
// relies on.

// DefaultListLimit and MaxListLimit bound a page of a list.
const (
	DefaultListLimit = 50
	MaxListLimit     = 200
)

// ListFilter selects and orders the rows of a list. Zero values mean "no
// condition". Which fields apply depends on the list; a field that does not
// apply is refused with a FilterError rather than ignored.
type ListFilter struct {
	// Query searches ids (exact or prefix) and, case-insensitively by
	// substring, the list's text columns; see each list's method.
	Query string
	// Status is a status tab of the list (see CustomerStatuses,
	// InvoiceStatuses, ChargeStatuses, RefundStatuses); "" is the default
	// tab.
	Status string
	// Currency is a lower-case ISO code.
	Currency string
	// AmountMin and AmountMax bound the list's amount, inclusive, in minor
	// units of Currency (which they require).
	AmountMin, AmountMax *int64
	// Customer is a customer id (invoices, charges, refunds).
	Customer string
	// CreatedFrom is inclusive and CreatedTo exclusive; DueFrom and DueTo
	// likewise, invoices only.
	CreatedFrom, CreatedTo time.Time
	DueFrom, DueTo         time.Time
	// Sort is one of the list's sort keys ("" is "created"); Asc orders
	// ascending (the default is descending).
	Sort string
	Asc  bool
	// After asks for the rows following the cursor in the list's order,
	// Before for the rows preceding it. At most one may be set.
	After, Before *Cursor
	// Limit is the page size (DefaultListLimit when 0, at most
	// MaxListLimit). Exports ignore it.
	Limit int
}

// Cursor is a position in a list: the sort key of a row, as text, and its
// id.
type Cursor struct {
	Key, ID string
}

// Encode makes c into an opaque token for a URL.
func (c Cursor) Encode() string {
	b, _ := json.Marshal([2]string{c.Key, c.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a token made by Cursor.Encode.
func DecodeCursor(token string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	var kv [2]string
	if err == nil {
		err = json.Unmarshal(b, &kv)
	}
	if err != nil || kv[1] == "" {
		return Cursor{}, errors.New("store: malformed list cursor")
	}
	return Cursor{Key: kv[0], ID: kv[1]}, nil
}

// ListPage is one page of a list: its rows, in order, and the cursors of
// the pages after and before it (nil when there is none).
type ListPage[T any] struct {
	Rows       []T
	Next, Prev *Cursor
}

// CurrencyTotal is the count of the rows of one currency that match a
// filter and the sum of their amounts, in minor units.
type CurrencyTotal struct {
	Currency string `db:"currency"`
	Count    int64  `db:"count"`
	Amount   int64  `db:"amount"`
}

// FilterError says which filter parameter a list cannot use and why. Param
// is the name the filter has in a list's URL ("status", "sort", "after").
type FilterError struct {
	Param, Msg string
}

func (e *FilterError) Error() string { return "store: filter " + e.Param + ": " + e.Msg }

// The status tabs of each list, in the order pages show them. "" (the
// default tab) is not listed.
var (
	// CustomerStatuses: the default tab hides deleted customers.
	CustomerStatuses = []string{"deleted", "all"}
	InvoiceStatuses  = []string{"draft", "open", "past_due", "paid", "void", "uncollectible"}
	ChargeStatuses   = []string{"succeeded", "failed", "pending", "refunded", "partially_refunded", "disputed"}
	RefundStatuses   = []string{"succeeded", "pending", "failed", "canceled", "requires_action"}
)

// The sort keys of each list.
var (
	CustomerSorts = []string{"created", "name", "email", "balance"}
	InvoiceSorts  = []string{"created", "number", "total", "amount_due", "due_date"}
	ChargeSorts   = []string{"created", "amount"}
	RefundSorts   = []string{"created", "amount"}
)

type keyKind int

const (
	keyTime keyKind = iota
	keyInt
	keyText
)

// sortKey is an ORDER BY expression (a constant, never user text) and the
// type of its values. Each has an index on (expression, id).
type sortKey struct {
	expr string
	kind keyKind
}

// listSpec describes one list's table to the shared query builder.
type listSpec struct {
	name    string
	table   string
	columns string
	// amount is the column the amount range and the totals use.
	amount string
	// amountRange says the amount range filter applies.
	amountRange bool
	// currency is the currency expression.
	currency string
	// statuses maps each status tab to its condition; "" is the default.
	statuses map[string]string
	sorts    map[string]sortKey
	// search is what a search for q (trimmed, not empty) matches besides
	// the text columns: a row matches when any of the arms does. Each arm
	// is read on its own (see searchArm), so each is written to use one
	// index.
	search func(q string) []searchArm
	// text is the list's email and name columns, searched through
	// search_terms (textArms); empty for a list without them.
	text [2]string
	// customer is the condition for a customer filter ("" when the list
	// has none); ? is the customer id.
	customer string
	due      bool
}

var customerList = &listSpec{
	name:  "customers",
	table: "customers",
	columns: `id, livemode, email, name, phone, description, currency, balance, delinquent, deleted,
	created, version, synced_at`,
	amount:   "balance",
	currency: "coalesce(currency, '')",
	statuses: map[string]string{"": "NOT deleted", "deleted": "deleted", "all": "true"},
	sorts: map[string]sortKey{
		"created": {"created", keyTime},
		"name":    {"lower(coalesce(name, ''))", keyText},
		"email":   {"lower(coalesce(email, ''))", keyText},
		"balance": {"balance", keyInt},
	},
	search: func(q string) []searchArm {
		return []searchArm{
			{cond: "id LIKE ?", args: []any{escapeLike(q) + "%"}},
		}
	},
	text: [2]string{"email", "name"},
}

var invoiceList = &listSpec{
	name:  "invoices",
	table: "invoices",
	columns: `id, livemode, customer, customer_email, customer_name, number, status, collection_method,
	currency, subtotal, tax, total, amount_due, amount_paid, amount_remaining, due_date, created,
	hosted_invoice_url, invoice_pdf, charge, payment_intent, lines_total_count, deleted, version, synced_at`,
	amount:      "total",
	amountRange: true,
	currency:    "currency",
	// Deleted drafts stay as tombstones; the list does not show them.
	statuses: map[string]string{
		"":              "NOT deleted",
		"draft":         "NOT deleted AND status = 'draft'",
		"open":          "NOT deleted AND status = 'open'",
		"past_due":      "NOT deleted AND status = 'open' AND due_date < now()",
		"paid":          "NOT deleted AND status = 'paid'",
		"void":          "NOT deleted AND status = 'void'",
		"uncollectible": "NOT deleted AND status = 'uncollectible'",
	},
	sorts: map[string]sortKey{
		"created":    {"created", keyTime},
		"number":     {"coalesce(number, '')", keyText},
		"total":      {"total", keyInt},
		"amount_due": {"amount_due", keyInt},
		// Invoices without a due date sort after every date.
		"due_date": {"coalesce(due_date, '9999-12-31 00:00:00+00'::timestamptz)", keyTime},
	},
	search: func(q string) []searchArm {
		return []searchArm{
			{cond: "id LIKE ?", args: []any{escapeLike(q) + "%"}},
			{cond: "customer = ?", args: []any{q}},
			{cond: trigramLower(q)("number") + " LIKE ?", args: []any{substring(q)}},
		}
	},
	text:     [2]string{"customer_email", "customer_name"},
	customer: "customer = ?",
	due:      true,
}

var chargeList = &listSpec{
	name:  "charges",
	table: "charges",
	columns: `id, livemode, customer, invoice, payment_intent, amount, amount_captured, amount_refunded,
	currency, status, paid, captured, refunded, disputed, failure_code, failure_message, description,
	receipt_email, receipt_number, billing_name, card_brand, card_last4, created, version, synced_at`,
	amount:      "amount",
	amountRange: true,
	currency:    "currency",
	statuses: map[string]string{
		"":                   "",
		"succeeded":          "status = 'succeeded'",
		"failed":             "status = 'failed'",
		"pending":            "status = 'pending'",
		"refunded":           "refunded",
		"partially_refunded": "amount_refunded > 0 AND NOT refunded",
		"disputed":           "disputed",
	},
	sorts: map[string]sortKey{
		"created": {"created", keyTime},
		"amount":  {"amount", keyInt},
	},
	search: func(q string) []searchArm {
		return []searchArm{
			{cond: "id LIKE ?", args: []any{escapeLike(q) + "%"}},
			{cond: "customer = ?", args: []any{q}},
			{cond: "card_last4 = ?", args: []any{q}},
			{cond: "receipt_number = ?", args: []any{q}},
		}
	},
	text:     [2]string{"receipt_email", "billing_name"},
	customer: "customer = ?",
}

var refundList = &listSpec{
	name:  "refunds",
	table: "refunds",
	columns: `id, livemode, charge, payment_intent, amount, currency, status, reason, receipt_number,
	failure_reason, created, version, synced_at`,
	amount:      "amount",
	amountRange: true,
	currency:    "currency",
	statuses: map[string]string{
		"":                "",
		"succeeded":       "status = 'succeeded'",
		"pending":         "status = 'pending'",
		"failed":          "status = 'failed'",
		"canceled":        "status = 'canceled'",
		"requires_action": "status = 'requires_action'",
	},
	sorts: map[string]sortKey{
		"created": {"created", keyTime},
		"amount":  {"amount", keyInt},
	},
	search: func(q string) []searchArm {
		return []searchArm{
			{cond: "id LIKE ?", args: []any{escapeLike(q) + "%"}},
			{cond: "charge = ?", args: []any{q}},
			{cond: "receipt_number = ?", args: []any{q}},
		}
	},
	// A refund belongs to a customer through its charge.
	customer: "charge IN (SELECT id FROM charges WHERE customer = ?)",
}

// conds collects the conditions of a WHERE clause and their parameters.
// Conditions are constants of this file in which each ? stands for the
// next parameter; user text only ever travels as a parameter.
type conds struct {
	sql  []string
	args []any
}

func (c *conds) add(cond string, args ...any) {
	c.sql = append(c.sql, c.bind(cond, args...))
}

// bind adds args to c's parameters and returns cond with its ? replaced
// by their numbers, without adding cond to the WHERE clause.
func (c *conds) bind(cond string, args ...any) string {
	for _, a := range args {
		c.args = append(c.args, a)
		cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(c.args)), 1)
	}
	return cond
}

func (c *conds) where() string {
	return c.whereAnd("")
}

// whereAnd is the WHERE clause of c's conditions and cond ("" for none),
// which must already be bound.
func (c *conds) whereAnd(cond string) string {
	all := c.sql
	if cond != "" {
		all = append(all[:len(all):len(all)], cond)
	}
	if len(all) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(all, " AND ")
}

// escapeLike makes s match itself in a LIKE pattern.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// substring is the LIKE pattern matching the lower-cased text of a row
// that contains q in any case.
func substring(q string) string {
	return "%" + escapeLike(strings.ToLower(q)) + "%"
}

// trigramLower returns the expression a text arm searches for q in a
// column with a trigram index (invoice numbers): lower(column), which the
// index answers. A text shorter than three characters has no trigram: the
// index would return every row as a candidate, each then read and
// rechecked (4 s for "ap" in a million charges, the planner expecting a
// few), so for those the expression is written so no index matches it,
// and the planner walks the list's order index or the table instead. Same
// rows either way.
func trigramLower(q string) func(column string) string {
	if utf8.RuneCountInString(q) < 3 {
		return func(column string) string { return "(lower(" + column + ") || '')" }
	}
	return func(column string) string { return "lower(" + column + ")" }
}

// searchKeyLength is the characters of a text that search_key keeps
// (migration 00016).
const searchKeyLength = 200

// searchTermsLimit is the most terms of one column a search reads row by
// row (see textArms). Reading a term's rows costs about 2 µs plus 0.2 µs
// a row, at most a page's worth; walking the list's order until a page of
// matches is found costs about 3 µs a row walked, fewer the more terms
// match. For the seeded mirror (1.5 to 15 rows a term) the two meet
// between 1,400 and 2,000 terms, at about 5 ms.
var searchTermsLimit = 1500

// textArms are the arms that find q in sp's email and name columns,
// through search_terms, the dictionary of every distinct search key
// (migration 00016). The terms containing q come first, from the terms'
// trigram index (a text shorter than three characters has no trigram: the
// expression is then written so the index is not used, since it would
// return every term as a candidate, and the 64,000 terms of a million
// charges are read whole). Up to searchTermsLimit terms of a column, the
// arm is those terms (a text[] parameter), each read from the list's btree
// on the key column (search_email, search_name) in list order from the
// index alone: the planner, which cannot see how many rows a term has,
// would otherwise often walk the list's order checking each row's term, 25
// ms for a text matching 372 emails and 1,712 invoices instead of 2. Past
// the limit the text is common, and the arm is the key containing the
// text, which the planner answers by that walk, soon finding a page. A key
// is a text's first 200 characters; the few rows with a longer text are
// matched on their whole text by a third arm, through a partial index of
// them.
func (s *Store) textArms(ctx context.Context, sp *listSpec, q string) ([]searchArm, error) {
	lq := substring(q)
	term := "term"
	if utf8.RuneCountInString(q) < 3 {
		term = "(term || '')"
	}
	// lookup selects (sel) the terms of kind containing the text, which
	// is param.
	lookup := func(sel, kind, param string) string {
		return "SELECT " + sel + " FROM search_terms WHERE kind = '" + kind + "' AND " + term + " LIKE " + param
	}
	terms, err := s.terms.do(ctx, s, q, func(ctx context.Context) (map[string]foundTerms, error) {
		var found []struct {
			Kind  string         `db:"kind"`
			Terms pq.StringArray `db:"terms"`
		}
		lim := " LIMIT " + strconv.Itoa(searchTermsLimit+1)
		if err := sqlxSelect(ctx, s, &found, `SELECT kind, array_agg(term) AS terms FROM (
(SELECT 'email' AS kind, term FROM (`+lookup("term", "email", "$1")+lim+`) e) UNION ALL
(SELECT 'name', term FROM (`+lookup("term", "name", "$1")+lim+`) n)) t GROUP BY kind`, lq); err != nil {
			return nil, fmt.Errorf("store: search terms: %w", err)
		}
		terms := map[string]foundTerms{}
		for _, f := range found {
			// A term can be stored twice (migration 00016); each is read
			// once.
			ts := slices.Clone([]string(f.Terms))
			slices.Sort(ts)
			terms[f.Kind] = foundTerms{terms: slices.Compact(ts), many: len(f.Terms) > searchTermsLimit}
		}
		return terms, nil
	})
	if err != nil {
		return nil, err
	}
	var arms []searchArm
	for _, kind := range []string{"email", "name"} {
		column, ts := "search_"+kind, terms[kind]
		switch {
		case len(ts.terms) == 0:
		case !ts.many:
			arms = append(arms, searchArm{cond: column + " = ANY (?::text[])", args: []any{pq.StringArray(ts.terms)},
				column: column, terms: "unnest(?::text[])", byTerm: true})
		default:
			// A row's key is one of the terms containing the text exactly
			// when the key itself contains it, which the walk checks on
			// each row from the index alone (0.2 µs). Checking it against
			// the terms instead meant reading them all again first, from
			// the terms' table, for a hashed subplan: 2 to 24 ms for a
			// text in thousands of emails, against 0.1 to 1.2 for the
			// whole walk.
			// The totals read each term once (DISTINCT): an arm stops at
			// the totals' limit of rows, which a term read twice would
			// reach early with rows counted once.
			arms = append(arms, searchArm{cond: column + " LIKE ?", args: []any{lq},
				column: column, terms: "(" + lookup("DISTINCT term", kind, "?") + ")"})
		}
	}
	email, name, n := sp.text[0], sp.text[1], strconv.Itoa(searchKeyLength)
	return append(arms, searchArm{
		cond: "greatest(length(" + email + "), length(" + name + ")) > " + n +
			" AND (lower(" + email + ") LIKE ? OR lower(" + name + ") LIKE ?)",
		args: []any{lq, lq},
	}), nil
}

// termFlight lets concurrent lookups of one search's terms share a query:
// a list's page and its totals, which the handler reads side by side,
// look up the same terms (about 1 ms for a common text), as do several
// people searching for the same thing. Nothing is kept once the query
// answers, so a term written since is found by the next search.
type termFlight struct {
	mu    sync.Mutex
	calls map[string]*termCall
}

// foundTerms are the terms of one kind containing a search's text: all of
// them, or when there are more than searchTermsLimit (many), some.
type foundTerms struct {
	terms []string
	many  bool
}

type termCall struct {
	done   chan struct{}
	terms  map[string]foundTerms
	err    error
	shared int // callers waiting on it besides the one looking up
}

// do returns lookup's answer for q, sharing the call of a lookup of q
// already under way. The shared query runs to its end even if the caller
// that started it gives up (it takes a millisecond or two), so the others
// still get their answer. A Store in a transaction looks up on its own:
// the transaction may see terms others cannot, and others' answers may
// lack terms it wrote.
func (f *termFlight) do(ctx context.Context, s *Store, q string, lookup func(context.Context) (map[string]foundTerms, error)) (map[string]foundTerms, error) {
	if f == nil || s.tx != nil {
		return lookup(ctx)
	}
	f.mu.Lock()
	if c, ok := f.calls[q]; ok {
		c.shared++
		f.mu.Unlock()
		select {
		case <-c.done:
			return c.terms, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c := &termCall{done: make(chan struct{})}
	if f.calls == nil {
		f.calls = map[string]*termCall{}
	}
	f.calls[q] = c
	f.mu.Unlock()
	c.terms, c.err = lookup(context.WithoutCancel(ctx))
	f.mu.Lock()
	delete(f.calls, q)
	f.mu.Unlock()
	close(c.done)
	return c.terms, c.err
}

// searchArm is one way a search matches a row: a condition (a constant of
// this file, ? for each of args) that one index answers: an id prefix, an
// exact column, a trigram index (invoice numbers) or the search terms of a
// text column (textArms). A search reads each arm on its own, with the
// other filters, in the list's order and with the page's limit, and merges
// them (UNION): the planner then picks the best path for each arm -- an
// ordered walk of a (key, created, id) index for a last 4 or a customer, a
// walk of the created index checking each row's term for a common text --
// where one condition ORing them all got one plan for all, and rechecked
// every arm on every row.
//
// An arm with a column is "column is one of terms", terms being a FROM
// item (? for each of args) of one column, term. A page reads it term by
// term when byTerm says so: a LATERAL subquery for each term, with the
// other filters, the order and the limit, so each term's rows come from
// the column's index in order and the arm reads at most a page's rows a
// term. Totals always read it term by term: they stop at
// SearchTotalsLimit + 1 rows, which a common text reaches within a few
// hundred terms, where walking the table until as many rows match took
// tens of milliseconds.
type searchArm struct {
	cond   string
	args   []any
	column string
	terms  string
	byTerm bool
}

// searchArms is what f's search matches (nil without a search).
func (s *Store) searchArms(ctx context.Context, sp *listSpec, f ListFilter) ([]searchArm, error) {
	q := strings.TrimSpace(f.Query)
	if q == "" {
		return nil, nil
	}
	arms := sp.search(q)
	if sp.text[0] == "" {
		return arms, nil
	}
	text, err := s.textArms(ctx, sp, q)
	return append(arms, text...), err
}

// armRows is the statement reading the rows of arm that c selects,
// binding arm's parameters in c: columns from sp's table, in order and
// with limit (each "" for none). byTerm reads a column arm term by term:
// each term's rows on their own (in order and with limit), then
// outerOrder (order in terms of the columns' names) and limit over all.
func (sp *listSpec) armRows(c *conds, arm searchArm, byTerm bool, columns, order, outerOrder, limit string) string {
	if arm.column == "" || !byTerm {
		return "SELECT " + columns + " FROM " + sp.table + c.whereAnd(c.bind(arm.cond, arm.args...)) + order + limit
	}
	return "SELECT x.* FROM " + c.bind(arm.terms, arm.args...) + " AS t (term) CROSS JOIN LATERAL (SELECT " + columns +
		" FROM " + sp.table + c.whereAnd(arm.column+" = t.term") + order + limit + ") x" + outerOrder + limit
}

// anyArm is the condition matching the rows any arm matches, bound in c.
func anyArm(c *conds, arms []searchArm) string {
	or := make([]string, len(arms))
	for i, a := range arms {
		or[i] = c.bind(a.cond, a.args...)
	}
	return "(" + strings.Join(or, " OR ") + ")"
}

// filter turns f, less its cursors and its search (see searchArms), into
// conditions.
func (sp *listSpec) filter(f ListFilter) (*conds, error) {
	c := &conds{}
	status, ok := sp.statuses[f.Status]
	if !ok {
		return nil, &FilterError{"status", fmt.Sprintf("%q is not a status of %s", f.Status, sp.name)}
	}
	if status != "" {
		c.add(status)
	}
	if f.Currency != "" {
		c.add(sp.currency+" = ?", f.Currency)
	}
	if f.AmountMin != nil || f.AmountMax != nil {
		param := "amount_min"
		if f.AmountMin == nil {
			param = "amount_max"
		}
		switch {
		case !sp.amountRange:
			return nil, &FilterError{param, "the " + sp.name + " list has no amount range"}
		case f.Currency == "":
			return nil, &FilterError{param, "an amount range needs a currency"}
		}
		if f.AmountMin != nil {
			c.add(sp.amount+" >= ?", *f.AmountMin)
		}
		if f.AmountMax != nil {
			c.add(sp.amount+" <= ?", *f.AmountMax)
		}
	}
	if f.Customer != "" {
		if sp.customer == "" {
			return nil, &FilterError{"customer", "the " + sp.name + " list has no customer filter"}
		}
		c.add(sp.customer, f.Customer)
	}
	if !f.CreatedFrom.IsZero() {
		c.add("created >= ?", f.CreatedFrom)
	}
	if !f.CreatedTo.IsZero() {
		c.add("created < ?", f.CreatedTo)
	}
	if !f.DueFrom.IsZero() || !f.DueTo.IsZero() {
		if !sp.due {
			param := "due_from"
			if f.DueFrom.IsZero() {
				param = "due_to"
			}
			return nil, &FilterError{param, "the " + sp.name + " list has no due date"}
		}
		if !f.DueFrom.IsZero() {
			c.add("due_date >= ?", f.DueFrom)
		}
		if !f.DueTo.IsZero() {
			c.add("due_date < ?", f.DueTo)
		}
	}
	return c, nil
}

func (sp *listSpec) sortKey(f ListFilter) (sortKey, error) {
	name := f.Sort
	if name == "" {
		name = "created"
	}
	k, ok := sp.sorts[name]
	if !ok {
		return k, &FilterError{"sort", fmt.Sprintf("%s cannot be sorted by %q", sp.name, f.Sort)}
	}
	return k, nil
}

// selectKey is the sort key as the text a Cursor carries. Times are
// written in UTC to the microsecond, PostgreSQL's precision.
func (k sortKey) selectKey() string {
	switch k.kind {
	case keyTime:
		return `to_char((` + k.expr + `) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS sort_key`
	case keyInt:
		return `(` + k.expr + `)::text AS sort_key`
	default:
		return `(` + k.expr + `) AS sort_key`
	}
}

// param is a cursor's key as a query parameter of the key's type.
func (k sortKey) param(c Cursor, name string) (any, error) {
	switch k.kind {
	case keyTime:
		t, err := time.Parse(time.RFC3339Nano, c.Key)
		if err != nil {
			return nil, &FilterError{name, "the page link is broken"}
		}
		return t, nil
	case keyInt:
		n, err := strconv.ParseInt(c.Key, 10, 64)
		if err != nil {
			return nil, &FilterError{name, "the page link is broken"}
		}
		return n, nil
	default:
		return c.Key, nil
	}
}

// query is the statement that reads f's rows in order and its parameters.
// A paged query reads one page, plus one row to tell whether more follow,
// each row with its sort key; a "before" page is read backwards, which
// the third result reports.
func (sp *listSpec) query(f ListFilter, arms []searchArm, paged bool) (string, []any, bool, error) {
	if f.After != nil && f.Before != nil {
		return "", nil, false, &FilterError{"before", "a page cannot be both after and before a row"}
	}
	c, err := sp.filter(f)
	if err != nil {
		return "", nil, false, err
	}
	k, err := sp.sortKey(f)
	if err != nil {
		return "", nil, false, err
	}
	desc := !f.Asc
	reversed := false
	if paged {
		cur, name := f.After, "after"
		if f.Before != nil {
			cur, name, desc, reversed = f.Before, "before", !desc, true
		}
		if cur != nil {
			v, err := k.param(*cur, name)
			if err != nil {
				return "", nil, false, err
			}
			op := ">"
			if desc {
				op = "<"
			}
			c.add("(("+k.expr+"), id) "+op+" (?, ?)", v, cur.ID)
		}
	}
	dir := " ASC"
	if desc {
		dir = " DESC"
	}
	order := " ORDER BY (" + k.expr + ")" + dir + ", id" + dir
	if !paged {
		where := c.where()
		if arms != nil {
			where = c.whereAnd(anyArm(c, arms))
		}
		return "SELECT " + sp.columns + " FROM " + sp.table + where + order, c.args, reversed, nil
	}
	c.args = append(c.args, pageLimit(f)+1)
	lim := " LIMIT $" + strconv.Itoa(len(c.args))
	columns := sp.columns + ", " + k.selectKey()
	if arms == nil {
		return "SELECT " + columns + " FROM " + sp.table + c.where() + order + lim, c.args, reversed, nil
	}
	// A search: the page's rows of each arm, in order, merged; the first
	// rows of the merge are the page, whose rows are then read whole.
	parts := make([]string, len(arms))
	for i, a := range arms {
		parts[i] = "(" + sp.armRows(c, a, a.byTerm, "id, ("+k.expr+") AS k", order, " ORDER BY k"+dir+", id"+dir, lim) + ")"
	}
	q := "SELECT " + columns + " FROM " + sp.table + " WHERE id IN (SELECT id FROM (" + strings.Join(parts, " UNION ") +
		") arms ORDER BY k" + dir + ", id" + dir + lim + ")" + order + lim
	return q, c.args, reversed, nil
}

// pageLimit is the rows a page of f shows.
func pageLimit(f ListFilter) int {
	if f.Limit <= 0 {
		return DefaultListLimit
	}
	return min(f.Limit, MaxListLimit)
}

// keyed is a row read with its sort key.
type keyed interface {
	cursor() Cursor
}

type keyedCustomer struct {
	Customer
	SortKey string `db:"sort_key"`
}
type keyedInvoice struct {
	Invoice
	SortKey string `db:"sort_key"`
}
type keyedCharge struct {
	Charge
	SortKey string `db:"sort_key"`
}
type keyedRefund struct {
	Refund
	SortKey string `db:"sort_key"`
}

func (r keyedCustomer) cursor() Cursor { return Cursor{r.SortKey, r.ID} }
func (r keyedInvoice) cursor() Cursor  { return Cursor{r.SortKey, r.ID} }
func (r keyedCharge) cursor() Cursor   { return Cursor{r.SortKey, r.ID} }
func (r keyedRefund) cursor() Cursor   { return Cursor{r.SortKey, r.ID} }

// listPage reads one page of sp and converts its rows with row.
func listPage[K keyed, T any](ctx context.Context, s *Store, sp *listSpec, f ListFilter, row func(K) T) (ListPage[T], error) {
	var page ListPage[T]
	arms, err := s.searchArms(ctx, sp, f)
	if err != nil {
		return page, err
	}
	q, args, reversed, err := sp.query(f, arms, true)
	if err != nil {
		return page, err
	}
	var rows []K
	if err := sqlxSelect(ctx, s, &rows, q, args...); err != nil {
		return page, fmt.Errorf("store: list %s: %w", sp.name, err)
	}
	limit := pageLimit(f)
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	if reversed {
		for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
			rows[i], rows[j] = rows[j], rows[i]
		}
	}
	if len(rows) > 0 {
		first, last := rows[0].cursor(), rows[len(rows)-1].cursor()
		switch {
		case reversed:
			// Rows follow this page: at least the one the cursor names.
			page.Next = &last
			if more {
				page.Prev = &first
			}
		case f.After != nil:
			page.Prev = &first
			if more {
				page.Next = &last
			}
		case more:
			page.Next = &last
		}
	}
	page.Rows = make([]T, len(rows))
	for i, r := range rows {
		page.Rows[i] = row(r)
	}
	return page, nil
}

// totals sums sp's amounts per currency over every row f matches
// (cursors and limit aside), most rows first. Filters the list's rollup
// can answer (status tab, currency, created bounds on midnights of the
// rollup zone; invoices' past_due with at most a currency, from the
// open-invoice rollup) are summed from it (see rollup.go); a currency and
// an amount range with such a status tab, from the amount rollup and the
// rows at the range's ends (rollup_amounts.go); others, which select
// fewer rows, aggregate the rows.
func (s *Store) totals(ctx context.Context, sp *listSpec, f ListFilter) ([]CurrencyTotal, error) {
	c, err := sp.filter(f)
	if err != nil {
		return nil, err
	}
	if out, ok, err := s.rollupTotals(ctx, sp, f); err != nil || ok {
		return out, err
	}
	if out, ok, err := s.amountRollupTotals(ctx, sp, f); err != nil || ok {
		return out, err
	}
	arms, err := s.searchArms(ctx, sp, f)
	if err != nil {
		return nil, err
	}
	if arms != nil {
		return s.searchTotals(ctx, sp, c, arms)
	}
	return s.rawTotals(ctx, sp, c)
}

// SearchTotalsLimit is the most rows a search's totals add up. A text
// search can match a large, scattered part of a table ("gmail" in a
// million charges), whose rows must each be read from the table for their
// amounts: about 5 µs of CPU each, so 5,000 rows took 25 ms a search and,
// with eight people searching on two cores, p95 over 300 ms (make
// bench-pages). A search is for finding things; past 1,000 matches the
// totals are withheld rather than estimated: the page says so, and the
// filters (status, currency, dates, amounts), whose totals come from the
// rollups, and the CSV export still give exact figures of any size.
const SearchTotalsLimit = 1000

// ErrSearchTooBroad is what the totals of a search matching more than
// SearchTotalsLimit rows return.
var ErrSearchTooBroad = fmt.Errorf("store: the search matches more than %d rows; its totals are not added up", SearchTotalsLimit)

// searchTotals is rawTotals for a search, c's rows that match any of
// arms: it reads at most one row past SearchTotalsLimit, and returns
// ErrSearchTooBroad when that row exists. Each arm is read on its own
// (an exact one, a last 4 or a customer, from its index alone) and stops
// one row past the limit, which then already decides the answer; the
// arms' rows are merged by id, so a row two arms match counts once.
func (s *Store) searchTotals(ctx context.Context, sp *listSpec, c *conds, arms []searchArm) ([]CurrencyTotal, error) {
	var out []CurrencyTotal
	lim := " LIMIT " + strconv.Itoa(SearchTotalsLimit+1)
	// The arms read term by term from a few known terms are cheap to
	// count on their own (index entries only); one that alone passes the
	// limit decides the answer without reading the others, which for a
	// common surname (33 names of a hundred customers each, and two
	// thousand emails containing it) is the expensive part.
	var quick []string
	qc := &conds{sql: c.sql, args: slices.Clone(c.args)}
	for _, a := range arms {
		if a.byTerm {
			quick = append(quick, "(SELECT count(*) FROM ("+sp.armRows(qc, a, true, "1", "", "", lim)+") a)")
		}
	}
	if len(quick) > 0 {
		var most int64
		if err := sqlxGet(ctx, s, &most, "SELECT greatest(0, "+strings.Join(quick, ", ")+")", qc.args...); err != nil {
			return nil, fmt.Errorf("store: totals of %s: %w", sp.name, err)
		}
		if most > SearchTotalsLimit {
			return nil, ErrSearchTooBroad
		}
	}
	parts := make([]string, len(arms))
	for i, a := range arms {
		parts[i] = "(" + sp.armRows(c, a, true, "id, "+sp.currency+" AS currency, "+sp.amount+" AS amount", "", "", lim) + ")"
	}
	q := "SELECT currency, count(*) AS count, coalesce(sum(amount), 0)::bigint AS amount FROM (SELECT currency, amount FROM (" +
		strings.Join(parts, " UNION ") + ") arms" + lim + ") matched GROUP BY 1 ORDER BY 2 DESC, 1"
	if err := sqlxSelect(ctx, s, &out, q, c.args...); err != nil {
		return nil, fmt.Errorf("store: totals of %s: %w", sp.name, err)
	}
	var n int64
	for _, t := range out {
		n += t.Count
	}
	if n > SearchTotalsLimit {
		return nil, ErrSearchTooBroad
	}
	return out, nil
}

// rawTotals aggregates the rows that c selects.
func (s *Store) rawTotals(ctx context.Context, sp *listSpec, c *conds) ([]CurrencyTotal, error) {
	var out []CurrencyTotal
	q := "SELECT " + sp.currency + " AS currency, count(*) AS count, coalesce(sum(" + sp.amount + "), 0)::bigint AS amount FROM " +
		sp.table + c.where() + " GROUP BY 1 ORDER BY 2 DESC, 1"
	if err := sqlxSelect(ctx, s, &out, q, c.args...); err != nil {
		return nil, fmt.Errorf("store: totals of %s: %w", sp.name, err)
	}
	return out, nil
}

// each calls fn with every row f matches, in its order, as the rows arrive
// from the server: nothing is held beyond the current row.
func each[T any](ctx context.Context, s *Store, sp *listSpec, f ListFilter, fn func(*T) error) error {
	f.After, f.Before = nil, nil
	arms, err := s.searchArms(ctx, sp, f)
	if err != nil {
		return err
	}
	q, args, _, err := sp.query(f, arms, false)
	if err != nil {
		return err
	}
	rows, err := s.q.QueryxContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("store: export %s: %w", sp.name, err)
	}
	defer rows.Close()
	var r T
	for rows.Next() {
		if err := rows.StructScan(&r); err != nil {
			return fmt.Errorf("store: export %s: %w", sp.name, err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: export %s: %w", sp.name, err)
	}
	return nil
}

// listRow reads the row with id as its list shows it.
func listRow[T any](ctx context.Context, s *Store, sp *listSpec, id string) (T, error) {
	var r T
	err := sqlx.GetContext(ctx, s.q, &r, "SELECT "+sp.columns+" FROM "+sp.table+" WHERE id = $1", id)
	if isNoRows(err) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("store: load %s row %s: %w", sp.name, id, err)
	}
	return r, nil
}

// CustomerList is a page of customers. The search matches the id (exact or
// prefix) and the email and name (substring, any case).
func (s *Store) CustomerList(ctx context.Context, f ListFilter) (ListPage[Customer], error) {
	return listPage(ctx, s, customerList, f, func(r keyedCustomer) Customer { return r.Customer })
}

// CustomerTotals counts the customers f matches per currency ("" for
// customers without one) and sums their balances.
func (s *Store) CustomerTotals(ctx context.Context, f ListFilter) ([]CurrencyTotal, error) {
	return s.totals(ctx, customerList, f)
}

// EachCustomer calls fn with every customer f matches, in order, streamed.
// The Customer passed is reused between calls.
func (s *Store) EachCustomer(ctx context.Context, f ListFilter, fn func(*Customer) error) error {
	return each(ctx, s, customerList, f, fn)
}

// CustomerListRow is the customer id as the list shows it (no Data).
func (s *Store) CustomerListRow(ctx context.Context, id string) (Customer, error) {
	return listRow[Customer](ctx, s, customerList, id)
}

// InvoiceList is a page of invoices (deleted drafts left out). The search
// matches the id (exact or prefix), the customer id (exact) and the
// number, customer email and customer name (substring, any case).
func (s *Store) InvoiceList(ctx context.Context, f ListFilter) (ListPage[Invoice], error) {
	return listPage(ctx, s, invoiceList, f, func(r keyedInvoice) Invoice { return r.Invoice })
}

// InvoiceTotals counts the invoices f matches per currency and sums their
// totals.
func (s *Store) InvoiceTotals(ctx context.Context, f ListFilter) ([]CurrencyTotal, error) {
	return s.totals(ctx, invoiceList, f)
}

// EachInvoice calls fn with every invoice f matches, in order, streamed.
// The Invoice passed is reused between calls.
func (s *Store) EachInvoice(ctx context.Context, f ListFilter, fn func(*Invoice) error) error {
	return each(ctx, s, invoiceList, f, fn)
}

// InvoiceListRow is the invoice id as the list shows it (no Data, no
// lines).
func (s *Store) InvoiceListRow(ctx context.Context, id string) (Invoice, error) {
	return listRow[Invoice](ctx, s, invoiceList, id)
}

// ChargeList is a page of charges. The search matches the id (exact or
// prefix), the customer id, card last 4 and receipt number (exact) and the
// receipt email and billing name (substring, any case).
func (s *Store) ChargeList(ctx context.Context, f ListFilter) (ListPage[Charge], error) {
	return listPage(ctx, s, chargeList, f, func(r keyedCharge) Charge { return r.Charge })
}

// ChargeTotals counts the charges f matches per currency and sums their
// amounts.
func (s *Store) ChargeTotals(ctx context.Context, f ListFilter) ([]CurrencyTotal, error) {
	return s.totals(ctx, chargeList, f)
}

// EachCharge calls fn with every charge f matches, in order, streamed.
// The Charge passed is reused between calls.
func (s *Store) EachCharge(ctx context.Context, f ListFilter, fn func(*Charge) error) error {
	return each(ctx, s, chargeList, f, fn)
}

// ChargeListRow is the charge id as the list shows it (no Data).
func (s *Store) ChargeListRow(ctx context.Context, id string) (Charge, error) {
	return listRow[Charge](ctx, s, chargeList, id)
}

// RefundList is a page of refunds. The search matches the id (exact or
// prefix), the charge id and the receipt number (exact). The customer
// filter matches refunds of the customer's charges.
func (s *Store) RefundList(ctx context.Context, f ListFilter) (ListPage[Refund], error) {
	return listPage(ctx, s, refundList, f, func(r keyedRefund) Refund { return r.Refund })
}

// RefundTotals counts the refunds f matches per currency and sums their
// amounts.
func (s *Store) RefundTotals(ctx context.Context, f ListFilter) ([]CurrencyTotal, error) {
	return s.totals(ctx, refundList, f)
}

// EachRefund calls fn with every refund f matches, in order, streamed.
// The Refund passed is reused between calls.
func (s *Store) EachRefund(ctx context.Context, f ListFilter, fn func(*Refund) error) error {
	return each(ctx, s, refundList, f, fn)
}

// RefundListRow is the refund id as the list shows it (no Data).
func (s *Store) RefundListRow(ctx context.Context, id string) (Refund, error) {
	return listRow[Refund](ctx, s, refundList, id)
}
