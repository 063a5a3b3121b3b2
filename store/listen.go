package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lib/pq"
)

// ChangeNotice is one message of a Listener: a change of the mirror, or,
// with Resync set, word that changes may have been missed (the connection
// to PostgreSQL was lost and re-established, or the reader fell behind) and
// whatever shows the mirror should be refreshed in full.
type ChangeNotice struct {
	Change Change
	Resync bool
}

// ListenOptions tunes a Listener. The zero value is fine.
type ListenOptions struct {
	// MinReconnect and MaxReconnect bound the wait between attempts to
	// reconnect after the connection is lost (defaults 100 ms and 10 s).
	MinReconnect, MaxReconnect time.Duration
	// Buffer is how many notices may wait for the reader (default 1024);
	// beyond it they are dropped and a resync is delivered instead.
	Buffer int
	// PingEvery is how often the connection is checked when quiet, so a
	// silently dead connection is noticed (default 30 s).
	PingEvery time.Duration
	// OnError, when set, hears about connection losses and failed
	// reconnection attempts (for logging).
	OnError func(error)
}

// Listener receives the changes announced on ChangesChannel (see Notify)
// on a connection of its own. It reconnects by itself after the
// connection is lost; since notifications sent meanwhile are gone, it then
// delivers a resync notice.
type Listener struct {
	pq      *pq.Listener
	out     chan ChangeNotice
	opts    ListenOptions
	done    chan struct{}
	closing sync.Once
	wg      sync.WaitGroup
}

// Listen connects to the database at url, LISTENs on ChangesChannel and
// returns once it does (or ctx ends). Close it when done.
func Listen(ctx context.Context, url string, opts ListenOptions) (*Listener, error) {
	opts.MinReconnect = cmp.Or(opts.MinReconnect, 100*time.Millisecond)
	opts.MaxReconnect = max(cmp.Or(opts.MaxReconnect, 10*time.Second), opts.MinReconnect)
	opts.Buffer = cmp.Or(opts.Buffer, 1024)
	opts.PingEvery = cmp.Or(opts.PingEvery, 30*time.Second)
	l := &Listener{out: make(chan ChangeNotice, opts.Buffer), opts: opts, done: make(chan struct{})}
	l.pq = pq.NewListener(url, opts.MinReconnect, opts.MaxReconnect, func(ev pq.ListenerEventType, err error) {
		if err != nil && opts.OnError != nil {
			opts.OnError(fmt.Errorf("store: change listener %s: %w", ev, err))
		}
	})
	listening := make(chan error, 1)
	go func() { listening <- l.pq.Listen(ChangesChannel) }()
	select {
	case err := <-listening:
		if err != nil {
			_ = l.pq.Close()
			return nil, fmt.Errorf("store: listen on %s: %w", ChangesChannel, err)
		}
	case <-ctx.Done():
		_ = l.pq.Close() // also ends the pending Listen
		return nil, fmt.Errorf("store: listen on %s: %w", ChangesChannel, ctx.Err())
	}
	l.wg.Go(l.run)
	return l, nil
}

// Changes delivers the changes in the order PostgreSQL sent them. It is
// closed after Close.
func (l *Listener) Changes() <-chan ChangeNotice { return l.out }

// Close disconnects and closes Changes.
func (l *Listener) Close() error {
	l.closing.Do(func() {
		close(l.done)
		_ = l.pq.Close()
	})
	l.wg.Wait()
	return nil
}

// run decodes notifications into Changes. It never waits for the reader:
// when the buffer is full the notice is dropped and a resync owed, sent as
// soon as there is room.
func (l *Listener) run() {
	defer close(l.out)
	ping := time.NewTicker(l.opts.PingEvery)
	defer ping.Stop()
	owed := false // a resync is due: something was dropped
	deliver := func(n ChangeNotice) {
		if owed {
			return // the resync due covers n
		}
		select {
		case l.out <- n:
		default:
			owed = true
		}
	}
	for {
		var resync chan<- ChangeNotice // nil (never ready) unless a resync is due
		if owed {
			resync = l.out
		}
		select {
		case <-l.done:
			// pq's loop may be waiting to hand over a notification: let it
			// finish, or its goroutine would never end.
			for range l.pq.Notify {
			}
			return
		case resync <- ChangeNotice{Resync: true}:
			owed = false
		case <-ping.C:
			// A failed ping closes nothing itself, but writing to a dead
			// connection makes pq notice the loss and reconnect.
			go func() {
				if err := l.pq.Ping(); err != nil && !errors.Is(err, pq.ErrChannelNotOpen) && l.opts.OnError != nil {
					select {
					case <-l.done:
					default:
						l.opts.OnError(fmt.Errorf("store: change listener ping: %w", err))
					}
				}
			}()
		case n, ok := <-l.pq.Notify:
			if !ok {
				return
			}
			if n == nil { // reconnected: notifications may have been lost
				deliver(ChangeNotice{Resync: true})
				continue
			}
			var c Change
			if err := json.Unmarshal([]byte(n.Extra), &c); err != nil || c.Table == "" || c.ID == "" {
				if l.opts.OnError != nil {
					l.opts.OnError(fmt.Errorf("store: change listener: malformed payload %.200q", n.Extra))
				}
				continue
			}
			deliver(ChangeNotice{Change: c})
		}
	}
}

// SessionActive reports whether the session token names is still live
// (its user enabled and unchanged, within the idle and absolute
// timeouts), like SessionUser, but without counting the check as use:
// an open live-update stream re-checks its session with it, and a page
// left open must not keep its session from going idle.
func (s *Store) SessionActive(ctx context.Context, token string, idle, absolute time.Duration) (bool, error) {
	var live bool
	err := sqlxGet(ctx, s, &live, `
SELECT NOT u.disabled AND s.epoch = u.session_epoch
       AND s.created_at > now() - $2::float8 * interval '1 microsecond'
       AND s.last_seen_at > now() - $3::float8 * interval '1 microsecond'
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.id_hash = $1`, tokenHash(token), absolute.Microseconds(), idle.Microseconds())
	if isNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: check session: %w", err)
	}
	return live, nil
}
