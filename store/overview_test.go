package store_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/store/storetest"
)

// overviewCharge is a charge created at created.
func overviewCharge(id string, amount int64, currency, status string, created time.Time) store.Charge {
	data, _ := json.Marshal(map[string]any{"id": id, "object": "charge"})
	return store.Charge{ID: id, Amount: amount, Currency: currency, Status: status, Created: created, Data: data, Version: 1}
}

func overviewRefund(id string, amount int64, currency, status string, created time.Time) store.Refund {
	data, _ := json.Marshal(map[string]any{"id": id, "object": "refund"})
	return store.Refund{ID: id, Amount: amount, Currency: currency, Status: ptr(status), Created: created, Data: data, Version: 1}
}

func overviewInvoice(id string, remaining int64, currency, status string, due *time.Time, created time.Time) store.Invoice {
	data, _ := json.Marshal(map[string]any{"id": id, "object": "invoice"})
	return store.Invoice{ID: id, AmountRemaining: remaining, Total: remaining, Currency: currency, Status: ptr(status),
		DueDate: due, Created: created, Number: ptr("N-" + id), CustomerName: ptr("Zoë"), Data: data, Version: 1}
}

// days are the midnights of n days from first in loc, plus the one after.
func days(first time.Time, n int) []time.Time {
	out := make([]time.Time, n+1)
	for i := range out {
		out[i] = time.Date(first.Year(), first.Month(), first.Day()+i, 0, 0, 0, 0, first.Location())
	}
	return out
}

func TestSummary(t *testing.T) {
	st := storetest.New(t)
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	// Three days, 1–3 March 2025 in Tokyo (UTC+9).
	period := days(time.Date(2025, 3, 1, 0, 0, 0, 0, tokyo), 3)
	at := func(day, hour, min int) time.Time { return time.Date(2025, 3, day, hour, min, 0, 0, tokyo) }
	big := int64(1) << 40 // well above 2^31
	if _, err := st.UpsertCharges(ctx, []store.Charge{
		overviewCharge("ch_first", 1000, "usd", "succeeded", at(1, 0, 0)), // the first instant counts
		overviewCharge("ch_before", 7777, "usd", "succeeded", at(1, 0, 0).Add(-time.Second)),
		overviewCharge("ch_big1", big, "usd", "succeeded", at(2, 12, 0)),
		overviewCharge("ch_big2", big+1, "usd", "succeeded", at(2, 13, 0)),
		overviewCharge("ch_last", 250, "usd", "succeeded", at(3, 23, 30)), // 23:30 local on the last day counts
		overviewCharge("ch_after", 999, "usd", "succeeded", at(4, 0, 30)), // 00:30 the next day does not
		overviewCharge("ch_failed1", 5000, "usd", "failed", at(2, 1, 0)),
		overviewCharge("ch_failed2", 5000, "usd", "failed", at(3, 1, 0)),
		overviewCharge("ch_pending", 3000, "usd", "pending", at(2, 1, 0)),
		overviewCharge("ch_jpy", 1235, "jpy", "succeeded", at(1, 9, 0)),
		overviewCharge("ch_bhd", 1234, "bhd", "succeeded", at(3, 9, 0)),
		overviewCharge("ch_bhd2", 1, "bhd", "succeeded", at(3, 10, 0)),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpsertRefunds(ctx, []store.Refund{
		overviewRefund("re_1", 300, "usd", "succeeded", at(2, 2, 0)),
		overviewRefund("re_failed", 400, "usd", "failed", at(2, 2, 0)),
		overviewRefund("re_pending", 400, "usd", "pending", at(2, 2, 0)),
		overviewRefund("re_after", 50, "usd", "succeeded", at(4, 0, 0)),
		overviewRefund("re_bhd", 2000, "bhd", "succeeded", at(3, 23, 59)),
	}); err != nil {
		t.Fatal(err)
	}
	now := at(10, 12, 0)
	past, future := now.Add(-48*time.Hour), now.Add(48*time.Hour)
	if _, err := st.UpsertInvoices(ctx, []store.Invoice{
		overviewInvoice("in_open_due", 10000, "usd", "open", &past, at(1, 1, 0).AddDate(-1, 0, 0)), // long before the period: "now" counts
		overviewInvoice("in_open", 2500, "usd", "open", &future, at(2, 1, 0)),
		overviewInvoice("in_open_nodue", 100, "usd", "open", nil, at(2, 1, 0)),
		overviewInvoice("in_paid", 9999, "usd", "paid", &past, at(2, 1, 0)),
		overviewInvoice("in_draft", 9999, "usd", "draft", &past, at(2, 1, 0)),
		overviewInvoice("in_eur", 500, "eur", "open", &past, at(2, 1, 0)),
	}); err != nil {
		t.Fatal(err)
	}

	sum, err := st.Summary(ctx, period, now)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, c := range sum.Currencies {
		order = append(order, c.Currency)
	}
	// By gross volume, largest first; bhd and jpy both have 1235 minor
	// units, so their codes decide; eur has only an open invoice.
	if want := []string{"usd", "bhd", "jpy", "eur"}; !slices.Equal(order, want) {
		t.Errorf("currencies %v, want %v", order, want)
	}
	usd, _ := sum.Currency("usd")
	wantGross := 1000 + big + big + 1 + 250
	if usd.Gross != wantGross || usd.Payments != 4 || usd.FailedPayments != 2 {
		t.Errorf("usd gross %d payments %d failed %d, want %d 4 2", usd.Gross, usd.Payments, usd.FailedPayments, wantGross)
	}
	if usd.Refunds != 300 || usd.Net != wantGross-300 {
		t.Errorf("usd refunds %d net %d", usd.Refunds, usd.Net)
	}
	if usd.OpenInvoices != 12600 || usd.OpenInvoiceCount != 3 || usd.PastDue != 10000 || usd.PastDueCount != 1 {
		t.Errorf("usd open %d (%d) past due %d (%d), want 12600 (3) 10000 (1)", usd.OpenInvoices, usd.OpenInvoiceCount, usd.PastDue, usd.PastDueCount)
	}
	if want := []int64{1000, 2*big + 1, 250}; !slices.Equal(usd.Daily, want) {
		t.Errorf("usd daily %v, want %v", usd.Daily, want)
	}
	jpy, _ := sum.Currency("jpy")
	if jpy.Gross != 1235 || jpy.Payments != 1 || !slices.Equal(jpy.Daily, []int64{1235, 0, 0}) {
		t.Errorf("jpy %+v", jpy)
	}
	bhd, _ := sum.Currency("bhd")
	if bhd.Gross != 1235 || bhd.Refunds != 2000 || bhd.Net != -765 || !slices.Equal(bhd.Daily, []int64{0, 0, 1235}) {
		t.Errorf("bhd %+v", bhd)
	}
	eur, _ := sum.Currency("eur")
	if eur.Gross != 0 || eur.OpenInvoices != 500 || eur.PastDue != 500 || len(eur.Daily) != 3 {
		t.Errorf("eur %+v", eur)
	}

	if _, err := st.Summary(ctx, period[:1], now); err == nil {
		t.Error("a single boundary accepted")
	}
}

func TestRecentActivity(t *testing.T) {
	st := storetest.New(t)
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var charges []store.Charge
	for i := range 20 {
		charges = append(charges, overviewCharge("ch_"+string(rune('a'+i)), int64(100+i), "usd", "succeeded", base.Add(time.Duration(i)*time.Minute)))
	}
	if _, err := st.UpsertCharges(ctx, charges); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpsertRefunds(ctx, []store.Refund{overviewRefund("re_new", 50, "usd", "succeeded", base.Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpsertInvoices(ctx, []store.Invoice{
		overviewInvoice("in_new", 700, "eur", "open", nil, base.Add(30*time.Second+19*time.Minute)),
	}); err != nil {
		t.Fatal(err)
	}
	got, err := st.RecentActivity(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range got {
		ids = append(ids, a.Kind+":"+a.ID)
	}
	want := []string{"refund:re_new", "invoice:in_new", "charge:ch_t", "charge:ch_s", "charge:ch_r"}
	if !slices.Equal(ids, want) {
		t.Fatalf("activity %v, want %v", ids, want)
	}
	if got[1].Label != "N-in_new · Zoë" || got[1].Amount != 700 || got[1].Currency != "eur" || got[1].Status != "open" {
		t.Errorf("invoice activity %+v", got[1])
	}
}
