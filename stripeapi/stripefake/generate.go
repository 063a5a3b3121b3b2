package stripefake

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"time"
)

// Dataset sizes and shapes a generated account.
type Dataset struct {
	Customers, Invoices, Charges, Refunds int
	// LongInvoices is how many invoices get 25..40 lines, more than the 10
	// an invoice embeds; the rest get 1..5.
	LongInvoices int
	// Start and End bound every created timestamp (defaults: the year
	// before 2024-01-01). Objects come in bursts of 2..20 sharing one second,
	// as on Stripe, so paging must survive ties on created.
	Start, End time.Time
	// Seed makes the account deterministic: the same Templates, Dataset and
	// Seed give byte-identical objects.
	Seed int64
}

// gen is the state of one Generate run.
type gen struct {
	r      *rand.Rand
	shapes struct{ customer, invoice, line, charge, refund *shape }
	ids    map[string]bool // top-level ids handed out, to keep them unique
	s0, s1 int64           // created bounds, whole seconds inside [Start, End]

	customers []*genCustomer // created ascending
	charges   []*genCharge   // created ascending
}

// Generate builds an account from the templates: every object is its
// template, decoded with numbers kept exact, with ids, timestamps, amounts
// and text set, so it keeps exactly the template's fields. Invoices,
// charges and refunds point at objects that existed when they were created.
// Refunds never exceed their charge, and a charge's amount_refunded is the
// sum of its refunds. If there are no captured charges left to refund,
// fewer refunds than asked are made (Counts tells how many). Generate
// panics if a template is not a JSON object.
func Generate(t Templates, d Dataset) *Data {
	g := &gen{r: rand.New(rand.NewPCG(uint64(d.Seed), 0x9a7de5c)), ids: map[string]bool{}}
	for _, x := range []struct {
		dst  **shape
		name string
		raw  []byte
	}{
		{&g.shapes.customer, "customer", t.Customer}, {&g.shapes.invoice, "invoice", t.Invoice},
		{&g.shapes.line, "line_item", t.InvoiceLine}, {&g.shapes.charge, "charge", t.Charge},
		{&g.shapes.refund, "refund", t.Refund},
	} {
		m, err := decodeMap(x.raw)
		if err != nil {
			panic(fmt.Sprintf("stripefake: %s template: %v", x.name, err))
		}
		*x.dst = compile(x.name, m)
	}
	if g.shapes.invoice.field("lines") == nil {
		panic("stripefake: invoice template has no lines object")
	}
	g.setRange(d.Start, d.End)

	out := newData(d.Seed)
	shapes := map[string]*shape{"customer": g.shapes.customer, "invoice": g.shapes.invoice,
		"charge": g.shapes.charge, "refund": g.shapes.refund}
	var scratch []byte
	put := func(kind string, o overlay) {
		out.putLocked(kind, objectFromOverlay(kind, shapes[kind], o, g.shapes.line, &scratch))
	}
	g.genCustomers(d.Customers)
	long := map[int]bool{}
	for _, i := range g.r.Perm(d.Invoices)[:min(d.LongInvoices, d.Invoices)] {
		long[i] = true
	}
	giant := g.r.IntN(max(d.Invoices, 1))
	for i, ts := range g.times(d.Invoices) {
		put("invoice", g.invoice(ts, long[i], i == giant))
	}
	giant = g.r.IntN(max(d.Charges, 1))
	for i, ts := range g.times(d.Charges) {
		g.charge(ts, i == giant)
	}
	for _, r := range g.refunds(d.Refunds) {
		put("refund", r)
	}
	// Customers and charges are encoded last: invoices and refunds change
	// their next_invoice_sequence, delinquent and amount_refunded.
	for _, c := range g.customers {
		c.m["next_invoice_sequence"] = c.seq + 1
		c.m["delinquent"] = c.delinquent
		put("customer", c.m)
	}
	for _, c := range g.charges {
		c.m["amount_refunded"] = c.refunded
		c.m["refunded"] = c.refunded == c.amount && c.amount > 0
		put("charge", c.m)
	}
	return out
}

func (g *gen) setRange(start, end time.Time) {
	if end.IsZero() {
		end = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if start.IsZero() {
		start = end.AddDate(-1, 0, 0)
	}
	g.s0, g.s1 = start.Unix(), end.Unix()
	if start.Nanosecond() > 0 {
		g.s0++ // the second of a fractional Start begins before Start
	}
	if g.s1 < g.s0 {
		g.s1 = g.s0
	}
}

// times returns n created timestamps, ascending, in bursts: 30% of seconds
// hold one object, the rest 2..20.
func (g *gen) times(n int) []int64 {
	out := make([]int64, 0, n)
	for len(out) < n {
		sec := g.s0 + g.r.Int64N(g.s1-g.s0+1)
		k := 1
		if g.r.IntN(10) >= 3 {
			k = 2 + g.r.IntN(19)
		}
		for j := 0; j < k && len(out) < n; j++ {
			out = append(out, sec)
		}
	}
	slices.Sort(out)
	return out
}

// newID returns prefix plus n random characters, unique in this account.
func (g *gen) newID(prefix string, n int) string {
	for {
		id := prefix + randID(g.r, n)
		if !g.ids[id] {
			g.ids[id] = true
			return id
		}
	}
}

func (g *gen) chance(percent int) bool { return g.r.IntN(100) < percent }

// customerAt picks a customer that already existed at ts. Objects made
// before the first customer belong to it and move to its created second.
func (g *gen) customerAt(ts int64) (*genCustomer, int64) {
	if len(g.customers) == 0 {
		return nil, ts
	}
	i := sort.Search(len(g.customers), func(i int) bool { return g.customers[i].created > ts })
	if i == 0 {
		return g.customers[0], max(ts, g.customers[0].created)
	}
	return g.customers[g.r.IntN(i)], ts
}

func (g *gen) currency() int {
	n := g.r.IntN(100)
	for i, c := range currencies {
		if n < c.weight {
			return i
		}
		n -= c.weight
	}
	return 0
}

// amount is an everyday amount in minor units of currency c, from about
// 0.50 to 5,000.00; big ones exceed 2^31 as large B2B or KRW amounts do.
func (g *gen) amount(c int, big bool) int64 {
	cur := currencies[c]
	a := (50 + g.r.Int64N(450)) * []int64{1, 10, 100, 1000}[g.r.IntN(4)] * cur.scale
	if big {
		a = 3_000_000_000 + g.r.Int64N(300_000_000_000)
	}
	return max(cur.unit, a-a%cur.unit)
}

// maxSafePlusOne is 2^53+1: the first integer a float64 cannot hold, so a
// client that decodes money as float64 visibly corrupts it.
const maxSafePlusOne int64 = 9_007_199_254_740_993
