package apply_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"paydesk/store"
	"paydesk/stripeapi/apply"
	"paydesk/stripeapi/stripefake"
)

const pinned = "2023-10-16"

const hostile = "<script>alert('x')</script> <b>bold</b> 🧾💸 \u202Eevil\u202C שלום"

func firstOf(list []json.RawMessage) json.RawMessage { return list[0] }

func TestCustomerEventsApplyInOrder(t *testing.T) {
	e := newEnv(t, stripefake.Dataset{Customers: 3, Seed: 1})
	cus := firstOf(e.data.Customers())
	v1 := edit(t, cus, func(m map[string]any) { m["name"] = "first" })
	v2 := edit(t, cus, func(m map[string]any) { m["name"] = hostile })
	newer := e.enqueue("customer.updated", v2, 2000, pinned)
	older := e.enqueue("customer.updated", v1, 1000, pinned)
	e.drain()
	var name string
	e.scalar(&name, `SELECT name FROM customers`)
	if name != hostile {
		t.Fatalf("name = %q, want the newer event's %q", name, hostile)
	}
	e.scalar(&name, `SELECT data->>'name' FROM customers`)
	if name != hostile {
		t.Fatalf("stored object name = %q", name)
	}
	if ev := e.event(newer); ev.Status != store.EventApplied || ev.Attempts != 1 {
		t.Fatalf("newer event: %+v", ev)
	}
	// The older event, delivered after the newer one, changes nothing.
	e.enqueue("customer.updated", v1, 1000, pinned)
	e.drain()
	e.scalar(&name, `SELECT name FROM customers`)
	if name != hostile {
		t.Fatalf("an older event overwrote a newer state: %q", name)
	}
	if ev := e.event(older); ev.Status != store.EventApplied || ev.Note == nil {
		t.Fatalf("older event: %+v", ev)
	}
}

// Three updates of one customer in one second, delivered in order and
// shuffled, in one batch and one per batch: the mirror must end at
// Stripe's latest state, which only a re-fetch can tell.
func TestSameSecondUpdatesKeepTheLatest(t *testing.T) {
	for _, order := range [][]int{{0, 1, 2}, {2, 0, 1}, {1, 2, 0}, {2, 1, 0}} {
		for _, oneByOne := range []bool{false, true} {
			t.Run(fmt.Sprint(order, oneByOne), func(t *testing.T) {
				e := newEnv(t, stripefake.Dataset{Customers: 1, Seed: 2})
				cus := firstOf(e.data.Customers())
				versions := make([]json.RawMessage, 3)
				for i := range versions {
					versions[i] = edit(t, cus, func(m map[string]any) { m["email"] = fmt.Sprintf("v%d@example.com", i+1) })
				}
				// Stripe's current state is the last update.
				e.data.Put("customer", versions[2])
				const second = 1_700_000_000
				for _, i := range order {
					e.enqueue("customer.updated", versions[i], second, pinned)
					if oneByOne {
						e.drain()
					}
				}
				e.drain()
				var email string
				e.scalar(&email, `SELECT email FROM customers`)
				if email != "v3@example.com" {
					t.Fatalf("email = %q, want the latest update v3", email)
				}
			})
		}
	}
}

func TestDeletedCustomerStaysDeleted(t *testing.T) {
	e := newEnv(t, stripefake.Dataset{Customers: 1, Seed: 3})
	cus := firstOf(e.data.Customers())
	e.enqueue("customer.created", cus, 1000, pinned)
	e.drain()
	deleted := edit(t, cus, func(m map[string]any) { m["deleted"] = true })
	e.enqueue("customer.deleted", deleted, 3000, pinned)
	e.drain()
	// Late updates: an older one, one in the same second (re-fetched:
	// Stripe says deleted) and, impossible on Stripe but tested anyway, a
	// later one.
	e.data.Put("customer", json.RawMessage(`{"id":`+jsonString(t, cus)+`,"object":"customer","deleted":true}`))
	for _, created := range []int64{2000, 3000, 4000} {
		e.enqueue("customer.updated", edit(t, cus, func(m map[string]any) { m["name"] = "back from the dead" }), created, pinned)
		e.drain()
	}
	var row struct {
		Deleted bool   `db:"deleted"`
		Name    string `db:"name"`
	}
	e.scalar(&row, `SELECT deleted, coalesce(name, '') AS name FROM customers`)
	if !row.Deleted || row.Name == "back from the dead" {
		t.Fatalf("customer = %+v, want deleted", row)
	}
}

func jsonString(t *testing.T, obj json.RawMessage) string {
	var head struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(obj, &head); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(head.ID)
	return string(b)
}

func TestInvoiceWithThirtyLinesAndBigTotals(t *testing.T) {
	e := newEnv(t, stripefake.Dataset{Customers: 2, Invoices: 40, LongInvoices: 40, Seed: 4})
	var inv json.RawMessage
	var lines int
	for _, raw := range e.data.Invoices() {
		var head struct {
			Lines struct {
				Data []json.RawMessage `json:"data"`
			} `json:"lines"`
		}
		json.Unmarshal(raw, &head)
		if len(head.Lines.Data) >= 30 {
			inv, lines = raw, len(head.Lines.Data)
			break
		}
	}
	if inv == nil {
		t.Fatal("no invoice with 30+ lines generated")
	}
	const big = int64(5_000_000_000_00) // far above 2^31
	inv = edit(t, inv, func(m map[string]any) {
		m["total"], m["amount_due"], m["subtotal"] = json.Number(fmt.Sprint(big)), json.Number(fmt.Sprint(big)), json.Number(fmt.Sprint(big))
		m["description"] = hostile
	})
	e.data.Put("invoice", inv)
	// The event carries the first 10 lines, as Stripe's does.
	event := edit(t, inv, func(m map[string]any) {
		l := m["lines"].(map[string]any)
		l["data"] = l["data"].([]any)[:10]
		l["has_more"] = true
	})
	e.enqueue("invoice.finalized", event, 5000, pinned)
	e.drain()
	var got struct {
		Total int64  `db:"total"`
		Lines int    `db:"lines"`
		Count int64  `db:"lines_total_count"`
		Desc  string `db:"description"`
	}
	e.scalar(&got, `SELECT total, lines_total_count, data->>'description' AS description,
		(SELECT count(*) FROM invoice_lines l WHERE l.invoice = i.id) AS lines FROM invoices i`)
	if got.Total != big || got.Lines != lines || got.Count != int64(lines) || got.Desc != hostile {
		t.Fatalf("invoice = %+v, want total %d and %d lines", got, big, lines)
	}
}

func TestChargeRefundEvents(t *testing.T) {
	e := newEnv(t, stripefake.Dataset{Customers: 3, Charges: 20, Refunds: 5, Seed: 5})
	var refund json.RawMessage = firstOf(e.data.Refunds())
	var head struct {
		Charge string `json:"charge"`
		Amount int64  `json:"amount"`
	}
	json.Unmarshal(refund, &head)
	var charge json.RawMessage
	for _, c := range e.data.Charges() {
		if strings.Contains(string(c), `"id":"`+head.Charge+`"`) {
			charge = c
		}
	}
	if charge == nil {
		t.Fatal("refund's charge not found")
	}
	e.enqueue("charge.succeeded", edit(t, charge, func(m map[string]any) { m["amount_refunded"] = json.Number("0"); m["refunded"] = false }), 100, pinned)
	e.enqueue("refund.created", refund, 200, pinned)
	e.enqueue("charge.refunded", charge, 200, pinned)
	e.enqueue("charge.refund.updated", edit(t, refund, func(m map[string]any) { m["status"] = "succeeded" }), 300, pinned)
	e.drain()
	var got struct {
		Refunded int64  `db:"amount_refunded"`
		Status   string `db:"status"`
		Sum      int64  `db:"sum"`
	}
	e.scalar(&got, `SELECT c.amount_refunded, r.status, (SELECT sum(amount) FROM refunds WHERE charge = c.id) AS sum
		FROM charges c JOIN refunds r ON r.charge = c.id WHERE c.id = $1 LIMIT 1`, head.Charge)
	if got.Refunded == 0 || got.Status != "succeeded" || got.Sum != head.Amount {
		t.Fatalf("charge/refund = %+v", got)
	}
}

func TestOtherAPIVersionIsRefetched(t *testing.T) {
	e := newEnv(t, stripefake.Dataset{Customers: 1, Charges: 1, Seed: 6})
	charge := firstOf(e.data.Charges())
	// An old-version body with a field renamed: it must not be parsed.
	old := json.RawMessage(`{"id":` + jsonString(t, charge) + `,"object":"charge","amount":"garbage","source":{}}`)
	id := e.enqueue("charge.updated", old, 100, "2020-08-27")
	e.drain()
	var amount int64
	e.scalar(&amount, `SELECT amount FROM charges`)
	var want struct {
		Amount int64 `json:"amount"`
	}
	json.Unmarshal(charge, &want)
	if amount != want.Amount {
		t.Fatalf("amount = %d, want Stripe's %d", amount, want.Amount)
	}
	if ev := e.event(id); ev.Status != store.EventApplied || ev.Note == nil || !strings.Contains(*ev.Note, "2020-08-27") {
		t.Fatalf("event = %+v", ev)
	}
}

func TestUnknownEventTypeIsIgnored(t *testing.T) {
	e := newEnv(t, stripefake.Dataset{Seed: 7})
	id := e.enqueue("payout.paid", json.RawMessage(`{"id":"po_1","object":"payout","amount":100}`), 100, pinned)
	e.drain()
	if ev := e.event(id); ev.Status != store.EventIgnored || ev.LastError != nil {
		t.Fatalf("event = %+v", ev)
	}
}

func TestFailedRefetchRetriesLater(t *testing.T) {
	e := newEnv(t, stripefake.Dataset{Seed: 8})
	// Stripe does not know this charge, so the re-fetch fails.
	id := e.enqueue("charge.updated", json.RawMessage(`{"id":"ch_missing","object":"charge"}`), 100, "2019-01-01")
	e.drain()
	ev := e.event(id)
	if ev.Status != store.EventFailed || ev.LastError == nil || ev.NextAttemptAt.Before(time.Now()) {
		t.Fatalf("event = %+v", ev)
	}
	if strings.Contains(*ev.LastError, fakeKey) {
		t.Fatalf("error shows the key: %s", *ev.LastError)
	}
	// Not due yet: the worker leaves it alone.
	if n, err := e.w.RunOnce(ctx); n != 0 || err != nil {
		t.Fatalf("ran %d events early (%v)", n, err)
	}
}

func TestChangesAreNotified(t *testing.T) {
	e := newEnv(t, stripefake.Dataset{Customers: 1, Seed: 9})
	l := pq.NewListener(e.url, time.Second, time.Second, nil)
	defer l.Close()
	if err := l.Listen(store.ChangesChannel); err != nil {
		t.Fatal(err)
	}
	cus := firstOf(e.data.Customers())
	e.enqueue("customer.created", cus, 100, pinned)
	e.drain()
	select {
	case n := <-l.Notify:
		var c store.Change
		if err := json.Unmarshal([]byte(n.Extra), &c); err != nil || c.Table != "customers" || !strings.Contains(string(cus), c.ID) {
			t.Fatalf("notification %q (%v)", n.Extra, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
	}
}

// Four workers drain one queue of 2,000 events concurrently: every event
// is applied exactly once.
func TestWorkersShareTheQueue(t *testing.T) {
	e := newEnv(t, stripefake.Dataset{Customers: 200, Seed: 10})
	customers := e.data.Customers()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		cus := customers[r.IntN(len(customers))]
		e.enqueue("customer.updated", edit(t, cus, func(m map[string]any) { m["balance"] = json.Number(fmt.Sprint(i)) }), int64(1000+i), pinned)
	}
	var wg sync.WaitGroup
	for range 4 {
		w := apply.NewWorker(e.st, nil, apply.Options{Batch: 50})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := w.RunOnce(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	var stats struct {
		Applied int `db:"applied"`
		Once    int `db:"once"`
	}
	e.scalar(&stats, `SELECT count(*) FILTER (WHERE status = 'applied') AS applied, count(*) FILTER (WHERE attempts = 1) AS once FROM events`)
	if stats.Applied != 2000 || stats.Once != 2000 {
		t.Fatalf("%+v: want all 2000 applied exactly once", stats)
	}
	// Each customer ends at its newest event.
	var wrong int
	e.scalar(&wrong, `SELECT count(*) FROM customers c WHERE c.version <> (SELECT max(created) FROM events WHERE object_id = c.id)`)
	if wrong != 0 {
		t.Fatalf("%d customers not at their newest event", wrong)
	}
}
