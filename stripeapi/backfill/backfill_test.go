package backfill_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"paydesk/store/storetest"
	"paydesk/stripeapi"
	"paydesk/stripeapi/backfill"
	"paydesk/stripeapi/stripefake"
)

// full is the account the issue asks a sync to mirror exactly.
var full = stripefake.Dataset{Customers: 5000, Invoices: 20000, LongInvoices: 600, Charges: 40000, Refunds: 4000, Seed: 1}

func TestSyncMirrorsWholeAccount(t *testing.T) {
	if testing.Short() {
		t.Skip("large account")
	}
	data, srv := account(t, full, stripefake.Options{})
	st := storetest.New(t)
	sum, err := backfill.Run(context.Background(), st, client(t, srv.URL, 0), backfill.Options{Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	assertMirror(t, st, data)
	counts := data.Counts()
	for _, name := range backfill.Objects {
		if sum.Objects[name] != int64(counts[name]) {
			t.Errorf("summary %s = %d, want %d", name, sum.Objects[name], counts[name])
		}
	}
	if sum.Requests != srv.Requests() || sum.Lines != int64(counts["invoice_lines"]) {
		t.Errorf("summary requests %d (server saw %d), lines %d (want %d)", sum.Requests, srv.Requests(), sum.Lines, counts["invoice_lines"])
	}
	t.Logf("synced %v in %s with %d requests", sum.Objects, sum.Duration, sum.Requests)

	// Every long invoice had its lines beyond the first 10 read through the
	// lines list, with limit 100.
	var linesCalls int
	for _, line := range srv.Log() {
		if strings.Contains(line, "/lines") {
			linesCalls++
			if !strings.Contains(line, "limit=100") || !strings.Contains(line, "starting_after=il_") {
				t.Fatalf("lines request %q: want limit=100 and starting_after the 10th line", line)
			}
		}
	}
	if linesCalls < full.LongInvoices {
		t.Errorf("%d lines requests for %d long invoices", linesCalls, full.LongInvoices)
	}

}

func TestSyncResumesWhereItWasKilled(t *testing.T) {
	d := full
	if testing.Short() {
		d = stripefake.Dataset{Customers: 800, Invoices: 2500, LongInvoices: 60, Charges: 4000, Refunds: 500}
	}
	d.Seed = 2
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A whole sync of the full account takes about 1,300 requests: stop
	// this one a third of the way in.
	killAt := int64(450)
	if testing.Short() {
		killAt = 40
	}
	data, srv := account(t, d, stripefake.Options{OnRequest: func(n int64, _ *http.Request) {
		if n == killAt {
			cancel() // the "kill": the run stops mid-flight, pages in flight are lost
		}
	}})
	st := storetest.New(t)
	_, err := backfill.Run(ctx, st, client(t, srv.URL, 0), backfill.Options{Workers: 4})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: err = %v, want canceled", err)
	}
	var stored int64
	if err := st.DB().GetContext(context.Background(), &stored,
		`SELECT (SELECT count(*) FROM customers) + (SELECT count(*) FROM invoices) + (SELECT count(*) FROM charges) + (SELECT count(*) FROM refunds)`); err != nil {
		t.Fatal(err)
	}
	if stored == 0 {
		t.Fatal("the first run stored nothing before it was stopped")
	}

	srv.ResetLog()
	sum, err := backfill.Run(context.Background(), st, client(t, srv.URL, 0), backfill.Options{Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Resumed {
		t.Fatal("second run did not resume the first")
	}
	assertMirror(t, st, data)

	// Nothing stored before the stop is read again: checkpoint and page
	// commit together, so the resumed run reads exactly the rest.
	total := int64(0)
	for _, n := range sum.Objects {
		total += n
	}
	c := data.Counts()
	all := int64(c["customers"] + c["invoices"] + c["charges"] + c["refunds"])
	if total != all-stored {
		t.Fatalf("resumed run read %d objects; %d were stored before the stop, so want %d", total, stored, all-stored)
	}
}

func TestSyncRetriesRateLimits(t *testing.T) {
	d := stripefake.Dataset{Customers: 300, Invoices: 300, LongInvoices: 5, Charges: 600, Refunds: 50, Seed: 3}
	data, srv := account(t, d, stripefake.Options{RateLimit429Every: 7})
	st := storetest.New(t)
	sum, err := backfill.Run(context.Background(), st, client(t, srv.URL, 0), backfill.Options{Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	assertMirror(t, st, data)
	if sum.RateLimited == 0 || sum.Retries < sum.RateLimited {
		t.Fatalf("summary %+v: want the 429s counted and retried", sum)
	}
}

func TestSyncRateLimiterSpacesRequests(t *testing.T) {
	d := stripefake.Dataset{Customers: 1000, Seed: 4}
	_, srv := account(t, d, stripefake.Options{})
	st := storetest.New(t)
	const rps = 5
	start := time.Now()
	sum, err := backfill.Run(context.Background(), st, client(t, srv.URL, rps), backfill.Options{Objects: []string{"customers"}, Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	// A lower bound only: after its burst (rps tokens) the limiter must
	// have spaced the requests out.
	if min := time.Duration(sum.Requests-rps) * time.Second / rps; time.Since(start) < min {
		t.Fatalf("%d requests in %s, faster than %d/s allows", sum.Requests, time.Since(start), rps)
	}
}

func TestSyncSinceAndObjects(t *testing.T) {
	d := stripefake.Dataset{Customers: 400, Invoices: 100, Charges: 400, Refunds: 40, Seed: 5,
		Start: time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	data, srv := account(t, d, stripefake.Options{})
	st := storetest.New(t)
	since := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := backfill.Run(context.Background(), st, client(t, srv.URL, 0),
		backfill.Options{Objects: []string{"customers", "charges"}, Since: since}); err != nil {
		t.Fatal(err)
	}
	var wantCustomers, wantCharges int
	for _, raw := range data.Customers() {
		if created := decode(t, raw)["created"]; str(created) >= "1672531200" {
			wantCustomers++
		}
	}
	for _, raw := range data.Charges() {
		if created := decode(t, raw)["created"]; str(created) >= "1672531200" {
			wantCharges++
		}
	}
	var got struct {
		Customers int `db:"customers"`
		Charges   int `db:"charges"`
		Invoices  int `db:"invoices"`
		Old       int `db:"old"`
	}
	if err := st.DB().GetContext(context.Background(), &got, `SELECT
		(SELECT count(*) FROM customers) AS customers, (SELECT count(*) FROM charges) AS charges,
		(SELECT count(*) FROM invoices) AS invoices,
		(SELECT count(*) FROM charges WHERE created < '2023-01-01') AS old`); err != nil {
		t.Fatal(err)
	}
	if got.Customers != wantCustomers || got.Charges != wantCharges || got.Invoices != 0 || got.Old != 0 {
		t.Fatalf("got %+v, want %d customers and %d charges since 2023 and no invoices", got, wantCustomers, wantCharges)
	}
}

func TestSyncRejectedKey(t *testing.T) {
	_, srv := account(t, stripefake.Dataset{Customers: 10, Seed: 6}, stripefake.Options{})
	api, err := stripeapi.New(stripeapi.Config{SecretKey: "sk_test_wrong_key_123", APIBase: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = backfill.Run(context.Background(), storetest.New(t), api, backfill.Options{})
	var se *stripeapi.Error
	if !errors.As(err, &se) || se.HTTPStatus != 401 {
		t.Fatalf("err = %v, want a 401 *stripeapi.Error", err)
	}
	if strings.Contains(err.Error(), "sk_test_wrong_key_123") {
		t.Fatalf("error shows the key: %v", err)
	}
}

func TestSyncInterruptedRunNeedsSameFlags(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	_, srv := account(t, stripefake.Dataset{Customers: 500, Charges: 500, Seed: 7}, stripefake.Options{OnRequest: func(n int64, _ *http.Request) {
		if n == 3 {
			cancel()
		}
	}})
	st := storetest.New(t)
	if _, err := backfill.Run(ctx, st, client(t, srv.URL, 0), backfill.Options{Workers: 1}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	_, err := backfill.Run(context.Background(), st, client(t, srv.URL, 0), backfill.Options{Objects: []string{"charges"}})
	if err == nil || !strings.Contains(err.Error(), "--restart") {
		t.Fatalf("err = %v, want advice to resume with the same flags or --restart", err)
	}
	sum, err := backfill.Run(context.Background(), st, client(t, srv.URL, 0), backfill.Options{Objects: []string{"charges"}, Restart: true})
	if err != nil || sum.Resumed || sum.Objects["charges"] != 500 {
		t.Fatalf("restart: %+v, %v", sum, err)
	}
}

func TestParseObjects(t *testing.T) {
	got, err := backfill.ParseObjects("refunds, customers,refunds")
	if err != nil || strings.Join(got, ",") != "customers,refunds" {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := backfill.ParseObjects("customers,payouts"); err == nil || !strings.Contains(err.Error(), `"payouts"`) {
		t.Fatalf("err = %v", err)
	}
}
