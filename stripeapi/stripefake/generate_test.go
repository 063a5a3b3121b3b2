package stripefake

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFetchTemplates(t *testing.T) {
	for name, raw := range map[string]json.RawMessage{
		"customer": tmpl.Customer, "invoice": tmpl.Invoice, "line_item": tmpl.InvoiceLine,
		"charge": tmpl.Charge, "refund": tmpl.Refund,
	} {
		if got := decode(t, raw)["object"]; got != name {
			t.Errorf("%s template: object = %v", name, got)
		}
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	d := sharedSet
	d.Customers, d.Invoices, d.Charges, d.Refunds = 50, 100, 200, 40
	a, b := Generate(tmpl, d), Generate(tmpl, d)
	for _, f := range []func(*Data) []json.RawMessage{(*Data).Customers, (*Data).Invoices, (*Data).Charges, (*Data).Refunds} {
		x, y := f(a), f(b)
		if len(x) == 0 || len(x) != len(y) {
			t.Fatalf("lengths %d and %d", len(x), len(y))
		}
		for i := range x {
			if !bytes.Equal(x[i], y[i]) {
				t.Fatalf("object %d differs between runs with one seed", i)
			}
		}
	}
	d.Seed++
	if bytes.Equal(Generate(tmpl, d).Customers()[0], a.Customers()[0]) {
		t.Error("another seed gave the same first customer")
	}
}

func TestGenerateCounts(t *testing.T) {
	c := shared.Counts()
	want := map[string]int{"customers": 300, "invoices": 1200, "charges": 2500, "refunds": 400}
	for k, n := range want {
		if c[k] != n {
			t.Errorf("%s: %d, want %d", k, c[k], n)
		}
	}
	lines := 0
	for _, raw := range shared.Invoices() {
		lines += len(decode(t, raw)["lines"].(map[string]any)["data"].([]any))
	}
	if c["invoice_lines"] != lines || lines < 1200+25*25 {
		t.Errorf("invoice_lines = %d, counted %d", c["invoice_lines"], lines)
	}
}

// Generated objects must stay valid Stripe shapes: exactly the template's
// fields, at the top level and in the nested objects the generator sets.
func TestGeneratedKeepTemplateKeys(t *testing.T) {
	keys := func(m map[string]any) []string {
		var k []string
		for key := range m {
			k = append(k, key)
		}
		slices.Sort(k)
		return k
	}
	check := func(name string, tmplRaw json.RawMessage, objs []json.RawMessage, nested ...string) {
		tm := decode(t, tmplRaw)
		for _, raw := range objs {
			m := decode(t, raw)
			if !slices.Equal(keys(m), keys(tm)) {
				t.Fatalf("%s keys %v, template %v", name, keys(m), keys(tm))
			}
			for _, path := range nested {
				a, b := dig(m, path), dig(tm, path)
				if !slices.Equal(keys(a), keys(b)) {
					t.Fatalf("%s.%s keys %v, template %v", name, path, keys(a), keys(b))
				}
			}
		}
	}
	check("customer", tmpl.Customer, shared.Customers(), "invoice_settings")
	check("invoice", tmpl.Invoice, shared.Invoices(), "lines", "status_transitions")
	check("charge", tmpl.Charge, shared.Charges(), "payment_method_details.card", "billing_details")
	check("refund", tmpl.Refund, shared.Refunds())
	var lines []json.RawMessage
	for _, raw := range shared.Invoices()[:50] {
		for _, l := range decode(t, raw)["lines"].(map[string]any)["data"].([]any) {
			b, _ := json.Marshal(l)
			lines = append(lines, b)
		}
	}
	check("line", tmpl.InvoiceLine, lines, "price", "period")
}

func dig(m map[string]any, path string) map[string]any {
	for _, k := range strings.Split(path, ".") {
		m, _ = m[k].(map[string]any)
	}
	return m
}

func TestGeneratedCreatedInRangeWithBursts(t *testing.T) {
	lo, hi := sharedSet.Start.Unix(), sharedSet.End.Unix()
	for name, objs := range map[string][]json.RawMessage{
		"customers": shared.Customers(), "invoices": shared.Invoices(),
		"charges": shared.Charges(), "refunds": shared.Refunds(),
	} {
		perSecond := map[int64]int{}
		for _, h := range heads(t, objs) {
			if h.Created < lo || h.Created > hi {
				t.Fatalf("%s %s created %d outside [%d, %d]", name, h.ID, h.Created, lo, hi)
			}
			perSecond[h.Created]++
		}
		shared := 0
		for _, n := range perSecond {
			if n > 1 {
				shared += n
			}
		}
		if shared < len(objs)/2 {
			t.Errorf("%s: only %d of %d objects share a created second", name, shared, len(objs))
		}
	}
}

func TestGeneratedIDs(t *testing.T) {
	seen := map[string]bool{}
	for prefix, objs := range map[string][]json.RawMessage{
		"cus_": shared.Customers(), "in_": shared.Invoices(), "ch_": shared.Charges(), "re_": shared.Refunds(),
	} {
		for _, h := range heads(t, objs) {
			if !strings.HasPrefix(h.ID, prefix) || seen[h.ID] {
				t.Fatalf("bad or repeated id %q", h.ID)
			}
			seen[h.ID] = true
		}
	}
	if id := headOf(t, shared.Customers()[0]).ID; len(id) != len("cus_")+14 {
		t.Errorf("customer id %q: want cus_ and 14 characters", id)
	}
}

func TestGeneratedEdgeCases(t *testing.T) {
	var all bytes.Buffer
	for _, raw := range shared.Customers() {
		// Decode so escapes such as \u003c and \u202e count as what they are.
		m := decode(t, raw)
		all.WriteString(strings.Join([]string{str(m["name"]), str(m["email"]), str(m["description"])}, "\n"))
	}
	text := all.String()
	for _, want := range []string{"<script>alert(1)</script>", "<b>x</b>", "\u202E", "🎉", "李", "محمد", "é", "@example.com"} {
		if !strings.Contains(text, want) {
			t.Errorf("no customer text contains %q", want)
		}
	}
	currencies := map[any]bool{}
	for _, raw := range shared.Charges() {
		currencies[decode(t, raw)["currency"]] = true
	}
	for _, c := range []string{"usd", "eur", "gbp", "jpy", "krw", "bhd"} {
		if !currencies[c] {
			t.Errorf("no charge in %s", c)
		}
	}
}

func TestGeneratedInvoicesAddUp(t *testing.T) {
	customers := map[string]map[string]any{}
	for _, raw := range shared.Customers() {
		m := decode(t, raw)
		customers[m["id"].(string)] = m
	}
	statuses := map[string]int{}
	for _, raw := range shared.Invoices() {
		m := decode(t, raw)
		id := m["id"].(string)
		status := m["status"].(string)
		statuses[status]++
		lines := m["lines"].(map[string]any)
		if lines["has_more"] != false || lines["url"] != "/v1/invoices/"+id+"/lines" {
			t.Fatalf("%s: truth lines has_more=%v url=%v", id, lines["has_more"], lines["url"])
		}
		var sum int64
		for _, l := range lines["data"].([]any) {
			lm := l.(map[string]any)
			if lm["invoice"] != id || lm["currency"] != m["currency"] {
				t.Fatalf("%s: line %v belongs to %v in %v", id, lm["id"], lm["invoice"], lm["currency"])
			}
			amount := num(t, lm["amount"])
			if amount != num(t, lm["quantity"])*num(t, lm["price"].(map[string]any)["unit_amount"]) {
				t.Fatalf("%s: line amount is not quantity * unit_amount", id)
			}
			sum += amount
		}
		for _, k := range []string{"subtotal", "total", "amount_due"} {
			if num(t, m[k]) != sum {
				t.Fatalf("%s: %s = %v, lines sum to %d", id, k, m[k], sum)
			}
		}
		paid, remaining := num(t, m["amount_paid"]), num(t, m["amount_remaining"])
		if paid+remaining != sum || (status == "paid") != (paid == sum) && sum > 0 || status != "paid" && paid != 0 {
			t.Fatalf("%s %s: paid %d remaining %d of %d", id, status, paid, remaining, sum)
		}
		if (m["collection_method"] == "send_invoice") != (m["due_date"] != nil) {
			t.Fatalf("%s: collection_method %v with due_date %v", id, m["collection_method"], m["due_date"])
		}
		c := customers[m["customer"].(string)]
		if c == nil || m["customer_email"] != c["email"] || m["customer_name"] != c["name"] {
			t.Fatalf("%s: customer %v not an existing customer or details not copied", id, m["customer"])
		}
		if status == "draft" && m["number"] != nil ||
			status != "draft" && !strings.HasPrefix(str(m["number"]), c["invoice_prefix"].(string)+"-") {
			t.Fatalf("%s %s: number %v", id, status, m["number"])
		}
	}
	for _, s := range invoiceStatuses {
		if statuses[s] == 0 {
			t.Errorf("no %s invoice", s)
		}
	}
}

func TestGeneratedRefundsAddUp(t *testing.T) {
	charges := map[string]map[string]any{}
	for _, raw := range shared.Charges() {
		m := decode(t, raw)
		charges[m["id"].(string)] = m
		if m["refunds"] != nil {
			t.Fatalf("charge %v embeds refunds", m["id"])
		}
		if m["status"] == "failed" && (m["failure_code"] == nil || m["failure_message"] == nil || m["paid"] != false) {
			t.Fatalf("failed charge %v without failure details", m["id"])
		}
	}
	sums := map[string]int64{}
	for _, raw := range shared.Refunds() {
		r := decode(t, raw)
		c := charges[str(r["charge"])]
		if c == nil || c["status"] != "succeeded" || c["currency"] != r["currency"] {
			t.Fatalf("refund %v of %v: no such succeeded charge in that currency", r["id"], r["charge"])
		}
		if num(t, r["created"]) < num(t, c["created"]) {
			t.Fatalf("refund %v predates its charge", r["id"])
		}
		sums[c["id"].(string)] += num(t, r["amount"])
	}
	full := 0
	for id, c := range charges {
		amount, refunded := num(t, c["amount"]), num(t, c["amount_refunded"])
		if refunded != sums[id] || refunded > amount || c["refunded"] != (refunded == amount && amount > 0) {
			t.Fatalf("charge %s: amount %d, amount_refunded %d, refunds sum %d, refunded %v",
				id, amount, refunded, sums[id], c["refunded"])
		}
		if c["refunded"] == true {
			full++
		}
	}
	if full == 0 {
		t.Error("no fully refunded charge")
	}
}

// Amounts beyond 2^31, and one beyond 2^53, must come through exactly.
func TestGeneratedBigAmounts(t *testing.T) {
	var big, exact int
	for _, objs := range [][]json.RawMessage{shared.Charges(), shared.Invoices()} {
		for _, raw := range objs {
			m := decode(t, raw)
			a := m["amount"]
			if a == nil {
				a = m["total"]
			}
			n := num(t, a)
			if n > math.MaxInt32 {
				big++
			}
			if n >= maxSafePlusOne {
				exact++
			}
		}
	}
	if big < 2 || exact < 2 {
		t.Errorf("%d amounts above 2^31 and %d at 2^53+1 or more; want some of each (a charge and an invoice)", big, exact)
	}
	verbatim := false
	for _, raw := range shared.Charges() {
		verbatim = verbatim || bytes.Contains(raw, []byte(`"amount":9007199254740993,`))
	}
	if !verbatim {
		t.Error("2^53+1 does not appear verbatim in a charge")
	}
}

// TestGenerateLarge builds the sync test's account and reports how long it
// takes; tests never assert on wall-clock time.
func TestGenerateLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large dataset")
	}
	start := time.Now()
	d := Generate(tmpl, Dataset{
		Customers: 5000, Invoices: 20000, Charges: 40000, Refunds: 4000, LongInvoices: 200,
		Start: time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		Seed: 7,
	})
	t.Logf("Generate 5k customers / 20k invoices / 40k charges / 4k refunds: %v, counts %v",
		time.Since(start).Round(time.Millisecond), d.Counts())
	if c := d.Counts(); c["charges"] != 40000 || c["refunds"] != 4000 {
		t.Errorf("counts %v", c)
	}
}
