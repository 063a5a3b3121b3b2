package handlers

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"paydesk/store"
	"paydesk/views"
)

// Live updates. Every replica LISTENs to the change feed PostgreSQL
// carries (store.Listener, the ChangeSource); one hub per Server fans each
// change out to the open GET /live streams, which send the browser
// "change-<id>" and "change-<table>" events (the contract of views/live.go),
// the "behind" badge as "status" events, and "resync" when changes may
// have been missed.

// ChangeSource delivers the mirror's changes as they commit. *store.Listener
// is one. Its channel closes when the source is closed.
type ChangeSource interface {
	Changes() <-chan store.ChangeNotice
}

// liveReader is what the live stream and the badge read.
type liveReader interface {
	MirrorLag(ctx context.Context, livemode bool) (store.Lag, error)
	SessionActive(ctx context.Context, token string, idle, absolute time.Duration) (bool, error)
}

// LiveOptions tunes the live stream and the badge; zero fields take the
// defaults. Tests shorten the intervals.
type LiveOptions struct {
	// Heartbeat is how often an idle stream sends a comment, so proxies
	// and browsers keep it open (default 15 s).
	Heartbeat time.Duration
	// Coalesce is how long changes are collected before they are sent,
	// each distinct event name once (default 200 ms).
	Coalesce time.Duration
	// StatusEvery is how often a stream checks whether the badge changed
	// (default 5 s); the mirror's lag is read at most about that often
	// however many pages are open.
	StatusEvery time.Duration
	// SessionCheck is how often a stream checks that its session is still
	// live (default 1 min).
	SessionCheck time.Duration
	// Buffer is how many changes may wait for one stream (default 256);
	// beyond it the stream is told to resync instead.
	Buffer int
	// MaxBatch is how many distinct event names one batch may carry
	// (default 512); past it the stream sends a resync instead.
	MaxBatch int
	// QueueGrace is how long an event may wait in the queue before the
	// mirror counts as behind (default 30 s): at a steady flow of webhooks
	// a few are always queued for a moment.
	QueueGrace time.Duration
	// SyncMaxAge is how old the last full sync may be while no change
	// arrives before the mirror counts as behind (default 24 h). As long as
	// webhooks flow they keep the mirror current, whatever the sync's age.
	SyncMaxAge time.Duration
}

func (o LiveOptions) withDefaults() LiveOptions {
	o.Heartbeat = cmp.Or(o.Heartbeat, 15*time.Second)
	o.Coalesce = cmp.Or(o.Coalesce, 200*time.Millisecond)
	o.StatusEvery = cmp.Or(o.StatusEvery, 5*time.Second)
	o.SessionCheck = cmp.Or(o.SessionCheck, time.Minute)
	o.Buffer = cmp.Or(o.Buffer, 256)
	o.MaxBatch = cmp.Or(o.MaxBatch, 512)
	o.QueueGrace = cmp.Or(o.QueueGrace, 30*time.Second)
	o.SyncMaxAge = cmp.Or(o.SyncMaxAge, 24*time.Hour)
	return o
}

// liveTables are the tables whose "change-<table>" events a resync sends.
var liveTables = []string{"customers", "invoices", "charges", "refunds"}

// liveFeed is a Server's live-update state: the hub, the options, the
// badge's cache and the signal that ends every stream on shutdown.
type liveFeed struct {
	opts LiveOptions
	hub  hub

	stop     chan struct{}
	stopOnce sync.Once

	statusMu   sync.Mutex
	status     views.MirrorStatus
	statusAt   time.Time
	refreshing bool
}

func newLiveFeed(src ChangeSource, opts LiveOptions) *liveFeed {
	f := &liveFeed{opts: opts.withDefaults(), stop: make(chan struct{})}
	f.hub.subs = map[*subscriber]struct{}{}
	if src != nil {
		go f.hub.run(src.Changes())
	}
	return f
}

// EndLiveStreams ends every open GET /live stream and refuses new ones
// (503: the browser retries, reaching another replica). Register it with
// http.Server.RegisterOnShutdown: Shutdown waits for handlers to return,
// and a stream otherwise never does.
func (s *Server) EndLiveStreams() {
	s.feed.stopOnce.Do(func() { close(s.feed.stop) })
}

// hub fans changes out to subscribers. It never waits for one: a
// subscriber whose buffer is full loses the change and is told to resync.
type hub struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
	// lastChange is when the last change arrived (Unix nanoseconds; 0:
	// none since start), for the badge's "changes flow".
	lastChange atomic.Int64
}

// subscriber is one stream's inbox.
type subscriber struct {
	changes chan store.Change
	resync  chan struct{} // capacity 1: a resync is due
}

func (h *hub) subscribe(buffer int) *subscriber {
	sub := &subscriber{changes: make(chan store.Change, buffer), resync: make(chan struct{}, 1)}
	h.mu.Lock()
	h.subs[sub] = struct{}{}
	h.mu.Unlock()
	return sub
}

func (h *hub) unsubscribe(sub *subscriber) {
	h.mu.Lock()
	delete(h.subs, sub)
	h.mu.Unlock()
}

// publish hands n to every subscriber without blocking.
func (h *hub) publish(n store.ChangeNotice) {
	if !n.Resync {
		h.lastChange.Store(time.Now().UnixNano())
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		if !n.Resync {
			select {
			case sub.changes <- n.Change:
				continue
			default: // full: this stream is slow; it resyncs instead
			}
		}
		select {
		case sub.resync <- struct{}{}:
		default: // a resync is already due
		}
	}
}

// run publishes what src delivers until src closes.
func (h *hub) run(src <-chan store.ChangeNotice) {
	for n := range src {
		h.publish(n)
	}
}

// changesSince reports whether a change arrived after t.
func (h *hub) changesSince(t time.Time) bool {
	last := h.lastChange.Load()
	return last != 0 && last > t.UnixNano()
}

// validEventName keeps event names to [A-Za-z0-9_-]: safe on an SSE
// "event:" line and in an htmx trigger.
func validEventName(name string) bool {
	if name == "" || len(name) > 255 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// sseWriter writes server-sent events and flushes them.
type sseWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	buf bytes.Buffer
}

// event queues an event; data may hold several lines.
func (e *sseWriter) event(name, data string) {
	e.buf.WriteString("event: ")
	e.buf.WriteString(name)
	e.buf.WriteByte('\n')
	for line := range strings.Lines(data) {
		e.buf.WriteString("data: ")
		e.buf.WriteString(strings.TrimRight(line, "\r\n"))
		e.buf.WriteByte('\n')
	}
	e.buf.WriteByte('\n')
}

func (e *sseWriter) comment(text string) {
	e.buf.WriteString(": ")
	e.buf.WriteString(text)
	e.buf.WriteString("\n\n")
}

// flush sends what is queued.
func (e *sseWriter) flush() error {
	if e.buf.Len() == 0 {
		return nil
	}
	_, err := e.buf.WriteTo(e.w)
	e.buf.Reset()
	if err != nil {
		return err
	}
	return e.rc.Flush()
}

// liveStream is GET /live: the server-sent event stream of a signed-in
// page. It runs until the client leaves, the session ends or the server
// shuts down.
func (s *Server) liveStream(w http.ResponseWriter, r *http.Request) {
	f := s.feed
	select {
	case <-f.stop:
		w.Header().Set("Retry-After", "1")
		s.fail(w, r, http.StatusServiceUnavailable, "server is stopping", nil)
		return
	default:
	}
	si, _ := r.Context().Value(ctxKey{}).(*signedIn) // the guard let only signed-in users through
	rc := http.NewResponseController(w)
	// The server's WriteTimeout would cut the stream after 30 s.
	if err := rc.SetWriteDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.logError(r, "live stream: cannot clear the write deadline", err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h["Cache-Control"] = noStoreCache
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)

	sub := f.hub.subscribe(f.opts.Buffer)
	defer f.hub.unsubscribe(sub)
	ctx := r.Context()
	out := &sseWriter{w: w, rc: rc}

	// Reconnect quickly after a server restart; then the current badge.
	out.buf.WriteString("retry: 2000\n\n")
	badge := s.badgeHTML(ctx)
	out.event("status", badge)
	if err := out.flush(); err != nil {
		return
	}

	heartbeat := time.NewTicker(f.opts.Heartbeat)
	defer heartbeat.Stop()
	statusTick := time.NewTicker(f.opts.StatusEvery)
	defer statusTick.Stop()
	sessionTick := time.NewTicker(f.opts.SessionCheck)
	defer sessionTick.Stop()
	batchTimer := time.NewTimer(time.Hour)
	batchTimer.Stop()
	var batchDue <-chan time.Time // nil while no batch is being collected

	var pending []string
	seen := map[string]struct{}{}
	resync := false
	add := func(name string) {
		if !validEventName(name) {
			return
		}
		if _, ok := seen[name]; ok {
			return
		}
		if len(pending) >= f.opts.MaxBatch {
			resync = true // too many to name: refresh everything
			return
		}
		seen[name] = struct{}{}
		pending = append(pending, name)
	}
	startBatch := func() {
		if batchDue == nil {
			batchTimer.Reset(f.opts.Coalesce)
			batchDue = batchTimer.C
		}
	}

	for {
		select {
		case <-ctx.Done():
			return
		case <-f.stop:
			return
		case c := <-sub.changes:
			add(views.ChangeEvent(c.ID))
			add(views.TableChangeEvent(c.Table))
			startBatch()
		case <-sub.resync:
			resync = true
			startBatch()
		case <-batchDue:
			batchDue = nil
			if resync {
				// Changes were missed: every table changed, as far as the
				// page knows; paydesk-live.js refreshes every live element.
				pending, resync = pending[:0], false
				clear(seen)
				for _, t := range liveTables {
					out.event(views.TableChangeEvent(t), t)
				}
				badge = s.badgeHTML(ctx)
				out.event("resync", badge)
			}
			for _, name := range pending {
				out.event(name, "1")
			}
			pending = pending[:0]
			clear(seen)
			if err := out.flush(); err != nil {
				return
			}
		case <-heartbeat.C:
			out.comment("heartbeat")
			if err := out.flush(); err != nil {
				return
			}
		case <-statusTick.C:
			if b := s.badgeHTML(ctx); b != badge {
				badge = b
				out.event("status", badge)
				if err := out.flush(); err != nil {
					return
				}
			}
		case <-sessionTick.C:
			if si == nil {
				continue
			}
			live, err := s.mirror.SessionActive(ctx, si.token, s.idle, s.absolute)
			if err != nil {
				if ctx.Err() == nil {
					s.logError(r, "live stream: cannot check the session", err)
				}
				continue // a database hiccup does not end the stream
			}
			if !live {
				// The layout's sse-close="signed-out" stops the browser
				// from reconnecting with a session that ended.
				out.event("signed-out", "1")
				_ = out.flush()
				return
			}
		}
	}
}

// badgeHTML renders the badge for a "status" or "resync" event.
func (s *Server) badgeHTML(ctx context.Context) string {
	var b strings.Builder
	if err := views.MirrorStatusBadge(s.mirrorStatus(ctx)).Render(ctx, &b); err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "live stream: cannot render the badge", slog.Any("err", err))
	}
	return b.String()
}

// mirrorStatus is the "behind" badge's state. It reads the mirror's lag at
// most once per half StatusEvery for the whole server (page loads and
// every open stream share it); while one request reads it, the others use
// the previous value.
func (s *Server) mirrorStatus(ctx context.Context) views.MirrorStatus {
	f := s.feed
	f.statusMu.Lock()
	fresh := !f.statusAt.IsZero() && time.Since(f.statusAt) < f.opts.StatusEvery/2
	if fresh || f.refreshing && !f.statusAt.IsZero() {
		st := f.status
		f.statusMu.Unlock()
		return st
	}
	f.refreshing = true
	f.statusMu.Unlock()

	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	lag, err := s.mirror.MirrorLag(qctx, s.live)
	cancel()

	f.statusMu.Lock()
	defer f.statusMu.Unlock()
	f.refreshing = false
	if err != nil {
		if ctx.Err() == nil {
			s.log.LogAttrs(ctx, slog.LevelError, "cannot read the mirror's lag", slog.Any("err", err))
		}
		return f.status // the last known state
	}
	f.status = f.statusFromLag(lag)
	f.statusAt = time.Now()
	return f.status
}

// statusFromLag decides whether the mirror is behind: events failed, an
// event waited in the queue longer than QueueGrace, or the last full sync
// is older than SyncMaxAge while no change has arrived since, or there
// never was a sync and no webhook event ever arrived.
func (f *liveFeed) statusFromLag(lag store.Lag) views.MirrorStatus {
	st := views.MirrorStatus{Queued: lag.Queued, Failed: lag.Failed}
	if lag.OldestQueued != nil {
		if wait := lag.Now.Sub(*lag.OldestQueued); wait > f.opts.QueueGrace {
			st.QueuedFor = humanDuration(wait)
		}
	}
	changesFlow := lag.Queued > 0 || lag.Failed > 0 || f.hub.changesSince(time.Now().Add(-f.opts.SyncMaxAge))
	switch {
	case lag.LastSync == nil:
		st.NeverSynced = !changesFlow && !lag.AnyEvents
	case !changesFlow:
		if age := lag.Now.Sub(*lag.LastSync); age > f.opts.SyncMaxAge {
			st.SyncAge = humanDuration(age)
		}
	}
	st.Behind = st.Failed > 0 || st.QueuedFor != "" || st.SyncAge != "" || st.NeverSynced
	return st
}

// humanDuration says d roughly: "40 s", "12 min", "5 h", "3 days".
func humanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}
