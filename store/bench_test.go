package store_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/store/storetest"
)

// The upsert benchmarks write batches of 100 (a Stripe page) of objects
// shaped like stripe-mock's fixtures (testdata/), half new and half
// updates of rows already stored, and report objects per second.

const batch = 100

func fixture(b *testing.B, name string) []byte {
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// withID swaps the fixture's id for id, keeping the rest byte for byte.
func withID(raw []byte, oldID, id string) json.RawMessage {
	return bytes.Replace(raw, []byte(`"id": "`+oldID+`"`), []byte(`"id": "`+id+`"`), 1)
}

func reportRate(b *testing.B, objects int) {
	b.ReportMetric(float64(objects)/b.Elapsed().Seconds(), "objects/s")
}

func BenchmarkUpsertCharges(b *testing.B) {
	st := storetest.New(b)
	raw := fixture(b, "charge.json")
	now := time.Now()
	rows := make([]store.Charge, batch)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range rows {
			// Every other batch revisits the ids of the one before it.
			id := fmt.Sprintf("ch_%d_%d", i/2, j)
			rows[j] = store.Charge{ID: id, Amount: int64(1000 + j), AmountCaptured: int64(1000 + j), Currency: "usd",
				Status: "succeeded", Paid: true, Captured: true, CardBrand: ptr("visa"), CardLast4: ptr("4242"),
				Created: now, Data: withID(raw, "ch_1", id), Version: int64(i)}
		}
		if _, err := st.UpsertCharges(ctx, rows); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, b.N*batch)
}

func BenchmarkUpsertInvoices(b *testing.B) {
	st := storetest.New(b)
	raw := fixture(b, "invoice.json")
	now := time.Now()
	rows := make([]store.Invoice, batch)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range rows {
			id := fmt.Sprintf("in_%d_%d", i/2, j)
			inv := store.Invoice{ID: id, Customer: ptr("cus_1"), Status: ptr("paid"), Currency: "usd", Total: 5000,
				Created: now, Data: withID(raw, "in_1", id), Version: int64(i)}
			for k := range 5 {
				inv.Lines = append(inv.Lines, store.InvoiceLine{Invoice: id, ID: fmt.Sprintf("il_%s_%d", id, k), Position: k,
					Amount: 1000, Currency: "usd", Data: json.RawMessage(`{"object":"line_item","amount":1000}`)})
			}
			inv.LinesTotalCount = 5
			rows[j] = inv
		}
		if _, err := st.UpsertInvoices(ctx, rows); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, b.N*batch)
}

func BenchmarkUpsertCustomers(b *testing.B) {
	st := storetest.New(b)
	raw := fixture(b, "customer.json")
	now := time.Now()
	rows := make([]store.Customer, batch)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range rows {
			id := fmt.Sprintf("cus_%d_%d", i/2, j)
			rows[j] = store.Customer{ID: id, Email: ptr(id + "@example.com"), Name: ptr("Zoë " + id), Created: now,
				Data: withID(raw, "cus_1", id), Version: int64(i)}
		}
		if _, err := st.UpsertCustomers(ctx, rows); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, b.N*batch)
}
