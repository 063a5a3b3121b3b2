package stripeapi

import (
	"os"
	"testing"
)

// BenchmarkRecords decodes the store's fixtures as the event worker does
// for each event it applies.
func BenchmarkRecords(b *testing.B) {
	read := func(name string) []byte {
		raw, err := os.ReadFile("../store/testdata/" + name)
		if err != nil {
			b.Fatal(err)
		}
		return raw
	}
	customer, invoice, charge := read("customer.json"), read("invoice.json"), read("charge.json")
	b.Run("customer", func(b *testing.B) {
		b.SetBytes(int64(len(customer)))
		for b.Loop() {
			if _, err := CustomerRecord(customer, false, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("invoice", func(b *testing.B) {
		b.SetBytes(int64(len(invoice)))
		for b.Loop() {
			if _, err := InvoiceRecord(invoice, false, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("charge", func(b *testing.B) {
		b.SetBytes(int64(len(charge)))
		for b.Loop() {
			if _, err := ChargeRecord(charge, false, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}
