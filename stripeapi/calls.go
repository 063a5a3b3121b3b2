package stripeapi

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/stripe/stripe-go/v76"
)

// read runs one logical call through stripe-go: it counts the call, puts the
// call's bookkeeping into the context stripe-go sends with, and maps the
// error. The zero result on failure keeps callers from using stripe-go's
// empty placeholder object.
func read[T any](ctx context.Context, c *Client, params *stripe.Params, fn func() (*T, error)) (*T, error) {
	ctx, st := c.begin(ctx)
	params.Context = ctx
	v, err := fn()
	if err != nil {
		return nil, st.fail(err)
	}
	return v, nil
}

// write is read for a call that changes something: it refuses to run
// without an idempotency key, so a retried form post or a crashed handler
// can never create a second refund or invoice.
func write[T any](ctx context.Context, c *Client, idempotencyKey string, params *stripe.Params, fn func() (*T, error)) (*T, error) {
	if err := checkIdempotencyKey(idempotencyKey); err != nil {
		return nil, err
	}
	params.SetIdempotencyKey(idempotencyKey)
	return read(ctx, c, params, fn)
}

func checkIdempotencyKey(key string) error {
	key = strings.TrimSpace(key)
	switch {
	case key == "":
		return ErrIdempotencyKeyRequired
	case len(key) > 255:
		return errors.New("stripeapi: an idempotency key is at most 255 characters")
	}
	return nil
}

// checkID refuses an empty id before it becomes a request to the list path
// (GET /v1/customers/ lists customers instead of failing).
func checkID(kind, id string) error {
	if strings.TrimSpace(id) == "" {
		return fmt.Errorf("stripeapi: empty %s id", kind)
	}
	return nil
}
