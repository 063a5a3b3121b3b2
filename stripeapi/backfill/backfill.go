// Package backfill copies every customer, invoice (with all its lines),
// charge and refund of a Stripe account into the mirror: `paydesk sync`.
//
// Work is split into created-windows. Each object type starts as one window
// [since, until); a worker pages through it newest first (limit 100,
// starting_after). Whenever another worker is idle and a window still has
// more to read, the window hands the older half of what is left to a new
// window, so a long history is read in parallel without guessing where the
// data lies, and an empty range costs one request at most. Every page is
// stored in one transaction with its window's cursor, so an interrupted run
// resumes at the last stored page.
package backfill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"paydesk/store"
	"paydesk/stripeapi"
)

// Objects are the object types a sync can copy, in the order they start.
var Objects = []string{"customers", "invoices", "charges", "refunds"}

// ParseObjects reads a comma-separated list of object types; empty means
// all of them.
func ParseObjects(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return slices.Clone(Objects), nil
	}
	var out []string
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(strings.ToLower(name))
		if !slices.Contains(Objects, name) {
			return nil, fmt.Errorf("unknown object type %q (want some of %s)", name, strings.Join(Objects, ","))
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	// Keep the canonical order so the same set always names the same run.
	slices.SortFunc(out, func(a, b string) int { return slices.Index(Objects, a) - slices.Index(Objects, b) })
	return out, nil
}

// Options tune a run.
type Options struct {
	// Objects to copy; nil means all.
	Objects []string
	// Since limits the run to objects created at or after it; zero means
	// the whole history.
	Since time.Time
	// Workers is how many windows are read at once (default 4). The rate
	// limiter in the API client bounds the requests whatever this is.
	Workers int
	// Restart abandons an unfinished run instead of resuming it.
	Restart bool
	// Progress, if set, is updated as pages are stored.
	Progress *Progress
	// Log receives notes on resuming, splitting and retries.
	Log *slog.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Progress counts what a run has stored so far; safe to read while the run
// goes on.
type Progress struct {
	objects [4]atomic.Int64
	Lines   atomic.Int64
	Pages   atomic.Int64
	Windows atomic.Int64
}

// Objects returns how many objects of type name have been stored.
func (p *Progress) Objects(name string) int64 {
	if i := slices.Index(Objects, name); i >= 0 {
		return p.objects[i].Load()
	}
	return 0
}

func (p *Progress) add(name string, n int64) {
	if i := slices.Index(Objects, name); i >= 0 {
		p.objects[i].Add(n)
	}
}

// Total is the number of objects of every type stored so far.
func (p *Progress) Total() int64 {
	var t int64
	for i := range p.objects {
		t += p.objects[i].Load()
	}
	return t
}

// Summary reports a finished run.
type Summary struct {
	RunID   int64
	Resumed bool
	// Objects stored by this invocation, per type.
	Objects map[string]int64
	// Lines is the number of invoice lines stored.
	Lines int64
	// Stripe API traffic of this invocation.
	Requests, Retries, RateLimited int64
	Duration                       time.Duration
}

// ErrLocked is returned when another sync holds the lock.
var ErrLocked = errors.New("another paydesk sync is running against this database")

// lockKey is the advisory lock that lets only one backfill run at a time,
// whichever replica or terminal starts it.
const lockKey = 0x70617964_73796e63 // "paydsync"

// Run copies the selected objects from Stripe into the store, resuming an
// unfinished run when there is one.
func Run(ctx context.Context, st *store.Store, api *stripeapi.Client, o Options) (Summary, error) {
	started := time.Now()
	if o.Objects == nil {
		o.Objects = slices.Clone(Objects)
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Progress == nil {
		o.Progress = &Progress{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	release, ok, err := st.TryLock(ctx, lockKey)
	if err != nil {
		return Summary{}, err
	}
	if !ok {
		return Summary{}, ErrLocked
	}
	defer release()

	run, windows, resumed, err := prepare(ctx, st, api.LiveMode(), o)
	if err != nil {
		return Summary{}, err
	}
	before := api.Stats()
	e := &engine{st: st, api: api, o: o, run: run}
	err = e.work(ctx, windows)
	after := api.Stats()
	sum := Summary{
		RunID: run.ID, Resumed: resumed, Objects: map[string]int64{}, Lines: o.Progress.Lines.Load(),
		Requests: after.Requests - before.Requests, Retries: after.Retries - before.Retries,
		RateLimited: after.RateLimited - before.RateLimited, Duration: time.Since(started),
	}
	for _, name := range o.Objects {
		sum.Objects[name] = o.Progress.Objects(name)
	}
	if err != nil {
		return sum, err
	}
	if err := st.FinishSync(ctx, run.ID, "done"); err != nil {
		return sum, err
	}
	return sum, nil
}

// prepare resumes the unfinished run or starts a new one, and returns the
// windows still to read.
func prepare(ctx context.Context, st *store.Store, livemode bool, o Options) (store.SyncRun, []store.SyncWindow, bool, error) {
	var since *time.Time
	if !o.Since.IsZero() {
		s := o.Since.UTC().Truncate(time.Second)
		since = &s
	}
	run, err := st.RunningSync(ctx, livemode)
	switch {
	case err == nil && o.Restart:
		o.Log.Info("abandoning unfinished sync", "run", run.ID)
		if err := st.FinishSync(ctx, run.ID, "abandoned"); err != nil {
			return run, nil, false, err
		}
	case err == nil:
		if !slices.Equal(run.Objects, o.Objects) || !sameTime(run.Since, since) {
			return run, nil, false, fmt.Errorf("sync run %d (objects %s, since %s) was interrupted: run it again with the same --objects and --since to resume it, or add --restart",
				run.ID, strings.Join(run.Objects, ","), describeSince(run.Since))
		}
		if err := st.ResumeSync(ctx, run.ID); err != nil {
			return run, nil, false, err
		}
		all, err := st.SyncWindows(ctx, run.ID)
		if err != nil {
			return run, nil, false, err
		}
		var open []store.SyncWindow
		for _, w := range all {
			if !w.Done {
				open = append(open, w)
			}
		}
		o.Log.Info("resuming interrupted sync", "run", run.ID, "started", run.StartedAt, "windows_left", len(open), "windows_done", len(all)-len(open))
		return run, open, true, nil
	case !errors.Is(err, store.ErrNotFound):
		return run, nil, false, err
	}

	// until is fixed when the run starts, so a resumed run reads exactly
	// the same range; objects created later arrive through webhooks or the
	// next sync.
	until := o.Now().Unix() + 1
	var lo int64
	if since != nil {
		lo = since.Unix()
	}
	if lo >= until {
		return run, nil, false, fmt.Errorf("--since %s is in the future", since.Format(time.DateOnly))
	}
	var windows []store.SyncWindow
	for _, name := range o.Objects {
		windows = append(windows, store.SyncWindow{Object: name, Lo: lo, Hi: until})
	}
	run, err = st.StartSync(ctx, store.SyncRun{Livemode: livemode, Objects: o.Objects, Since: since, Until: time.Unix(until, 0)}, windows)
	if err != nil {
		return run, nil, false, err
	}
	windows, err = st.SyncWindows(ctx, run.ID)
	return run, windows, false, err
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func describeSince(t *time.Time) string {
	if t == nil {
		return "the beginning"
	}
	return t.UTC().Format(time.DateOnly)
}

// engine runs the windows of one run on a pool of workers.
type engine struct {
	st  *store.Store
	api *stripeapi.Client
	o   Options
	run store.SyncRun
	// visit, when set, receives each page instead of the store (List).
	visit func(ctx context.Context, object string, rows any) error

	mu     sync.Mutex
	cond   *sync.Cond
	queue  []*store.SyncWindow
	busy   int
	failed error
}

func (e *engine) work(parent context.Context, windows []store.SyncWindow) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	e.cond = sync.NewCond(&e.mu)
	for i := range windows {
		e.queue = append(e.queue, &windows[i])
	}
	// Wake the workers when ctx ends so none waits forever.
	stop := context.AfterFunc(ctx, func() {
		e.mu.Lock()
		e.cond.Broadcast()
		e.mu.Unlock()
	})
	defer stop()

	var wg sync.WaitGroup
	for range e.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w := e.next(ctx); w != nil; w = e.next(ctx) {
				err := e.drain(ctx, w)
				e.mu.Lock()
				e.busy--
				if err != nil && e.failed == nil {
					e.failed = err
					cancel()
				}
				e.cond.Broadcast()
				e.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// When the caller stopped the run, that is the error to report: the
	// failures it caused (a query cancelled by the driver, say) are only
	// its echoes.
	if err := parent.Err(); err != nil {
		return err
	}
	return e.failed
}

// next hands out a queued window, waiting while other workers may still
// split theirs; nil means the run is over.
func (e *engine) next(ctx context.Context) *store.SyncWindow {
	e.mu.Lock()
	defer e.mu.Unlock()
	for len(e.queue) == 0 && e.busy > 0 && ctx.Err() == nil {
		e.cond.Wait()
	}
	if len(e.queue) == 0 || ctx.Err() != nil {
		return nil
	}
	w := e.queue[0]
	e.queue = e.queue[1:]
	e.busy++
	return w
}

// wantsWork reports whether a worker is idle with nothing queued.
func (e *engine) wantsWork() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.queue) == 0 && e.busy < e.o.Workers
}

func (e *engine) push(w *store.SyncWindow) {
	e.mu.Lock()
	e.queue = append(e.queue, w)
	e.cond.Signal()
	e.mu.Unlock()
}

// drain reads a window page by page until it is done.
func (e *engine) drain(ctx context.Context, w *store.SyncWindow) error {
	e.o.Progress.Windows.Add(1)
	for !w.Done {
		p, err := e.fetch(ctx, w)
		if err != nil && w.Cursor != nil && isMissingCursor(err) {
			// The object the cursor names is gone (a deleted customer,
			// say). Read the window again from its start: upserts are
			// idempotent, so re-storing a page changes nothing.
			e.o.Log.Warn("sync cursor vanished; rereading window", "object", w.Object, "cursor", *w.Cursor)
			w.Cursor = nil
			continue
		}
		if err != nil {
			return fmt.Errorf("sync %s: %w", w.Object, err)
		}
		next := *w
		next.Pages++
		next.Fetched += int64(p.count)
		next.Done = !p.hasMore || p.count == 0
		if p.lastID != "" {
			next.Cursor = &p.lastID
		}
		if err := e.commit(ctx, p, next); err != nil {
			return fmt.Errorf("sync %s: store page: %w", w.Object, err)
		}
		*w = next
		e.o.Progress.add(w.Object, int64(p.count))
		e.o.Progress.Lines.Add(int64(p.lines))
		e.o.Progress.Pages.Add(1)
		if !w.Done {
			if err := e.maybeSplit(ctx, w, p.oldest); err != nil {
				return err
			}
		}
	}
	return nil
}

// commit stores a page with its window's new cursor in one transaction,
// or hands the page to visit when the engine only lists.
func (e *engine) commit(ctx context.Context, p page, next store.SyncWindow) error {
	if e.visit != nil {
		return e.visit(ctx, next.Object, p.rows)
	}
	return e.st.InTx(ctx, func(tx *store.Store) error {
		if err := p.save(ctx, tx); err != nil {
			return err
		}
		return tx.AdvanceSyncWindow(ctx, next)
	})
}

// maybeSplit gives the older half of what is left of w to an idle worker.
// What is left are the objects after the cursor: those created before
// oldest, plus any more created in the very second of oldest. The split
// point is strictly inside [w.Lo, oldest), so the cursor stays within w.
func (e *engine) maybeSplit(ctx context.Context, w *store.SyncWindow, oldest int64) error {
	if oldest-w.Lo < 2 || !e.wantsWork() {
		return nil
	}
	mid := w.Lo + (oldest-w.Lo)/2
	var older store.SyncWindow
	if e.visit != nil {
		// A listing keeps its windows in memory only.
		older = store.SyncWindow{Object: w.Object, Lo: w.Lo, Hi: mid}
		w.Lo = mid
	} else {
		var err error
		if older, err = e.st.SplitSyncWindow(ctx, w, mid); err != nil {
			return err
		}
	}
	e.o.Log.Debug("split sync window", "object", w.Object, "older", [2]int64{older.Lo, older.Hi}, "kept", [2]int64{w.Lo, w.Hi})
	e.push(&older)
	return nil
}

func isMissingCursor(err error) bool {
	var se *stripeapi.Error
	return errors.As(err, &se) && se.Code == "resource_missing" && se.Param == "starting_after"
}
