package stripefake

import (
	"net/url"
	"testing"
	"time"
)

// BenchmarkListPage measures serving one 100-invoice page from the middle of
// the list over HTTP, embedded lines included.
func BenchmarkListPage(b *testing.B) {
	s := NewServer(shared, Options{})
	defer s.Close()
	c := newClient(b, s)
	cursor := headOf(b, shared.Invoices()[len(shared.Invoices())/2]).ID
	q := url.Values{"limit": {"100"}, "starting_after": {cursor}}
	for b.Loop() {
		c.list("/v1/invoices", q)
	}
}

// BenchmarkGenerate measures Generate for the sync test's account size.
func BenchmarkGenerate(b *testing.B) {
	d := Dataset{
		Customers: 5000, Invoices: 20000, Charges: 40000, Refunds: 4000, LongInvoices: 200,
		Start: time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for b.Loop() {
		Generate(tmpl, d)
	}
}
