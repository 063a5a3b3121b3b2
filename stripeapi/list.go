package stripeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/form"
)

// maxLimit is the largest page Stripe serves.
const maxLimit = 100

// ListParams selects one page of a Stripe list, newest first.
type ListParams struct {
	// Limit is the page size, 1..100; 0 means 100.
	Limit int64
	// StartingAfter is the id of the last object of the previous page.
	StartingAfter string
	// CreatedGTE and CreatedLT bound the created time in Unix seconds
	// (0 = unbounded), so a backfill can split history into windows.
	CreatedGTE int64
	CreatedLT  int64
}

// Page is one page of a list.
type Page[T any] struct {
	Data []T
	// HasMore says another page follows; ask for it with StartingAfter:
	// LastID.
	HasMore bool
	// LastID is the id of the last object of Data, "" when Data is empty.
	LastID string
}

// rawList is a Stripe list with its items left as raw JSON, so rows keep
// each object exactly as sent.
type rawList struct {
	stripe.APIResource
	HasMore bool              `json:"has_more"`
	Data    []json.RawMessage `json:"data"`
}

// values encodes p as Stripe's query parameters.
func (p ListParams) values() (*form.Values, error) {
	limit := p.Limit
	if limit == 0 {
		limit = maxLimit
	}
	// Checked here because Stripe's answer to a bad limit is not worth a
	// round trip (and stripe-mock accepts any).
	if limit < 1 || limit > maxLimit {
		return nil, fmt.Errorf("stripeapi: list limit %d is outside 1..%d", p.Limit, maxLimit)
	}
	q := &form.Values{}
	q.Add("limit", strconv.FormatInt(limit, 10))
	if p.StartingAfter != "" {
		q.Add("starting_after", p.StartingAfter)
	}
	if p.CreatedGTE != 0 {
		q.Add("created[gte]", strconv.FormatInt(p.CreatedGTE, 10))
	}
	if p.CreatedLT != 0 {
		q.Add("created[lt]", strconv.FormatInt(p.CreatedLT, 10))
	}
	return q, nil
}

// listPage fetches one page of path as one logical call and turns each
// item into a T with parse, which gets the item's index in the page and the
// version of the read.
//
// The version is the Unix second, floored, at which the request was sent,
// on the local clock. A fetched object reflects every change Stripe made
// before the request began, so it contains any event created in an earlier
// second and may safely replace a state stored from such an event. An event
// created in that same second may or may not be contained: that tie is not
// decided here but later, by fetching the object again.
func listPage[T any](ctx context.Context, c *Client, path string, q *form.Values, parse func(raw json.RawMessage, index int, version int64) (T, error)) (Page[T], error) {
	ctx, st := c.begin(ctx)
	var list rawList
	if err := c.backend.CallRaw(http.MethodGet, path, c.key, q, &stripe.Params{Context: ctx}, &list); err != nil {
		return Page[T]{}, st.fail(err)
	}
	version := st.version()
	page := Page[T]{Data: make([]T, 0, len(list.Data)), HasMore: list.HasMore}
	for i, raw := range list.Data {
		item, err := parse(raw, i, version)
		if err != nil {
			return Page[T]{}, fmt.Errorf("stripeapi: %s item %d: %w", path, i, err)
		}
		page.Data = append(page.Data, item)
	}
	if n := len(list.Data); n > 0 {
		id, err := objectID(list.Data[n-1])
		if err != nil {
			return Page[T]{}, fmt.Errorf("stripeapi: %s item %d: %w", path, n-1, err)
		}
		page.LastID = id
	}
	return page, nil
}

// objectID reads the id of a raw object.
func objectID(raw json.RawMessage) (string, error) {
	var head struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return "", err
	}
	return head.ID, nil
}
