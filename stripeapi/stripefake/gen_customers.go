package stripefake

import (
	"fmt"
	"strings"
)

// genCustomer is a customer under construction: invoices still change its
// sequence and delinquency, so it is encoded at the end.
type genCustomer struct {
	m           overlay
	id          string
	created     int64
	name, email any // string or nil
	currency    int // index into currencies
	prefix      string
	seq         int // invoices numbered so far
	delinquent  bool
}

func (g *gen) genCustomers(n int) {
	// Every hostile string lands on some customer when there are enough.
	hostile := map[int]string{}
	for j, i := range g.r.Perm(n)[:min(n, len(hostileTexts))] {
		hostile[i] = hostileTexts[j]
	}
	prefixes := map[string]bool{}
	for i, ts := range g.times(n) {
		c := &genCustomer{m: overlay{}, id: g.newID("cus_", 14), created: ts, currency: g.currency()}
		switch h, ok := hostile[i]; {
		case ok:
			c.name = h
		case g.chance(3):
			c.name = nil // Stripe customers need no name
		case g.chance(4):
			c.name = hostileTexts[g.r.IntN(len(hostileTexts))]
		default:
			c.name = plainNames[g.r.IntN(len(plainNames))]
		}
		c.email = g.email(i)
		for c.prefix == "" || prefixes[c.prefix] {
			c.prefix = strings.ToUpper(randID(g.r, 8))
		}
		prefixes[c.prefix] = true

		m := c.m
		m["id"], m["created"] = c.id, ts
		m["name"], m["email"] = c.name, c.email
		m["currency"] = currencies[c.currency].code
		m["invoice_prefix"] = c.prefix
		m["description"] = nil
		if g.chance(15) {
			m["description"] = g.text("Customer since the spring promotion")
		}
		if g.chance(30) {
			m["phone"] = fmt.Sprintf("+1 555 %04d", g.r.IntN(10000))
		}
		if g.chance(5) {
			m["balance"] = -g.amount(c.currency, false) // credit on account
		}
		if g.chance(10) {
			m["preferred_locales"] = []any{[]any{"fr-FR", "de", "ja", "ar"}[g.r.IntN(4)]}
		}
		if g.chance(20) {
			m["metadata"] = jmap{"crm_id": fmt.Sprintf("crm-%06d", g.r.IntN(1_000_000))}
		}
		g.customers = append(g.customers, c)
	}
}

func (g *gen) email(i int) any {
	switch n := g.r.IntN(100); {
	case n < 2:
		return nil
	case n < 10:
		return fmt.Sprintf("jenny.rosen+billing%d@example.com", i)
	case n < 15:
		return fmt.Sprintf("Finance.Team%d@Example.CO.UK", i)
	default:
		return fmt.Sprintf("customer%d@example.com", i)
	}
}

// text returns plain, or one time in four a hostile string, for free-text
// fields such as descriptions.
func (g *gen) text(plain string) string {
	if g.chance(25) {
		return hostileTexts[g.r.IntN(len(hostileTexts))]
	}
	return plain
}
