package apply

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"paydesk/store"
	"paydesk/stripeapi"
)

// tableOf maps the object types paydesk mirrors to their tables.
var tableOf = map[string]string{
	"customer": "customers",
	"invoice":  "invoices",
	"charge":   "charges",
	"refund":   "refunds",
}

// target is one mirrored object touched by the batch.
type target struct {
	table, id string
	livemode  bool
	events    []*parsed
	// refetch, when set, says why the object must be fetched from Stripe
	// instead of taken from an event.
	refetch string
}

// parsed is a claimed event with its object decoded.
type parsed struct {
	ev     store.Event
	object json.RawMessage
}

// batch is the work of one transaction.
type batch struct {
	api      *stripeapi.Client
	targets  []*target
	outcomes []store.EventOutcome
	changes  []store.Change
}

func newBatch(events []store.Event, api *stripeapi.Client) *batch {
	b := &batch{api: api}
	byKey := map[string]*target{}
	for _, e := range events {
		table, id, refetch, object, note := classify(e)
		if table == "" {
			b.finish(e.ID, store.EventIgnored, note)
			continue
		}
		key := table + "/" + id
		t := byKey[key]
		if t == nil {
			t = &target{table: table, id: id, livemode: e.Livemode}
			byKey[key] = t
			b.targets = append(b.targets, t)
		}
		t.events = append(t.events, &parsed{ev: e, object: object})
		if refetch != "" && t.refetch == "" {
			t.refetch = refetch
		}
	}
	return b
}

// classify decides what an event touches. An empty table means the event is
// ignored, for the reason in note. The event's type, object type and id
// come from the columns the receiver filled, and its object from the claim.
func classify(e store.Event) (table, id, refetch string, object json.RawMessage, note string) {
	objectType, objectID := deref(e.ObjectType), deref(e.ObjectID)
	switch {
	case objectType == "dispute":
		// A dispute changes its charge's disputed flag; the charge itself
		// is read again.
		var d struct {
			Charge json.RawMessage `json:"charge"`
		}
		_ = json.Unmarshal(e.Object, &d)
		charge := expandedID(d.Charge)
		if charge == "" {
			return "", "", "", nil, "dispute without a charge"
		}
		return "charges", charge, "dispute " + e.Type, nil, ""
	case tableOf[objectType] == "":
		return "", "", "", nil, fmt.Sprintf("paydesk does not mirror %q objects", objectType)
	case objectID == "":
		// invoice.upcoming describes an invoice that does not exist yet.
		return "", "", "", nil, "the event's object has no id"
	}
	if v := deref(e.APIVersion); v != "" && v != stripeapi.APIVersion {
		refetch = "event rendered at API version " + v
	}
	return tableOf[objectType], objectID, refetch, e.Object, ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func expandedID(raw json.RawMessage) string {
	var id string
	if json.Unmarshal(raw, &id) == nil {
		return id
	}
	var obj struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &obj)
	return obj.ID
}

func (b *batch) finish(id, status, note string) {
	b.outcomes = append(b.outcomes, store.EventOutcome{ID: id, Status: status, Note: note})
}

// finishTarget gives every event of t an outcome: the one whose state was
// used gets note, the others were superseded by it.
func (b *batch) finishTarget(t *target, used *parsed, note string) {
	for _, p := range t.events {
		switch {
		case used == nil || p == used:
			b.finish(p.ev.ID, store.EventApplied, note)
		default:
			b.finish(p.ev.ID, store.EventApplied, "superseded by a newer event of the same object")
		}
	}
}

// newest returns the latest event of t, and false when two or more share
// the latest second (a tie only Stripe can settle).
func (t *target) newest() (*parsed, bool) {
	sort.SliceStable(t.events, func(i, j int) bool { return t.events[i].ev.Created < t.events[j].ev.Created })
	last := t.events[len(t.events)-1]
	if n := len(t.events); n > 1 && t.events[n-2].ev.Created == last.ev.Created {
		return last, false
	}
	return last, true
}

// applyEvents stores the newest event of each target that an event can
// settle, where it is strictly newer than the stored state, and marks the
// ties for re-fetching.
func (b *batch) applyEvents(ctx context.Context, tx *store.Store) error {
	var (
		pending   []*target
		used      = map[*target]*parsed{}
		customers []store.Customer
		invoices  []store.Invoice
		charges   []store.Charge
		refunds   []store.Refund
	)
	for _, t := range b.targets {
		if t.refetch != "" {
			continue
		}
		p, unique := t.newest()
		if !unique {
			t.refetch = "several events in the same second"
			continue
		}
		version := p.ev.Created
		var err error
		switch t.table {
		case "customers":
			var r store.Customer
			if r, err = stripeapi.CustomerRecord(p.object, p.ev.Livemode, version); err == nil {
				r.Deleted = r.Deleted || p.ev.Type == "customer.deleted"
				customers = append(customers, r)
			}
		case "invoices":
			var r store.Invoice
			if r, err = stripeapi.InvoiceRecord(p.object, p.ev.Livemode, version); err == nil {
				if r.LinesHasMore {
					// The event carries only the first lines; the invoice
					// and all its lines are read together instead.
					t.refetch = "invoice has more lines than its event carries"
					continue
				}
				r.Deleted = p.ev.Type == "invoice.deleted"
				invoices = append(invoices, r)
			}
		case "charges":
			var r store.Charge
			if r, err = stripeapi.ChargeRecord(p.object, p.ev.Livemode, version); err == nil {
				charges = append(charges, r)
			}
		case "refunds":
			var r store.Refund
			if r, err = stripeapi.RefundRecord(p.object, p.ev.Livemode, version); err == nil {
				refunds = append(refunds, r)
			}
		}
		if err != nil {
			// A malformed object cannot be applied from the event; Stripe
			// has the truth.
			t.refetch = "event object unreadable: " + err.Error()
			continue
		}
		pending = append(pending, t)
		used[t] = p
	}

	applied := map[string]bool{}
	if err := applyRows(ctx, tx, "customers", customers, (*store.Store).ApplyCustomers, applied); err != nil {
		return err
	}
	if err := applyRows(ctx, tx, "invoices", invoices, (*store.Store).ApplyInvoices, applied); err != nil {
		return err
	}
	if err := applyRows(ctx, tx, "charges", charges, (*store.Store).ApplyCharges, applied); err != nil {
		return err
	}
	if err := applyRows(ctx, tx, "refunds", refunds, (*store.Store).ApplyRefunds, applied); err != nil {
		return err
	}

	// What was not applied is older than the stored state, at the same
	// second (a tie), or a deleted object's late update.
	notApplied := map[string][]string{}
	for _, t := range pending {
		if applied[t.table+"/"+t.id] {
			b.finishTarget(t, used[t], "")
			b.changes = append(b.changes, store.Change{Table: t.table, ID: t.id, Livemode: t.livemode})
			continue
		}
		notApplied[t.table] = append(notApplied[t.table], t.id)
	}
	stored := map[string]int64{}
	for table, ids := range notApplied {
		versions, err := tx.StoredVersions(ctx, table, ids)
		if err != nil {
			return err
		}
		for id, v := range versions {
			stored[table+"/"+id] = v
		}
	}
	for _, t := range pending {
		v, ok := stored[t.table+"/"+t.id]
		if !ok {
			continue // applied above
		}
		switch ev := used[t].ev.Created; {
		case v == ev:
			t.refetch = "same second as the stored state"
		case v > ev:
			b.finishTarget(t, nil, "older than the stored state; nothing to change")
		default:
			b.finishTarget(t, nil, "the object is deleted; later states are not applied")
		}
	}
	return nil
}

// applyRows writes rows with apply and notes which were applied.
func applyRows[T any](ctx context.Context, tx *store.Store, table string, rows []T,
	apply func(*store.Store, context.Context, []T) ([]string, error), applied map[string]bool) error {
	ids, err := apply(tx, ctx, rows)
	for _, id := range ids {
		applied[table+"/"+id] = true
	}
	return err
}

// commitOutcomes records the outcomes and announces the changes gathered
// so far, and starts afresh for the next transaction.
func (b *batch) commitOutcomes(ctx context.Context, tx *store.Store) error {
	if err := tx.Notify(ctx, b.changes); err != nil {
		return err
	}
	if err := tx.FinishEvents(ctx, b.outcomes); err != nil {
		return err
	}
	b.changes, b.outcomes = nil, nil
	return nil
}

// refetchTargets are the targets only Stripe can settle, in the order
// their rows are locked: by table as applyEvents writes them, then by id,
// the same order every writer uses, so no two can deadlock.
func (b *batch) refetchTargets() []*target {
	var out []*target
	for _, t := range b.targets {
		if t.refetch != "" {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if ti, tj := tableRank[out[i].table], tableRank[out[j].table]; ti != tj {
			return ti < tj
		}
		return out[i].id < out[j].id
	})
	return out
}

var tableRank = map[string]int{"customers": 0, "invoices": 1, "charges": 2, "refunds": 3}

func (b *batch) refetchEventIDs() []string {
	var ids []string
	for _, t := range b.refetchTargets() {
		for _, p := range t.events {
			ids = append(ids, p.ev.ID)
		}
	}
	return ids
}

// fetched is one target as Stripe returned it.
type fetched struct {
	t   *target
	row any // store.Customer, store.Invoice, store.Charge or store.Refund
	// gone means Stripe no longer has the (draft) invoice.
	gone    bool
	version int64
	err     error
}

// fetchAll reads every re-fetch target from Stripe, outside any
// transaction.
func (b *batch) fetchAll(ctx context.Context) []fetched {
	targets := b.refetchTargets()
	out := make([]fetched, 0, len(targets))
	for _, t := range targets {
		out = append(out, b.fetch(ctx, t))
	}
	return out
}

// fetch reads one object. Its version is the second before the request
// was sent: the state read is at least as new as any event of an earlier
// second.
func (b *batch) fetch(ctx context.Context, t *target) fetched {
	f := fetched{t: t, version: time.Now().Unix()}
	if b.api == nil {
		f.err = errNoAPI
		return f
	}
	switch t.table {
	case "customers":
		c, err := b.api.Customers.Get(ctx, t.id)
		if f.err = err; err == nil {
			f.row, f.err = stripeapi.CustomerRecord(c.LastResponse.RawJSON, t.livemode, f.version)
		}
	case "invoices":
		inv, err := b.api.Invoices.Get(ctx, t.id)
		if stripeapi.IsNotFound(err) {
			f.gone = true // Stripe forgets deleted drafts
			return f
		}
		if f.err = err; err != nil {
			return f
		}
		r, err := stripeapi.InvoiceRecord(inv.LastResponse.RawJSON, t.livemode, f.version)
		if err == nil {
			err = b.api.Invoices.CompleteLines(ctx, &r)
		}
		f.row, f.err = r, err
	case "charges":
		c, err := b.api.Charges.Get(ctx, t.id)
		if f.err = err; err == nil {
			f.row, f.err = stripeapi.ChargeRecord(c.LastResponse.RawJSON, t.livemode, f.version)
		}
	case "refunds":
		r, err := b.api.Refunds.Get(ctx, t.id)
		if f.err = err; err == nil {
			f.row, f.err = stripeapi.RefundRecord(r.LastResponse.RawJSON, t.livemode, f.version)
		}
	}
	return f
}

// storeFetched writes what Stripe returned, as not older than the stored
// state, in lock order. A target Stripe could not give fails only its own
// events, which are retried with backoff.
func (b *batch) storeFetched(ctx context.Context, tx *store.Store, all []fetched) error {
	for _, f := range all {
		t := f.t
		if f.err != nil {
			for _, p := range t.events {
				b.outcomes = append(b.outcomes, store.EventOutcome{ID: p.ev.ID, Status: store.EventFailed,
					Note: "re-fetch: " + t.refetch, Error: safeError(f.err), RetryAt: time.Now().Add(backoff(p.ev.Attempts + 1))})
			}
			continue
		}
		var n int
		var err error
		switch r := f.row.(type) {
		case nil:
			var changed bool
			changed, err = tx.MarkInvoiceDeleted(ctx, t.id, f.version)
			if changed {
				n = 1
			}
		case store.Customer:
			n, err = tx.UpsertCustomers(ctx, []store.Customer{r})
		case store.Invoice:
			n, err = tx.UpsertInvoices(ctx, []store.Invoice{r})
		case store.Charge:
			n, err = tx.UpsertCharges(ctx, []store.Charge{r})
		case store.Refund:
			n, err = tx.UpsertRefunds(ctx, []store.Refund{r})
		}
		if err != nil {
			return err
		}
		b.finishTarget(t, nil, "re-fetched from Stripe: "+t.refetch)
		if n > 0 {
			b.changes = append(b.changes, store.Change{Table: t.table, ID: t.id, Livemode: t.livemode})
		}
	}
	return nil
}
