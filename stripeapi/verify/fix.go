package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"paydesk/store"
	"paydesk/stripeapi"
)

// fix re-fetches every drifted object, stores it with the upserts the
// backfill uses (a re-fetched object is the newest state, at the version
// of the second its request was sent, so only a state stored later wins
// over it), and then compares the mirror with what Stripe gave.
func (c *checker) fix(ctx context.Context) error {
	for _, typ := range c.o.Types {
		var ids []string
		for _, k := range c.order {
			if k.typ == typ {
				ids = append(ids, k.id)
			}
		}
		if len(ids) == 0 {
			continue
		}
		got, err := c.fetchAll(ctx, typ, ids)
		if err != nil {
			return err
		}
		notes := make([]string, len(ids))
		for i, id := range ids {
			action, err := c.store(ctx, typ, id, got[i])
			if err != nil {
				return err
			}
			if action == "" {
				notes[i] = "not on Stripe, where " + typ + " cannot be deleted: left in the mirror for a person to look at"
				c.o.Log.Warn("verify: cannot fix", "type", typ, "id", id, "reason", "not on Stripe")
				continue
			}
			c.o.Log.Info("verify: fixed", "type", typ, "id", id, "action", action)
		}
		// Check again what was fixed.
		mirror, err := c.mirrorSnapshots(ctx, typ, ids)
		if err != nil {
			return err
		}
		c.mu.Lock()
		for i, id := range ids {
			note := notes[i]
			if note == "" {
				note = stillDiffers(mirror, id, got[i].snap)
			}
			t := c.targets[key{typ, id}]
			for _, d := range t.drifts {
				c.report.Drifts[d].Fixed = note == ""
				c.report.Drifts[d].Note = note
			}
			if note == "" {
				c.byType[typ].Fixed++
			}
		}
		c.mu.Unlock()
	}
	return nil
}

// store writes what fetch returned and announces the change to open pages.
// It returns what it did, or "" when there was nothing it may do: a charge
// or refund that Stripe does not have.
func (c *checker) store(ctx context.Context, typ, id string, f fetched) (string, error) {
	action := "re-fetched and stored"
	row := f.row
	if row == nil {
		switch typ {
		case "customers":
			// Stripe answers 404 for a customer it never had (a deleted
			// one still reads as a stub): mark it deleted as the webhook
			// worker does for customer.deleted, keeping its last profile.
			stub, _ := json.Marshal(map[string]any{"id": id, "object": "customer", "deleted": true})
			r, err := stripeapi.CustomerRecord(stub, c.livemode, f.version)
			if err != nil {
				return "", err
			}
			row, action = r, "marked deleted (Stripe has no such customer)"
		case "invoices":
			action = "marked deleted (Stripe has no such invoice)"
		default:
			return "", nil
		}
	}
	err := c.st.InTx(ctx, func(tx *store.Store) error {
		var n int
		var err error
		switch r := row.(type) {
		case nil:
			var changed bool
			if changed, err = tx.MarkInvoiceDeleted(ctx, id, f.version); changed {
				n = 1
			}
		case store.Customer:
			n, err = tx.UpsertCustomers(ctx, []store.Customer{r})
		case store.Invoice:
			// The stored lines may have drifted while the invoice row kept
			// the hash of the lines it was stored with.
			if err = tx.ForgetLinesHash(ctx, id); err == nil {
				n, err = tx.UpsertInvoices(ctx, []store.Invoice{r})
			}
		case store.Charge:
			n, err = tx.UpsertCharges(ctx, []store.Charge{r})
		case store.Refund:
			n, err = tx.UpsertRefunds(ctx, []store.Refund{r})
		}
		if err != nil || n == 0 {
			return err
		}
		return tx.Notify(ctx, []store.Change{{Table: typ, ID: id, Livemode: c.livemode}})
	})
	if err != nil {
		return "", fmt.Errorf("verify: fix %s %s: %w", typ, id, err)
	}
	return action, nil
}

// stillDiffers compares the mirror's state of id, read after the fix, with
// Stripe's state want (nil: Stripe has none) and says what still differs,
// or "" when they agree.
func stillDiffers(mirror map[string]snapshot, id string, want *snapshot) string {
	m, stored := mirror[id]
	switch {
	case want == nil && (!stored || m.deleted):
		return ""
	case want == nil:
		return "still in the mirror though Stripe has no such object"
	case !stored:
		return "still missing from the mirror"
	}
	diffs := compare(m, *want)
	if len(diffs) == 0 {
		return ""
	}
	if m.deleted && !want.deleted {
		return "the mirror keeps a deleted object deleted, but Stripe has it: look at it by hand"
	}
	parts := make([]string, len(diffs))
	for i, d := range diffs {
		parts[i] = fmt.Sprintf("%s %s (Stripe %s)", d.field, d.mirror, d.stripe)
	}
	return "still differs after re-fetching (a newer state was stored meanwhile?): " + strings.Join(parts, ", ")
}
