package backfill

import (
	"context"
	"fmt"
	"time"

	"paydesk/store"
	"paydesk/stripeapi"
)

// CatchUp is what CatchUpEvents did.
type CatchUp struct {
	// Since is the created second listing started from (0: all Stripe
	// keeps, which is 30 days).
	Since int64
	// Listed is how many events Stripe returned, Added how many of them
	// were not stored yet and are now queued for the workers.
	Listed, Added int
	Requests      int64
	Duration      time.Duration
}

// CatchUpEvents lists Stripe's events since the newest one already stored
// and queues those missing, so that an outage longer than Stripe's
// webhook retries (three days) loses nothing, as long as it is shorter
// than the 30 days Stripe keeps events. Events in the newest stored second
// are listed again, since more may have been created in that second; the
// queue ignores those it has.
func CatchUpEvents(ctx context.Context, st *store.Store, api *stripeapi.Client) (CatchUp, error) {
	started := time.Now()
	before := api.Stats()
	newest, err := st.NewestEventCreated(ctx, api.LiveMode())
	if err != nil {
		return CatchUp{}, err
	}
	res := CatchUp{}
	if newest > 0 {
		res.Since = newest
	}
	p := stripeapi.EventListParams{ListParams: stripeapi.ListParams{Limit: pageSize}}
	if newest > 0 {
		p.CreatedGT = newest - 1
	}
	for {
		page, err := api.Events.List(ctx, p)
		if err != nil {
			return res, fmt.Errorf("list events: %w", err)
		}
		batch := make([]store.Event, 0, len(page.Data))
		for _, ev := range page.Data {
			batch = append(batch, queued(ev, store.SourceCatchup))
		}
		added, err := st.EnqueueMissingEvents(ctx, batch)
		if err != nil {
			return res, err
		}
		res.Listed += len(page.Data)
		res.Added += added
		if !page.HasMore || page.LastID == "" {
			break
		}
		p.StartingAfter = page.LastID
	}
	res.Requests = api.Stats().Requests - before.Requests
	res.Duration = time.Since(started)
	return res, nil
}

// queued turns a Stripe event into a queue row.
func queued(ev stripeapi.Event, source string) store.Event {
	e := store.Event{ID: ev.ID, Type: ev.Type, Created: ev.Created, Livemode: ev.Livemode, Data: ev.Raw, Source: source}
	if ev.APIVersion != "" {
		e.APIVersion = &ev.APIVersion
	}
	if ev.ObjectType != "" {
		e.ObjectType = &ev.ObjectType
	}
	if ev.ObjectID != "" {
		e.ObjectID = &ev.ObjectID
	}
	return e
}
