package backfill_test

import (
	"context"
	"testing"

	"paydesk/store/storetest"
	"paydesk/stripeapi/backfill"
	"paydesk/stripeapi/stripefake"
)

// BenchmarkSync runs a whole sync of the account (5,000 customers,
// 20,000 invoices, 40,000 charges, 4,000 refunds) against the fake API with
// no rate limit, into a fresh database each time, and reports objects
// (and invoice lines) per second. The fake runs in the same process, so the
// figure includes serving the API on the same two cores.
func BenchmarkSync(b *testing.B) {
	data, srv := account(b, full, stripefake.Options{})
	counts := data.Counts()
	objects := counts["customers"] + counts["invoices"] + counts["charges"] + counts["refunds"]
	var requests int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st := storetest.New(b)
		api := client(b, srv.URL, 0)
		b.StartTimer()
		sum, err := backfill.Run(context.Background(), st, api, backfill.Options{Workers: 4})
		if err != nil {
			b.Fatal(err)
		}
		requests += sum.Requests
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(objects*b.N)/secs, "objects/s")
	b.ReportMetric(float64(counts["invoice_lines"]*b.N)/secs, "lines/s")
	b.ReportMetric(float64(requests)/float64(b.N), "requests/sync")
}
