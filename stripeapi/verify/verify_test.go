package verify_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/stripeapi/stripefake"
	"paydesk/stripeapi/verify"
)

var small = stripefake.Dataset{Customers: 120, Invoices: 300, LongInvoices: 6, Charges: 500, Refunds: 60, Seed: 21}

func run(t *testing.T, e *env, o verify.Options) *verify.Report {
	t.Helper()
	r, err := verify.Run(ctx, e.st, e.api, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// lines renders drifts as "type id field mirror stripe", sorted.
func lines(r *verify.Report) []string {
	var out []string
	for _, d := range r.Drifts {
		out = append(out, strings.Join([]string{d.Type, d.ID, d.Field, d.Mirror, d.Stripe}, " "))
	}
	slices.Sort(out)
	return out
}

func typeReport(t *testing.T, r *verify.Report, typ string) verify.TypeReport {
	t.Helper()
	for _, tr := range r.Types {
		if tr.Type == typ {
			return tr
		}
	}
	t.Fatalf("no %s in the report", typ)
	return verify.TypeReport{}
}

func TestCleanMirrorHasNoDrift(t *testing.T) {
	e := newEnv(t, small)
	counts := e.data.Counts()
	r := run(t, e, verify.Options{All: true})
	if len(r.Drifts) != 0 {
		t.Fatalf("drifts on a clean mirror: %v", lines(r))
	}
	for _, typ := range []string{"customers", "invoices", "charges", "refunds"} {
		tr := typeReport(t, r, typ)
		want := int64(counts[typ])
		if tr.Mirror != want || tr.Stripe != want || tr.Compared != int(want) || tr.Drifted != 0 {
			t.Errorf("%s: %+v, want %d on both sides, all compared", typ, tr, want)
		}
	}
	if r.Mode != "all" || r.Requests == 0 {
		t.Errorf("mode %q, %d requests", r.Mode, r.Requests)
	}

	s := run(t, e, verify.Options{Sample: 7})
	if len(s.Drifts) != 0 {
		t.Fatalf("drifts in a sample of a clean mirror: %v", lines(s))
	}
	for _, tr := range s.Types {
		if tr.Compared != 7 || tr.Stripe != -1 || tr.Mirror != int64(counts[tr.Type]) {
			t.Errorf("sample %s: %+v, want 7 compared, Stripe not counted", tr.Type, tr)
		}
	}
}

func TestFindsAndFixesPlantedDrift(t *testing.T) {
	e := newEnv(t, small)

	// A charge whose refund the mirror got wrong.
	charge := e.id(`SELECT id FROM charges WHERE status = 'succeeded' ORDER BY id LIMIT 1`)
	var refunded int64
	if err := e.st.DB().GetContext(ctx, &refunded, `SELECT amount_refunded FROM charges WHERE id = $1`, charge); err != nil {
		t.Fatal(err)
	}
	e.exec(`UPDATE charges SET amount_refunded = amount_refunded + 100 WHERE id = $1`, charge)
	// An invoice the mirror lost.
	lost := e.id(`SELECT id FROM invoices ORDER BY id LIMIT 1`)
	e.exec(`DELETE FROM invoices WHERE id = $1`, lost)
	// An invoice whose status is stale.
	stale := e.id(`SELECT id FROM invoices WHERE status = 'paid' AND id <> $1 ORDER BY id LIMIT 1`, lost)
	e.exec(`UPDATE invoices SET status = 'open' WHERE id = $1`, stale)
	// An invoice missing one of its lines.
	short := e.id(`SELECT invoice FROM invoice_lines WHERE invoice NOT IN ($1, $2) AND amount <> 0
	               GROUP BY invoice HAVING count(*) > 1 ORDER BY invoice LIMIT 1`, lost, stale)
	var line struct {
		ID     string `db:"id"`
		Amount int64  `db:"amount"`
	}
	if err := e.st.DB().GetContext(ctx, &line, `SELECT id, amount FROM invoice_lines WHERE invoice = $1 AND amount <> 0 ORDER BY position DESC LIMIT 1`, short); err != nil {
		t.Fatal(err)
	}
	var before struct {
		N   int64 `db:"n"`
		Sum int64 `db:"sum"`
	}
	if err := e.st.DB().GetContext(ctx, &before, `SELECT count(*) AS n, sum(amount)::bigint AS sum FROM invoice_lines WHERE invoice = $1`, short); err != nil {
		t.Fatal(err)
	}
	e.exec(`DELETE FROM invoice_lines WHERE invoice = $1 AND id = $2`, short, line.ID)
	// A customer Stripe never had.
	ghost := store.Customer{ID: "cus_ghost0000000001", Email: ptr("ghost@example.com"), Created: time.Now().Add(-time.Hour),
		Data: json.RawMessage(`{"id":"cus_ghost0000000001","object":"customer"}`), Version: time.Now().Add(-time.Hour).Unix()}
	if _, err := e.st.UpsertCustomers(ctx, []store.Customer{ghost}); err != nil {
		t.Fatal(err)
	}

	want := []string{
		fmt.Sprintf("charges %s amount_refunded %d %d", charge, refunded+100, refunded),
		"customers cus_ghost0000000001 exists present absent",
		fmt.Sprintf("invoices %s exists absent present", lost),
		fmt.Sprintf("invoices %s status \"open\" \"paid\"", stale),
		fmt.Sprintf("invoices %s lines %d %d", short, before.N-1, before.N),
		fmt.Sprintf("invoices %s lines_sum %d %d", short, before.Sum-line.Amount, before.Sum),
	}
	slices.Sort(want)

	r := run(t, e, verify.Options{All: true})
	if got := lines(r); !slices.Equal(got, want) {
		t.Fatalf("drifts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r.Unfixed() != len(want) {
		t.Errorf("unfixed = %d without --fix", r.Unfixed())
	}
	counts := e.data.Counts()
	if tr := typeReport(t, r, "customers"); tr.Mirror != int64(counts["customers"])+1 || tr.OnlyMirror != 1 || tr.Drifted != 1 {
		t.Errorf("customers: %+v", tr)
	}
	if tr := typeReport(t, r, "invoices"); tr.Mirror != int64(counts["invoices"])-1 || tr.OnlyStripe != 1 || tr.Drifted != 3 {
		t.Errorf("invoices: %+v", tr)
	}

	// The same drift, sampled: a sample as large as the mirror sees all
	// but the lost invoice, which the mirror cannot pick.
	s := run(t, e, verify.Options{Sample: 10000})
	var sampled []string
	for _, w := range want {
		if !strings.Contains(w, lost) {
			sampled = append(sampled, w)
		}
	}
	if got := lines(s); !slices.Equal(got, sampled) {
		t.Fatalf("sampled drifts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(sampled, "\n"))
	}

	f := run(t, e, verify.Options{All: true, Fix: true})
	if got := lines(f); !slices.Equal(got, want) {
		t.Fatalf("drifts found by --fix:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, d := range f.Drifts {
		if !d.Fixed || d.Note != "" {
			t.Errorf("not fixed: %+v", d)
		}
	}
	fixed := 0
	for _, tr := range f.Types {
		fixed += tr.Fixed
	}
	if fixed != 5 || f.Unfixed() != 0 {
		t.Errorf("%d objects fixed, %d drifts unfixed; want 5 and 0", fixed, f.Unfixed())
	}

	// The mirror equals the fake again, and the ghost is kept as deleted.
	again := run(t, e, verify.Options{All: true})
	if len(again.Drifts) != 0 {
		t.Fatalf("drifts after --fix: %v", lines(again))
	}
	var g struct {
		Deleted bool    `db:"deleted"`
		Email   *string `db:"email"`
	}
	if err := e.st.DB().GetContext(ctx, &g, `SELECT deleted, email FROM customers WHERE id = $1`, ghost.ID); err != nil {
		t.Fatal(err)
	}
	if !g.Deleted || g.Email == nil || *g.Email != "ghost@example.com" {
		t.Errorf("ghost customer = %+v, want deleted with its last profile", g)
	}
	var n int
	if err := e.st.DB().GetContext(ctx, &n, `SELECT count(*) FROM invoice_lines WHERE invoice = $1`, short); err != nil || int64(n) != before.N {
		t.Errorf("invoice %s has %d lines after the fix (%v), want %d", short, n, err, before.N)
	}
}

// An invoice Stripe has no more (a deleted draft) is marked deleted; a
// charge it does not have is reported and kept.
func TestObjectsStripeDoesNotHave(t *testing.T) {
	e := newEnv(t, stripefake.Dataset{Customers: 10, Invoices: 10, Charges: 20, Seed: 22})
	ghost := store.Charge{ID: "ch_ghost0000000001", Amount: 1200, Currency: "usd", Status: "succeeded", Paid: true,
		Created: time.Now().Add(-time.Hour), Data: json.RawMessage(`{"id":"ch_ghost0000000001","object":"charge"}`), Version: 1}
	if _, err := e.st.UpsertCharges(ctx, []store.Charge{ghost}); err != nil {
		t.Fatal(err)
	}
	draft := store.Invoice{ID: "in_ghost0000000001", Status: ptr("draft"), Currency: "usd", Created: time.Now().Add(-time.Hour),
		Data: json.RawMessage(`{"id":"in_ghost0000000001","object":"invoice"}`), Version: 1}
	if _, err := e.st.UpsertInvoices(ctx, []store.Invoice{draft}); err != nil {
		t.Fatal(err)
	}
	r := run(t, e, verify.Options{Types: []string{"invoices", "charges"}, Sample: 100, Fix: true})
	want := []string{"charges ch_ghost0000000001 exists present absent", "invoices in_ghost0000000001 exists present absent"}
	if got := lines(r); !slices.Equal(got, want) {
		t.Fatalf("drifts: %v, want %v", got, want)
	}
	for _, d := range r.Drifts {
		switch d.Type {
		case "charges":
			if d.Fixed || !strings.Contains(d.Note, "cannot be deleted") {
				t.Errorf("drift %+v, want unfixed with a note", d)
			}
		case "invoices":
			if !d.Fixed {
				t.Errorf("drift %+v, want fixed", d)
			}
		}
	}
	if r.Unfixed() != 1 || len(r.Types) != 2 {
		t.Errorf("unfixed %d, types %+v", r.Unfixed(), r.Types)
	}
	var n int
	if err := e.st.DB().GetContext(ctx, &n, `SELECT count(*) FROM charges WHERE id = $1`, ghost.ID); err != nil || n != 1 {
		t.Errorf("the ghost charge was removed (%d rows, %v)", n, err)
	}
	var deleted bool
	if err := e.st.DB().GetContext(ctx, &deleted, `SELECT deleted FROM invoices WHERE id = $1`, draft.ID); err != nil || !deleted {
		t.Errorf("the ghost invoice is not marked deleted (%v)", err)
	}
	// Deleted, it is no drift any more; the charge still is.
	if got := lines(run(t, e, verify.Options{Types: []string{"invoices", "charges"}, All: true})); !slices.Equal(got, want[:1]) {
		t.Errorf("drifts after the fix: %v, want %v", got, want[:1])
	}
}

func TestChangedWhileVerifyingIsUnsettled(t *testing.T) {
	e := newEnv(t, stripefake.Dataset{Customers: 10, Charges: 20, Seed: 23})
	// A state stored after Stripe answered (as a webhook would) is newer
	// than what verify read: not drift.
	charge := e.id(`SELECT id FROM charges ORDER BY id LIMIT 1`)
	e.exec(`UPDATE charges SET amount_refunded = amount_refunded + 1, version = $2 WHERE id = $1`, charge, time.Now().Add(time.Hour).Unix())
	r := run(t, e, verify.Options{All: true, Types: []string{"charges"}, Fix: true})
	if len(r.Drifts) != 0 {
		t.Fatalf("drifts: %v", lines(r))
	}
	if tr := typeReport(t, r, "charges"); tr.Unsettled != 1 || tr.Fixed != 0 {
		t.Errorf("charges: %+v, want 1 unsettled, nothing fixed", tr)
	}
}

func ptr[T any](v T) *T { return &v }
