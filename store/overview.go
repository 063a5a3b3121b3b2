package store

import (
	"context"
	"fmt"
)

// Overview counts what the mirror holds and what the event queue has
// still to do.
type Overview struct {
	Customers, Invoices, Charges, Refunds int64
	QueuedEvents, FailedEvents            int64
	// OtherAPIVersionEvents are events rendered at another API version
	// than the pinned one; their objects were re-fetched rather than
	// parsed.
	OtherAPIVersionEvents int64
}

// Overview reads the counts in one statement. The queue counts use the
// queue's partial index and the API-version count its own, so they stay
// cheap however long the event history grows.
func (s *Store) Overview(ctx context.Context) (Overview, error) {
	var o Overview
	err := s.q.QueryRowxContext(ctx, `
SELECT (SELECT count(*) FROM customers WHERE NOT deleted),
       (SELECT count(*) FROM invoices WHERE NOT deleted),
       (SELECT count(*) FROM charges),
       (SELECT count(*) FROM refunds),
       (SELECT count(*) FROM events WHERE status = 'queued'),
       (SELECT count(*) FROM events WHERE status = 'failed'),
       (SELECT count(*) FROM events WHERE api_version <> '2023-10-16')`).Scan(
		&o.Customers, &o.Invoices, &o.Charges, &o.Refunds, &o.QueuedEvents, &o.FailedEvents, &o.OtherAPIVersionEvents)
	if err != nil {
		return o, fmt.Errorf("store: overview: %w", err)
	}
	return o, nil
}
