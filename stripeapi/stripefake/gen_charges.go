package stripefake

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
)

// genCharge is a charge under construction: refunds still add to its
// amount_refunded, so it is encoded at the end.
type genCharge struct {
	m          overlay
	id         string
	created    int64
	currency   int
	amount     int64
	refunded   int64
	refundable bool // succeeded and captured
}

func (g *gen) charge(ts int64, giant bool) {
	c, ts := g.customerAt(ts)
	ch := &genCharge{m: overlay{}, id: g.newID("ch_", 24), created: ts}
	ch.currency = g.currency()
	if c != nil && g.chance(70) {
		ch.currency = c.currency
	}
	if giant {
		ch.currency = currencyIndex("krw") // zero-decimal: huge numbers are plausible
	}
	ch.amount = g.amount(ch.currency, g.r.IntN(200) == 0)
	if giant {
		ch.amount = maxSafePlusOne
	}
	m := ch.m
	m["id"], m["created"], m["amount"] = ch.id, ts, ch.amount
	m["currency"] = currencies[ch.currency].code
	m["customer"] = nil
	bd := sub(m, "billing_details")
	bd["name"], bd["email"] = nil, nil
	if c != nil {
		m["customer"] = c.id
		bd["name"], bd["email"] = c.name, c.email
	}
	m["refunds"] = nil // 2023-10-16 lists no longer embed refunds
	m["payment_method"] = "pm_" + randID(g.r, 24)
	m["receipt_url"] = "https://pay.stripe.com/receipts/payment/" + randID(g.r, 60)
	m["description"] = nil
	if g.chance(10) {
		m["description"] = g.text("Order payment")
	}
	g.card(m, ch.amount)

	m["failure_code"], m["failure_message"] = nil, nil
	m["paid"], m["captured"], m["amount_captured"] = false, false, int64(0)
	m["balance_transaction"], m["receipt_number"], m["disputed"] = nil, nil, false
	switch n := g.r.IntN(100); {
	case n < 12:
		f := failures[g.r.IntN(len(failures))]
		m["status"], m["failure_code"], m["failure_message"] = "failed", f.code, f.message
	case n < 18:
		m["status"] = "pending"
	default:
		m["status"], m["paid"] = "succeeded", true
		m["balance_transaction"] = "txn_" + randID(g.r, 24)
		if g.chance(97) { // the rest are authorized but not yet captured
			m["captured"], m["amount_captured"] = true, ch.amount
			ch.refundable = true
		}
		if g.chance(30) {
			m["receipt_number"] = fmt.Sprintf("%04d-%04d", g.r.IntN(10000), g.r.IntN(10000))
		}
		m["disputed"] = g.chance(2)
	}
	if g.chance(30) && c != nil {
		m["receipt_email"] = c.email
	}
	g.charges = append(g.charges, ch)
}

func (g *gen) card(m overlay, amount int64) {
	card := sub(sub(m, "payment_method_details"), "card")
	brand := cardBrands[g.r.IntN(len(cardBrands))]
	card["brand"], card["network"] = brand, brand
	card["last4"] = fmt.Sprintf("%04d", g.r.IntN(10000))
	card["exp_month"], card["exp_year"] = 1+g.r.IntN(12), 2024+g.r.IntN(8)
	card["fingerprint"] = randID(g.r, 16)
	card["country"] = []string{"US", "US", "GB", "FR", "DE", "JP", "KR", "BH"}[g.r.IntN(8)]
	card["funding"] = []string{"credit", "credit", "debit", "prepaid"}[g.r.IntN(4)]
	sub(card, "overcapture")["maximum_amount_capturable"] = amount
}

// refunds makes up to n refunds of captured charges, each created no earlier
// than its charge and never taking a charge past its amount.
func (g *gen) refunds(n int) []overlay {
	var pool []*genCharge
	for _, c := range g.charges {
		if c.refundable {
			pool = append(pool, c)
		}
	}
	slices.SortStableFunc(pool, func(a, b *genCharge) int { return cmp.Compare(a.created, b.created) })
	var out []overlay
	for _, ts := range g.times(n) {
		c, ts := g.refundable(pool, ts)
		if c == nil {
			break // every charge is fully refunded (or there are none)
		}
		out = append(out, g.refund(c, ts))
	}
	return out
}

// refundable picks a charge made by ts with something left to refund; if
// none is found quickly it takes any such charge and refunds it at its own
// created second.
func (g *gen) refundable(pool []*genCharge, ts int64) (*genCharge, int64) {
	i := sort.Search(len(pool), func(i int) bool { return pool[i].created > ts })
	for try := 0; try < 20 && i > 0; try++ {
		if c := pool[g.r.IntN(i)]; c.refunded < c.amount {
			return c, ts
		}
	}
	start := g.r.IntN(max(len(pool), 1))
	for j := range pool {
		if c := pool[(start+j)%len(pool)]; c.refunded < c.amount {
			return c, max(ts, c.created)
		}
	}
	return nil, 0
}

func (g *gen) refund(c *genCharge, ts int64) overlay {
	left := c.amount - c.refunded
	amount := left
	if !g.chance(45) { // partial
		unit := currencies[c.currency].unit
		amount = (1 + g.r.Int64N(left/unit)) * unit
	}
	c.refunded += amount
	m := overlay{}
	m["id"], m["created"], m["charge"] = g.newID("re_", 24), ts, c.id
	m["amount"], m["currency"] = amount, currencies[c.currency].code
	m["status"], m["balance_transaction"] = "succeeded", "txn_"+randID(g.r, 24)
	if g.chance(5) {
		m["status"], m["balance_transaction"] = "pending", nil
	}
	m["reason"] = refundReasons[g.r.IntN(len(refundReasons))]
	return m
}
