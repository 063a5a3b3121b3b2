package apply

import (
	"time"

	"paydesk/store"
)

// Feed carries events from the webhook intake to the workers of the same
// process as soon as they are stored, so a worker applies them from memory
// instead of reading each back from the queue (where the event's object
// must be cut out of its stored JSON again). It is only a shortcut: every
// event it carries is in the queue too, and one that does not fit, or
// whose process dies, is claimed from there like any other.
type Feed struct {
	ch chan store.Event
}

// NewFeed makes a feed that holds up to size events.
func NewFeed(size int) *Feed {
	return &Feed{ch: make(chan store.Event, size)}
}

// Offer hands events to the workers without waiting (store.IntakeOptions
// Handoff). Those that do not fit are left to the queue.
func (f *Feed) Offer(events []store.Event) {
	for _, e := range events {
		select {
		case f.ch <- e:
		default:
			return
		}
	}
}

// gather appends to batch what the feed holds, up to max events. If that
// leaves batch short, it waits up to linger for more: a worker applying
// more events per transaction does less work for each.
func (f *Feed) gather(batch []store.Event, max int, linger time.Duration) []store.Event {
	if f == nil {
		return batch
	}
	for len(batch) < max {
		select {
		case e := <-f.ch:
			batch = append(batch, e)
			continue
		default:
		}
		break
	}
	if len(batch) == 0 || len(batch) >= max {
		return batch
	}
	timer := time.NewTimer(linger)
	defer timer.Stop()
	for len(batch) < max {
		select {
		case e := <-f.ch:
			batch = append(batch, e)
		case <-timer.C:
			return batch
		}
	}
	return batch
}

// events is the channel a waiting worker listens on; nil (never ready)
// without a feed.
func (f *Feed) events() <-chan store.Event {
	if f == nil {
		return nil
	}
	return f.ch
}
