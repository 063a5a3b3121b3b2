package stripefake

import (
	"fmt"
	"strconv"
)

var invoiceStatusWeights = []struct {
	status string
	weight int
}{{"paid", 55}, {"open", 15}, {"draft", 10}, {"void", 10}, {"uncollectible", 10}}

// invoice builds one invoice with its lines. Its totals are the sum of its
// lines; amount_paid and amount_remaining follow from its status.
func (g *gen) invoice(ts int64, long, giant bool) overlay {
	c, ts := g.customerAt(ts)
	m := overlay{}
	id := g.newID("in_", 24)
	cur := g.currency()
	if c != nil {
		cur = c.currency
		m["customer"], m["customer_email"], m["customer_name"] = c.id, c.email, c.name
	} else {
		m["customer"], m["customer_email"], m["customer_name"] = nil, nil, nil
	}
	if giant && currencies[cur].unit != 1 {
		cur = currencyIndex("usd") // 2^53+1 is odd: not a valid bhd amount
	}
	status := g.invoiceStatus()
	m["id"], m["created"], m["status"] = id, ts, status
	m["currency"] = currencies[cur].code

	n := 1 + g.r.IntN(5)
	if long {
		n = 25 + g.r.IntN(16)
	}
	lines := make([]any, n)
	var total int64
	for i := range lines {
		unit := g.amount(cur, g.r.IntN(200) == 0)
		qty := int64(1)
		if g.chance(25) {
			qty = 2 + g.r.Int64N(9)
		}
		if giant && i == 0 {
			unit, qty = maxSafePlusOne, 1
		}
		lines[i] = g.line(id, ts, cur, unit, qty)
		total += unit * qty
	}
	lm := sub(m, "lines")
	lm["data"], lm["has_more"], lm["url"] = lines, false, "/v1/invoices/"+id+"/lines"
	for _, k := range []string{"subtotal", "subtotal_excluding_tax", "total", "total_excluding_tax", "amount_due"} {
		m[k] = total
	}

	m["collection_method"], m["due_date"] = "charge_automatically", nil
	if g.chance(30) {
		m["collection_method"], m["due_date"] = "send_invoice", ts+30*86400
	}
	g.setInvoiceStatus(m, c, status, ts, total)
	if g.chance(10) {
		m["description"] = g.text("Thank you for your business")
	}
	if g.chance(20) {
		m["metadata"] = jmap{"order_id": fmt.Sprintf("ord_%08d", g.r.IntN(100_000_000))}
	}
	m["period_start"], m["period_end"], m["webhooks_delivered_at"] = ts, ts, ts
	return m
}

func (g *gen) invoiceStatus() string {
	n := g.r.IntN(100)
	for _, s := range invoiceStatusWeights {
		if n < s.weight {
			return s.status
		}
		n -= s.weight
	}
	return "paid"
}

// setInvoiceStatus sets what a status implies: drafts have no number and no
// URLs; finalized invoices are numbered from the customer's prefix; only
// paid ones have amount_paid, and amount_remaining = amount_due - amount_paid.
func (g *gen) setInvoiceStatus(m overlay, c *genCustomer, status string, ts, total int64) {
	st := sub(m, "status_transitions")
	st["finalized_at"], st["paid_at"], st["voided_at"], st["marked_uncollectible_at"] = nil, nil, nil, nil
	m["number"], m["hosted_invoice_url"], m["invoice_pdf"], m["effective_at"] = nil, nil, nil, nil
	m["paid"], m["amount_paid"], m["amount_remaining"] = false, int64(0), total
	m["attempted"], m["attempt_count"], m["next_payment_attempt"] = false, 0, nil
	m["auto_advance"] = status == "draft" || status == "open"
	if status == "draft" {
		return
	}
	finalized := ts + 60 + g.r.Int64N(3600)
	st["finalized_at"], m["effective_at"] = finalized, finalized
	if c != nil {
		c.seq++
		m["number"] = fmt.Sprintf("%s-%04d", c.prefix, c.seq)
	}
	url := "https://invoice.stripe.com/i/acct_1FakeAccount/test_" + randID(g.r, 40)
	m["hosted_invoice_url"], m["invoice_pdf"] = url, url+"/pdf"
	later := finalized + 60 + g.r.Int64N(7*86400)
	switch status {
	case "open":
		if m["collection_method"] == "charge_automatically" {
			m["next_payment_attempt"] = later
		}
	case "paid":
		st["paid_at"] = later
		m["paid"], m["amount_paid"], m["amount_remaining"] = true, total, int64(0)
		m["attempted"], m["attempt_count"] = true, 1
		if m["collection_method"] == "send_invoice" && g.chance(10) {
			m["paid_out_of_band"] = true
		}
	case "void":
		st["voided_at"] = later
	case "uncollectible":
		st["marked_uncollectible_at"] = later
		m["attempted"], m["attempt_count"] = true, 4
		if c != nil {
			c.delinquent = true
		}
	}
}

// line builds one invoice line item: amount = unit_amount * quantity.
func (g *gen) line(invoice string, ts int64, cur int, unit, qty int64) overlay {
	l := overlay{}
	code := currencies[cur].code
	l["id"], l["invoice"], l["currency"] = g.newID("il_", 24), invoice, code
	l["amount"], l["amount_excluding_tax"], l["quantity"] = unit*qty, unit*qty, qty
	l["unit_amount_excluding_tax"] = strconv.FormatInt(unit, 10)
	l["invoice_item"] = "ii_" + randID(g.r, 24)
	l["description"] = lineDescriptions[g.r.IntN(len(lineDescriptions))]
	if g.chance(3) {
		l["description"] = hostileTexts[g.r.IntN(len(hostileTexts))]
	}
	p := sub(l, "period")
	p["start"], p["end"] = ts, ts
	price := sub(l, "price")
	price["id"], price["product"] = "price_"+randID(g.r, 24), "prod_"+randID(g.r, 14)
	price["created"], price["currency"] = ts-g.r.Int64N(86400*30), code
	price["unit_amount"], price["unit_amount_decimal"] = unit, strconv.FormatInt(unit, 10)
	return l
}
