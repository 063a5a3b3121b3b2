package stripefake

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// kinds are the object types the fake stores, with their list paths.
var kinds = []struct{ kind, plural string }{
	{"customer", "customers"},
	{"invoice", "invoices"},
	{"charge", "charges"},
	{"refund", "refunds"},
	{"event", "events"},
}

// Data is the fake's account: every object per type, kept in list order.
// It is safe for concurrent use; a Server reads it on every request, so
// changes made with Put show up in the next response.
type Data struct {
	mu    sync.RWMutex
	cols  map[string]*collection // by kind
	dirty bool                   // some collection needs sorting
	rng   *rand.Rand             // event ids; guarded by mu
}

// collection holds one type. Writes only mark it dirty; it is re-sorted once
// before the next read, so a test may Put thousands of objects cheaply.
type collection struct {
	plural string
	byID   map[string]*object
	sorted []*object      // created DESC, id DESC
	pos    map[string]int // id -> index in sorted: cursors in O(1)
	dirty  bool
}

// NewData returns an empty account, for tests that build their own objects
// with Put and AddEvent.
func NewData() *Data { return newData(1) }

func newData(seed int64) *Data {
	d := &Data{
		cols: map[string]*collection{},
		rng:  rand.New(rand.NewPCG(uint64(seed), 0x5eed_e7e7)),
	}
	for _, k := range kinds {
		d.cols[k.kind] = &collection{plural: k.plural, byID: map[string]*object{}, pos: map[string]int{}}
	}
	return d
}

// Put adds or replaces an object (by id). kind is "customer", "invoice",
// "charge", "refund" or "event". An invoice's lines.data is taken as all of
// its lines, except that when lines.has_more is true the object carries only
// the first lines and the stored lines beyond them are kept, so a test can
// Put back an invoice it read from the API. Put panics on an unknown kind or
// an object that is not JSON with an id: that is a bug in the calling test.
func (d *Data) Put(kind string, obj json.RawMessage) {
	o, err := parseObject(kind, obj)
	if err != nil {
		panic(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.putLocked(kind, o)
}

func (d *Data) putLocked(kind string, o *object) {
	c := d.cols[kind]
	if c == nil {
		panic(fmt.Sprintf("stripefake: unknown kind %q", kind))
	}
	if old := c.byID[o.id]; old != nil && old.lines != nil && o.lines != nil && o.lines.truncated {
		if n := len(o.lines.data); n < len(old.lines.data) {
			o.lines.data = append(o.lines.data, old.lines.data[n:]...)
			o.lines.ids = append(o.lines.ids, old.lines.ids[n:]...)
		}
	}
	c.byID[o.id] = o
	c.dirty, d.dirty = true, true
}

// AddEvent builds an event of type typ wrapping obj, created at created,
// stores it (so /v1/events serves it) and returns it.
func (d *Data) AddEvent(typ string, obj json.RawMessage, created time.Time) json.RawMessage {
	d.mu.Lock()
	id := "evt_" + randID(d.rng, 24)
	for d.cols["event"].byID[id] != nil {
		id = "evt_" + randID(d.rng, 24)
	}
	d.mu.Unlock()
	ev := mustMarshal(map[string]any{
		"id":               id,
		"object":           "event",
		"api_version":      APIVersion,
		"created":          created.Unix(),
		"data":             map[string]any{"object": obj},
		"livemode":         false,
		"pending_webhooks": 1,
		"request":          map[string]any{"id": nil, "idempotency_key": nil},
		"type":             typ,
	})
	d.Put("event", ev)
	return ev
}

// rlock takes the read lock with every collection sorted.
func (d *Data) rlock() {
	d.mu.RLock()
	for d.dirty {
		d.mu.RUnlock()
		d.mu.Lock()
		d.sortLocked()
		d.mu.Unlock()
		d.mu.RLock()
	}
}

func (d *Data) sortLocked() {
	for _, c := range d.cols {
		if !c.dirty {
			continue
		}
		c.sorted = c.sorted[:0]
		for _, o := range c.byID {
			c.sorted = append(c.sorted, o)
		}
		slices.SortFunc(c.sorted, newestFirst)
		clear(c.pos)
		for i, o := range c.sorted {
			c.pos[o.id] = i
		}
		c.dirty = false
	}
	d.dirty = false
}

// newestFirst is the list order: created descending, then id descending.
func newestFirst(a, b *object) int {
	if c := cmp.Compare(b.created, a.created); c != 0 {
		return c
	}
	return cmp.Compare(b.id, a.id)
}

// Customers returns every customer as served, in list order.
func (d *Data) Customers() []json.RawMessage { return d.all("customer") }

// Invoices returns every invoice in list order with ALL its lines in
// lines.data and lines.has_more false: the truth a mirror must match, unlike
// the API, which embeds only the first 10 lines.
func (d *Data) Invoices() []json.RawMessage { return d.all("invoice") }

// Charges returns every charge as served, in list order.
func (d *Data) Charges() []json.RawMessage { return d.all("charge") }

// Refunds returns every refund as served, in list order.
func (d *Data) Refunds() []json.RawMessage { return d.all("refund") }

// Events returns every stored event, in list order.
func (d *Data) Events() []json.RawMessage { return d.all("event") }

func (d *Data) all(kind string) []json.RawMessage {
	d.rlock()
	defer d.mu.RUnlock()
	c := d.cols[kind]
	out := make([]json.RawMessage, len(c.sorted))
	for i, o := range c.sorted {
		out[i] = o.appendJSON(nil, -1)
	}
	return out
}

// Counts returns how many objects each mirror table should hold: keys
// "customers", "invoices", "invoice_lines", "charges" and "refunds". Events
// are not mirrored, so they are not counted here.
func (d *Data) Counts() map[string]int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	lines := 0
	for _, o := range d.cols["invoice"].byID {
		if o.lines != nil {
			lines += len(o.lines.data)
		}
	}
	return map[string]int{
		"customers":     len(d.cols["customer"].byID),
		"invoices":      len(d.cols["invoice"].byID),
		"invoice_lines": lines,
		"charges":       len(d.cols["charge"].byID),
		"refunds":       len(d.cols["refund"].byID),
	}
}

const idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func randID(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = idAlphabet[r.IntN(len(idAlphabet))]
	}
	return string(b)
}
