package apply

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"paydesk/store"
)

// DefaultStall is how long a worker may go without finishing a round
// while events wait before Monitor.Check calls it stuck. A round that
// re-fetches objects from Stripe under the rate limit, and retries storing
// them for up to a minute, stays well inside it.
const DefaultStall = 2 * time.Minute

// Monitor watches the workers of one process: whether each runs, when each
// last finished a round (a batch applied, or a look at the queue that found
// nothing), and how many events they settled by outcome. Give the same
// Monitor to every Worker of the process through Options.Monitor. It is
// safe for concurrent use.
type Monitor struct {
	// Stall is how long a worker may go without finishing a round while
	// events wait (default DefaultStall).
	Stall time.Duration

	applied, ignored, failed atomic.Int64

	mu      sync.Mutex
	workers []*workerState
}

// workerState is one worker's heartbeat.
type workerState struct {
	registered time.Time
	started    atomic.Bool
	stopped    atomic.Bool
	progress   atomic.Int64 // Unix nanoseconds of the last finished round; 0 before the first
}

// Outcomes counts the events a process's workers settled, by the status
// they were given.
type Outcomes struct {
	Applied, Ignored, Failed int64
}

// Outcomes returns the events settled since the Monitor was made; only
// transactions that committed count.
func (m *Monitor) Outcomes() Outcomes {
	return Outcomes{Applied: m.applied.Load(), Ignored: m.ignored.Load(), Failed: m.failed.Load()}
}

// WorkerStatus is one worker as the Monitor sees it.
type WorkerStatus struct {
	Started, Stopped bool
	// LastProgress is when the worker last finished a round (zero before
	// the first).
	LastProgress time.Time
}

// Workers returns each registered worker's status, in the order they were
// made.
func (m *Monitor) Workers() []WorkerStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]WorkerStatus, len(m.workers))
	for i, w := range m.workers {
		out[i] = WorkerStatus{Started: w.started.Load(), Stopped: w.stopped.Load()}
		if ns := w.progress.Load(); ns != 0 {
			out[i].LastProgress = time.Unix(0, ns)
		}
	}
	return out
}

// Check reports whether the workers are doing their job at now: every
// worker has started and not stopped, and, unless nothing waits in the
// queue (eventsWaiting false), each finished a round within Stall. The
// error names the first worker at fault; it holds nothing secret.
func (m *Monitor) Check(now time.Time, eventsWaiting bool) error {
	stall := m.Stall
	if stall <= 0 {
		stall = DefaultStall
	}
	m.mu.Lock()
	workers := m.workers
	m.mu.Unlock()
	if len(workers) == 0 {
		return fmt.Errorf("no event worker runs")
	}
	for i, w := range workers {
		last := w.registered
		if ns := w.progress.Load(); ns != 0 {
			last = time.Unix(0, ns)
		}
		switch {
		case w.stopped.Load():
			return fmt.Errorf("event worker %d stopped", i+1)
		case !w.started.Load() && now.Sub(w.registered) > stall:
			return fmt.Errorf("event worker %d never started", i+1)
		case eventsWaiting && now.Sub(last) > stall:
			return fmt.Errorf("event worker %d has made no progress for %s while events wait", i+1, now.Sub(last).Round(time.Second))
		}
	}
	return nil
}

// register adds a worker; nil when m is nil, and every method of the
// result works on nil.
func (m *Monitor) register() *workerState {
	if m == nil {
		return nil
	}
	w := &workerState{registered: time.Now()}
	m.mu.Lock()
	m.workers = append(m.workers, w)
	m.mu.Unlock()
	return w
}

func (w *workerState) start() {
	if w != nil {
		w.stopped.Store(false)
		w.started.Store(true)
	}
}

func (w *workerState) stop() {
	if w != nil {
		w.stopped.Store(true)
	}
}

// beat notes a finished round.
func (w *workerState) beat() {
	if w != nil {
		w.progress.Store(time.Now().UnixNano())
	}
}

// tally counts outcomes by status; add them to the Monitor once their
// transaction has committed.
type tally Outcomes

func (t *tally) count(outcomes []store.EventOutcome) {
	for _, o := range outcomes {
		switch o.Status {
		case store.EventApplied:
			t.Applied++
		case store.EventIgnored:
			t.Ignored++
		case store.EventFailed:
			t.Failed++
		}
	}
}

// add records a committed tally.
func (m *Monitor) add(t tally) {
	if m == nil {
		return
	}
	m.applied.Add(t.Applied)
	m.ignored.Add(t.Ignored)
	m.failed.Add(t.Failed)
}
