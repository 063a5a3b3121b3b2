package backfill

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"paydesk/store"
	"paydesk/stripeapi"
)

// ListOptions tune List.
type ListOptions struct {
	// Objects to list; nil means all.
	Objects []string
	// Until bounds the listing to objects created before it; zero means
	// the second after List starts.
	Until time.Time
	// Workers is how many windows are read at once (default 4).
	Workers int
	// Log receives notes on splitting and vanished cursors.
	Log *slog.Logger
}

// List pages every object of the selected types created before o.Until,
// with the same windows, parallel workers and rate limit as Run, and hands
// each page to visit instead of storing it: rows is a []store.Customer,
// []store.Invoice (with every line fetched), []store.Charge or
// []store.Refund, parsed as Run would store them. Nothing is written and
// no sync lock is taken. visit is called from several goroutines at once;
// an error from it stops the listing and is returned. When a cursor
// vanishes mid-listing (its object was deleted), the window is read again
// from its start, so visit may see an object twice.
func List(ctx context.Context, api *stripeapi.Client, o ListOptions,
	visit func(ctx context.Context, object string, rows any) error) error {
	objects := o.Objects
	if objects == nil {
		objects = slices.Clone(Objects)
	}
	until := o.Until.Unix()
	if o.Until.IsZero() {
		until = time.Now().Unix() + 1
	}
	opts := Options{Objects: objects, Workers: o.Workers, Log: o.Log, Progress: &Progress{}}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	var (
		mu       sync.Mutex
		visitErr error
	)
	e := &engine{api: api, o: opts, visit: func(ctx context.Context, object string, rows any) error {
		err := visit(ctx, object, rows)
		if err != nil {
			mu.Lock()
			if visitErr == nil {
				visitErr = err
			}
			mu.Unlock()
		}
		return err
	}}
	windows := make([]store.SyncWindow, 0, len(objects))
	for _, name := range objects {
		if !slices.Contains(Objects, name) {
			return errors.New("backfill: unknown object type " + name)
		}
		windows = append(windows, store.SyncWindow{Object: name, Hi: until})
	}
	err := e.work(ctx, windows)
	mu.Lock()
	defer mu.Unlock()
	if visitErr != nil && ctx.Err() == nil {
		return visitErr
	}
	return err
}
