// Package verify compares the mirror with Stripe and reports drift:
// `paydesk verify`. It counts each object type on both sides and compares
// the fields paydesk shows and totals on, for every object (All, which
// lists the whole account with the backfill's pager) or a random sample of
// the mirror's objects (fetched one by one). With Fix it re-fetches every
// drifted object, stores it the way the backfill does, and checks the
// mirror again.
//
// The two sides are read at slightly different moments while webhooks may
// still be arriving. An object whose mirror state is newer than the state
// Stripe gave (a webhook applied it meanwhile) is counted as unsettled,
// not as drift.
package verify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"paydesk/store"
	"paydesk/stripeapi"
	"paydesk/stripeapi/backfill"
)

// DefaultSample is how many objects per type a sample compares when
// Options.Sample is 0.
const DefaultSample = 100

// Options choose what Run compares.
type Options struct {
	// Types to compare ("customers", "invoices", "charges", "refunds");
	// nil means all.
	Types []string
	// All lists every object on Stripe; otherwise Sample objects per type
	// are picked from the mirror at random and fetched one by one.
	All    bool
	Sample int
	// Fix re-fetches each drifted object and stores it.
	Fix bool
	// Workers is how many requests run at once (default 4); the API
	// client's rate limit bounds them whatever this is.
	Workers int
	// Log receives one line per fix.
	Log *slog.Logger
}

// Report is the outcome of Run.
type Report struct {
	// Mode is "all" or "sample".
	Mode     string `json:"mode"`
	Livemode bool   `json:"livemode"`
	// Until: with All, the objects compared are those created before it.
	Until *time.Time   `json:"until,omitempty"`
	Types []TypeReport `json:"types"`
	// Drifts lists every difference, by type then id.
	Drifts   []Drift       `json:"drifts"`
	Requests int64         `json:"stripe_requests"`
	Duration time.Duration `json:"-"`
	Seconds  float64       `json:"seconds"`
}

// TypeReport sums up one object type.
type TypeReport struct {
	Type string `json:"type"`
	// Mirror counts the mirror's objects (not deleted; with All, created
	// before Until).
	Mirror int64 `json:"mirror_count"`
	// Stripe counts the objects Stripe listed; -1 for a sample, which does
	// not list.
	Stripe int64 `json:"stripe_count"`
	// Compared is how many objects were compared field by field.
	Compared int `json:"compared"`
	// Drifted is how many objects differ in some way, of which OnlyStripe
	// are missing from the mirror and OnlyMirror missing on Stripe.
	Drifted    int `json:"drifted"`
	OnlyStripe int `json:"only_stripe"`
	OnlyMirror int `json:"only_mirror"`
	// Unsettled objects changed in the mirror while verify ran; they are
	// not judged.
	Unsettled int `json:"unsettled"`
	// Fixed is how many drifted objects --fix repaired (checked again).
	Fixed int `json:"fixed"`
}

// Drift is one difference: a field that disagrees, or (Field "exists") an
// object present on one side only.
type Drift struct {
	Type   string `json:"type"`
	ID     string `json:"id"`
	Field  string `json:"field"`
	Mirror string `json:"mirror"`
	Stripe string `json:"stripe"`
	// Fixed says a fix repaired the object and the mirror now agrees.
	Fixed bool `json:"fixed"`
	// Note says why a fix did not repair it.
	Note string `json:"note,omitempty"`
}

// Unfixed counts the drifts not repaired.
func (r *Report) Unfixed() int {
	n := 0
	for _, d := range r.Drifts {
		if !d.Fixed {
			n++
		}
	}
	return n
}

// Run compares the mirror in st with the Stripe account api reaches.
func Run(ctx context.Context, st *store.Store, api *stripeapi.Client, o Options) (*Report, error) {
	started := time.Now()
	if o.Types == nil {
		o.Types = slices.Clone(backfill.Objects)
	}
	for _, t := range o.Types {
		if !slices.Contains(backfill.Objects, t) {
			return nil, fmt.Errorf("verify: unknown object type %q", t)
		}
	}
	if o.Sample < 0 {
		return nil, errors.New("verify: the sample size is negative")
	}
	if o.Sample == 0 {
		o.Sample = DefaultSample
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	c := &checker{st: st, api: api, o: o, livemode: api.LiveMode(), byType: map[string]*TypeReport{},
		seen: map[string]map[string]bool{}, targets: map[key]*target{}}
	c.report.Livemode = c.livemode
	for _, t := range o.Types {
		c.report.Types = append(c.report.Types, TypeReport{Type: t})
		c.seen[t] = map[string]bool{}
	}
	for i := range c.report.Types {
		c.byType[c.report.Types[i].Type] = &c.report.Types[i]
	}
	before := api.Stats()

	var err error
	if o.All {
		c.report.Mode = "all"
		err = c.all(ctx)
	} else {
		c.report.Mode = "sample"
		err = c.sample(ctx)
	}
	if err == nil && o.Fix {
		err = c.fix(ctx)
	}
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(c.report.Drifts, func(a, b Drift) int {
		if d := cmp.Compare(slices.Index(backfill.Objects, a.Type), slices.Index(backfill.Objects, b.Type)); d != 0 {
			return d
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if c.report.Drifts == nil {
		c.report.Drifts = []Drift{}
	}
	c.report.Requests = api.Stats().Requests - before.Requests
	c.report.Duration = time.Since(started)
	c.report.Seconds = c.report.Duration.Seconds()
	return &c.report, nil
}

// key names one object.
type key struct{ typ, id string }

// target is a drifted object: what --fix re-fetches.
type target struct {
	key
	// drifts index the object's entries in report.Drifts.
	drifts []int
}

// checker is one run's state; its methods may run on several goroutines.
type checker struct {
	st       *store.Store
	api      *stripeapi.Client
	o        Options
	livemode bool

	mu      sync.Mutex
	report  Report
	byType  map[string]*TypeReport
	seen    map[string]map[string]bool // by type: ids Stripe listed
	targets map[key]*target
	order   []key // targets in the order found
}

// judge compares one object's two sides; nil means absent on that side.
// The caller holds c.mu.
func (c *checker) judge(typ, id string, mirror, stripe *snapshot) {
	tr := c.byType[typ]
	var diffs []difference
	switch {
	case mirror == nil && stripe == nil:
		return
	case mirror == nil:
		if stripe.deleted {
			return // gone on both sides
		}
		tr.OnlyStripe++
		diffs = []difference{{"exists", "absent", "present"}}
	case stripe == nil:
		if mirror.deleted {
			return
		}
		tr.OnlyMirror++
		diffs = []difference{{"exists", "present", "absent"}}
	default:
		tr.Compared++
		diffs = compare(*mirror, *stripe)
		if len(diffs) > 0 && mirror.version > stripe.version {
			// A webhook stored a newer state after Stripe answered.
			tr.Unsettled++
			return
		}
	}
	if len(diffs) == 0 {
		return
	}
	tr.Drifted++
	k := key{typ, id}
	t := c.targets[k]
	if t == nil {
		t = &target{key: k}
		c.targets[k] = t
		c.order = append(c.order, k)
	}
	for _, d := range diffs {
		t.drifts = append(t.drifts, len(c.report.Drifts))
		c.report.Drifts = append(c.report.Drifts, Drift{Type: typ, ID: id, Field: d.field, Mirror: d.mirror, Stripe: d.stripe})
	}
}

// mirrorSnapshots reads the stored state of ids.
func (c *checker) mirrorSnapshots(ctx context.Context, typ string, ids []string) (map[string]snapshot, error) {
	out := make(map[string]snapshot, len(ids))
	switch typ {
	case "customers":
		rows, err := c.st.VerifyCustomers(ctx, ids)
		for _, r := range rows {
			out[r.ID] = customerSnapshot(r)
		}
		return out, err
	case "invoices":
		rows, err := c.st.VerifyInvoices(ctx, ids)
		for _, r := range rows {
			out[r.ID] = invoiceSnapshot(r.Invoice, r.LinesStored, r.LinesSum)
		}
		return out, err
	case "charges":
		rows, err := c.st.VerifyCharges(ctx, ids)
		for _, r := range rows {
			out[r.ID] = chargeSnapshot(r)
		}
		return out, err
	case "refunds":
		rows, err := c.st.VerifyRefunds(ctx, ids)
		for _, r := range rows {
			out[r.ID] = refundSnapshot(r)
		}
		return out, err
	}
	return nil, fmt.Errorf("verify: unknown object type %q", typ)
}

// all lists every object on Stripe and compares it with the mirror, page
// by page, then finds the mirror's objects Stripe did not list.
func (c *checker) all(ctx context.Context) error {
	until := time.Now().Truncate(time.Second).Add(time.Second)
	c.report.Until = &until
	err := backfill.List(ctx, c.api, backfill.ListOptions{Objects: c.o.Types, Until: until, Workers: c.o.Workers, Log: c.o.Log},
		func(ctx context.Context, typ string, rows any) error {
			listed := snapshotsOf(rows)
			ids := make([]string, 0, len(listed))
			for id := range listed {
				ids = append(ids, id)
			}
			mirror, err := c.mirrorSnapshots(ctx, typ, ids)
			if err != nil {
				return err
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, id := range ids {
				if c.seen[typ][id] {
					continue // a window read again after its cursor vanished
				}
				c.seen[typ][id] = true
				s := listed[id]
				var m *snapshot
				if ms, ok := mirror[id]; ok {
					m = &ms
				}
				c.judge(typ, id, m, &s)
			}
			return nil
		})
	if err != nil {
		return err
	}
	for _, typ := range c.o.Types {
		tr := c.byType[typ]
		tr.Stripe = int64(len(c.seen[typ]))
		n, err := c.st.VerifyCount(ctx, typ, c.livemode, &until)
		if err != nil {
			return err
		}
		tr.Mirror = n
		var onlyMirror []string
		err = c.st.VerifyEachID(ctx, typ, c.livemode, &until, func(id string) error {
			if !c.seen[typ][id] {
				onlyMirror = append(onlyMirror, id)
			}
			return nil
		})
		if err != nil {
			return err
		}
		slices.Sort(onlyMirror)
		mirror, err := c.mirrorSnapshots(ctx, typ, onlyMirror)
		if err != nil {
			return err
		}
		c.mu.Lock()
		for _, id := range onlyMirror {
			if m, ok := mirror[id]; ok {
				c.judge(typ, id, &m, nil)
			}
		}
		c.mu.Unlock()
	}
	return nil
}

// sample compares a random sample of each type's mirror objects with the
// same objects fetched from Stripe.
func (c *checker) sample(ctx context.Context) error {
	for _, typ := range c.o.Types {
		tr := c.byType[typ]
		tr.Stripe = -1
		n, err := c.st.VerifyCount(ctx, typ, c.livemode, nil)
		if err != nil {
			return err
		}
		tr.Mirror = n
		ids, err := c.st.VerifySample(ctx, typ, c.livemode, c.o.Sample)
		if err != nil {
			return err
		}
		fetched, err := c.fetchAll(ctx, typ, ids)
		if err != nil {
			return err
		}
		// The mirror is read after Stripe answered, so a state a webhook
		// stored meanwhile shows as newer (unsettled), not as drift.
		mirror, err := c.mirrorSnapshots(ctx, typ, ids)
		if err != nil {
			return err
		}
		c.mu.Lock()
		for i, id := range ids {
			var m *snapshot
			if ms, ok := mirror[id]; ok {
				m = &ms
			}
			c.judge(typ, id, m, fetched[i].snap)
		}
		c.mu.Unlock()
	}
	return nil
}

// fetchAll fetches ids of one type from Stripe, Workers at a time, in the
// order given.
func (c *checker) fetchAll(ctx context.Context, typ string, ids []string) ([]fetched, error) {
	out := make([]fetched, len(ids))
	errs := make([]error, len(ids))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(c.o.Workers, max(len(ids), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i], errs[i] = c.fetch(ctx, typ, ids[i])
			}
		}()
	}
feed:
	for i := range ids {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("fetch %s %s: %w", typ, ids[i], err)
		}
	}
	return out, nil
}

// fetched is one object as Stripe gave it now.
type fetched struct {
	// row is the store row to write; nil when Stripe has no such object.
	row any
	// snap is what to compare; nil when Stripe has no such object.
	snap *snapshot
	// version is when the request was sent: the row's version.
	version int64
}

// fetch reads one object from Stripe. A missing object (404) is not an
// error: it comes back with a nil row.
func (c *checker) fetch(ctx context.Context, typ, id string) (fetched, error) {
	f := fetched{version: time.Now().Unix()}
	var (
		row  any
		snap snapshot
		err  error
	)
	switch typ {
	case "customers":
		res, gerr := c.api.Customers.Get(ctx, id)
		if err = gerr; err == nil {
			var r store.Customer
			if r, err = stripeapi.CustomerRecord(res.LastResponse.RawJSON, c.livemode, f.version); err == nil {
				row, snap = r, customerSnapshot(r)
			}
		}
	case "invoices":
		res, gerr := c.api.Invoices.Get(ctx, id)
		if err = gerr; err == nil {
			var r store.Invoice
			if r, err = stripeapi.InvoiceRecord(res.LastResponse.RawJSON, c.livemode, f.version); err == nil {
				if err = c.api.Invoices.CompleteLines(ctx, &r); err == nil {
					row, snap = r, stripeInvoiceSnapshot(r)
				}
			}
		}
	case "charges":
		res, gerr := c.api.Charges.Get(ctx, id)
		if err = gerr; err == nil {
			var r store.Charge
			if r, err = stripeapi.ChargeRecord(res.LastResponse.RawJSON, c.livemode, f.version); err == nil {
				row, snap = r, chargeSnapshot(r)
			}
		}
	case "refunds":
		res, gerr := c.api.Refunds.Get(ctx, id)
		if err = gerr; err == nil {
			var r store.Refund
			if r, err = stripeapi.RefundRecord(res.LastResponse.RawJSON, c.livemode, f.version); err == nil {
				row, snap = r, refundSnapshot(r)
			}
		}
	default:
		return f, fmt.Errorf("verify: unknown object type %q", typ)
	}
	if stripeapi.IsNotFound(err) {
		return f, nil
	}
	if err != nil {
		return f, err
	}
	f.row, f.snap = row, &snap
	return f, nil
}
