package stripeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
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
// webhook body. Raw is a copy of raw and Object a part of that copy: the
// event does not share raw.
//
// It reads the body once, checking as it goes that all of it is JSON in
// valid UTF-8 (PostgreSQL stores nothing else) and taking the few fields
// the intake needs; data.object is skipped over, not decoded. A webhook
// receiver does this for every delivery, and decoding with encoding/json
// (which reads its input once to check it and again to decode, and then
// once more for the object's id and type) took five times as long: 23 µs
// against 4.5 for a 1.8 KB event (BenchmarkEventFromJSON).
func EventFromJSON(raw json.RawMessage) (Event, error) {
	ev := Event{Raw: copyRaw(raw)}
	var kind string
	d := jsontext.NewDecoder(bytes.NewBuffer(ev.Raw), jsontext.AllowDuplicateNames(true))
	err := readMembers(d, func(name []byte) error {
		switch string(name) {
		case "id":
			return readString(d, &ev.ID)
		case "object":
			return readString(d, &kind)
		case "type":
			return readString(d, &ev.Type)
		case "api_version":
			return readString(d, &ev.APIVersion)
		case "created":
			return readInt(d, &ev.Created)
		case "livemode":
			return readBool(d, &ev.Livemode)
		case "data":
			// A repeated name replaces what came before, object and all.
			ev.Object, ev.ObjectID, ev.ObjectType = nil, "", ""
			return readMembers(d, func(name []byte) error {
				if string(name) != "object" {
					return d.SkipValue()
				}
				return readEventObject(d, &ev)
			})
		}
		return d.SkipValue()
	})
	if err == nil {
		if _, end := d.ReadToken(); end != io.EOF {
			err = errors.New("data after the event")
		}
	}
	if err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	if ev.ID == "" || (kind != "" && kind != "event") {
		return Event{}, fmt.Errorf("decode event: not an event (id %q, object %q)", ev.ID, kind)
	}
	return ev, nil
}

// readEventObject reads data.object: Object is its span of Raw, ObjectID
// and ObjectType its id and object fields.
func readEventObject(d *jsontext.Decoder, ev *Event) error {
	ev.ObjectID, ev.ObjectType = "", ""
	if d.PeekKind() != '{' {
		v, err := d.ReadValue()
		if err != nil {
			return err
		}
		end := int(d.InputOffset())
		ev.Object = ev.Raw[end-len(v) : end : end]
		return nil
	}
	start := int(d.InputOffset())
	if err := readMembers(d, func(name []byte) error {
		switch string(name) {
		case "id":
			return readString(d, &ev.ObjectID)
		case "object":
			return readString(d, &ev.ObjectType)
		}
		return d.SkipValue()
	}); err != nil {
		return err
	}
	// start is where the value began after what precedes it (the colon,
	// maybe spaces); the object is what follows.
	end := int(d.InputOffset())
	start += bytes.IndexByte(ev.Raw[start:end], '{')
	ev.Object = ev.Raw[start:end:end]
	return nil
}

// readMembers reads an object, calling member with each name (unquoted)
// while the decoder stands at its value, which member must read. A null
// reads as an empty object.
func readMembers(d *jsontext.Decoder, member func(name []byte) error) error {
	switch d.PeekKind() {
	case 'n':
		_, err := d.ReadToken()
		return err
	case '{':
	default:
		v, err := d.ReadValue()
		if err != nil {
			return err
		}
		return fmt.Errorf("want an object, got %.20s", v)
	}
	if _, err := d.ReadToken(); err != nil {
		return err
	}
	var unquoted []byte
	for d.PeekKind() != '}' {
		quoted, err := d.ReadValue()
		if err != nil {
			return err
		}
		name := quoted[1 : len(quoted)-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			if unquoted, err = jsontext.AppendUnquote(unquoted[:0], quoted); err != nil {
				return err
			}
			name = unquoted
		}
		if err := member(name); err != nil {
			return err
		}
	}
	_, err := d.ReadToken()
	return err
}

// readString reads a string into s; a null leaves s as it is.
func readString(d *jsontext.Decoder, s *string) error {
	t, err := d.ReadToken()
	switch {
	case err != nil:
		return err
	case t.Kind() == '"':
		*s = t.String()
	case t.Kind() != 'n':
		return fmt.Errorf("want a string, got %s", t.Kind())
	}
	return nil
}

// readInt reads an integer into n; a null leaves n as it is.
func readInt(d *jsontext.Decoder, n *int64) error {
	t, err := d.ReadToken()
	switch {
	case err != nil:
		return err
	case t.Kind() == '0':
		// A number token's String is its text: only an integer in range
		// parses, as encoding/json would have it.
		v, err := strconv.ParseInt(t.String(), 10, 64)
		if err != nil {
			return fmt.Errorf("want an integer: %w", err)
		}
		*n = v
	case t.Kind() != 'n':
		return fmt.Errorf("want an integer, got %s", t.Kind())
	}
	return nil
}

// readBool reads a boolean into b; a null leaves b as it is.
func readBool(d *jsontext.Decoder, b *bool) error {
	t, err := d.ReadToken()
	switch {
	case err != nil:
		return err
	case t.Kind() == 't' || t.Kind() == 'f':
		*b = t.Bool()
	case t.Kind() != 'n':
		return fmt.Errorf("want true or false, got %s", t.Kind())
	}
	return nil
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
