package stripeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/event"
)

// Events is the /v1/events endpoint: Stripe keeps 30 days of events, which
// lets paydesk catch up on webhooks it missed.
type Events struct {
	c   *Client
	api event.Client
}

// Event is a Stripe event with its object left raw, so the worker applies
// exactly what Stripe sent.
type Event struct {
	ID   string
	Type string
	// APIVersion is the version the object was rendered at, "" when Stripe
	// sends null.
	APIVersion string
	Created    int64
	Livemode   bool
	// ObjectID is data.object.id.
	ObjectID string
	// ObjectType is data.object.object ("customer", "invoice", ...).
	ObjectType string
	// Raw is the whole event.
	Raw json.RawMessage
	// Object is data.object.
	Object json.RawMessage
}

// EventListParams selects a page of events.
type EventListParams struct {
	ListParams
	// CreatedGT keeps events created after this Unix second (0 = any).
	CreatedGT int64
	// Types keeps only these event types; Stripe accepts up to 20.
	Types []string
}

// EventFromJSON parses an event as Stripe sends it, from the API or a
// webhook body. Raw and Object are copies: the event does not share raw.
func EventFromJSON(raw json.RawMessage) (Event, error) {
	var e struct {
		eventEnvelope
		Data struct {
			Object json.RawMessage `json:"object"` // Unmarshal copies it
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	var head objectHeadFields
	if len(e.Data.Object) > 0 && e.Data.Object[0] == '{' {
		if err := json.Unmarshal(e.Data.Object, &head); err != nil {
			return Event{}, fmt.Errorf("decode event %s: %w", e.ID, err)
		}
	}
	ev, err := e.event(raw, head)
	ev.Object = e.Data.Object
	return ev, err
}

// eventEnvelope is an event's own fields.
type eventEnvelope struct {
	ID         string  `json:"id"`
	Object     string  `json:"object"`
	Type       string  `json:"type"`
	APIVersion *string `json:"api_version"`
	Created    int64   `json:"created"`
	Livemode   bool    `json:"livemode"`
}

// objectHeadFields are the id and type of an event's object.
type objectHeadFields struct {
	ID     string `json:"id"`
	Object string `json:"object"`
}

func (e eventEnvelope) event(raw json.RawMessage, head objectHeadFields) (Event, error) {
	if e.ID == "" || (e.Object != "" && e.Object != "event") {
		return Event{}, fmt.Errorf("decode event: not an event (id %q, object %q)", e.ID, e.Object)
	}
	ev := Event{ID: e.ID, Type: e.Type, Created: e.Created, Livemode: e.Livemode, Raw: copyRaw(raw),
		ObjectID: head.ID, ObjectType: head.Object}
	if e.APIVersion != nil {
		ev.APIVersion = *e.APIVersion
	}
	return ev, nil
}

// Get fetches one event. stripe-go decodes it too, but the Event is built
// from the response body, so data.object is kept exactly as sent.
func (r *Events) Get(ctx context.Context, id string) (Event, error) {
	if err := checkID("event", id); err != nil {
		return Event{}, err
	}
	params := &stripe.EventParams{}
	typed, err := read(ctx, r.c, &params.Params, func() (*stripe.Event, error) { return r.api.Get(id, params) })
	if err != nil {
		return Event{}, err
	}
	ev, err := EventFromJSON(typed.LastResponse.RawJSON)
	if err != nil {
		return Event{}, fmt.Errorf("stripeapi: %w", err)
	}
	return ev, nil
}

// List fetches one page of events, newest first.
func (r *Events) List(ctx context.Context, p EventListParams) (Page[Event], error) {
	q, err := p.values()
	if err != nil {
		return Page[Event]{}, err
	}
	if p.CreatedGT != 0 {
		q.Add("created[gt]", strconv.FormatInt(p.CreatedGT, 10))
	}
	for i, t := range p.Types {
		q.Add(fmt.Sprintf("types[%d]", i), t)
	}
	return listPage(ctx, r.c, "/v1/events", q, func(raw json.RawMessage, _ int, _ int64) (Event, error) {
		return EventFromJSON(raw)
	})
}
