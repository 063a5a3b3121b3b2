package stripefake

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
)

var listPaths = []struct {
	path  string
	truth func(*Data) []json.RawMessage
}{
	{"/v1/customers", (*Data).Customers},
	{"/v1/invoices", (*Data).Invoices},
	{"/v1/charges", (*Data).Charges},
	{"/v1/refunds", (*Data).Refunds},
}

// checkOrder fails unless hs is strictly newest first: created DESC, id DESC.
func checkOrder(t *testing.T, what string, hs []head) {
	t.Helper()
	for i := 1; i < len(hs); i++ {
		a, b := hs[i-1], hs[i]
		if a.Created < b.Created || a.Created == b.Created && a.ID <= b.ID {
			t.Fatalf("%s: %v before %v breaks created DESC, id DESC", what, a, b)
		}
	}
}

func TestPagingSeesEveryObjectOnce(t *testing.T) {
	s := NewServer(shared, Options{})
	defer s.Close()
	c := newClient(t, s)
	for _, lp := range listPaths {
		got := c.pageAll(lp.path, url.Values{"limit": {"100"}})
		want := heads(t, lp.truth(shared))
		if !slices.Equal(got, want) {
			t.Fatalf("%s: paged %d objects, want %d in the same order", lp.path, len(got), len(want))
		}
		checkOrder(t, lp.path, got)
	}
	// Default limit is 10, and a page size that splits bursts still works.
	if l := c.list("/v1/charges", nil); len(l.Data) != 10 || !l.HasMore || l.URL != "/v1/charges" {
		t.Errorf("default page: %d objects, has_more %v, url %q", len(l.Data), l.HasMore, l.URL)
	}
	got := c.pageAll("/v1/refunds", url.Values{"limit": {"7"}})
	if want := heads(t, shared.Refunds()); !slices.Equal(got, want) {
		t.Errorf("limit 7: %d objects, want %d", len(got), len(want))
	}
}

// burstSecond finds a created second shared by at least min objects.
func burstSecond(t *testing.T, hs []head, min int) int64 {
	n := map[int64]int{}
	for _, h := range hs {
		n[h.Created]++
	}
	best := int64(0)
	for sec, k := range n {
		if k >= min && (best == 0 || sec < best) {
			best = sec
		}
	}
	if best == 0 {
		t.Fatalf("no second with %d objects", min)
	}
	return best
}

func TestCreatedWindowsSplitBursts(t *testing.T) {
	s := NewServer(shared, Options{})
	defer s.Close()
	c := newClient(t, s)
	all := heads(t, shared.Charges())
	sec := burstSecond(t, all, 5)
	at := strconv.FormatInt(sec, 10)
	in := func(lo, hi int64) []head { // truth for lo <= created <= hi
		var out []head
		for _, h := range all {
			if h.Created >= lo && h.Created <= hi {
				out = append(out, h)
			}
		}
		return out
	}
	const minT, maxT = -1 << 62, 1 << 62
	for _, tc := range []struct {
		q      url.Values
		lo, hi int64
	}{
		{url.Values{"created[gte]": {at}}, sec, maxT},
		{url.Values{"created[lt]": {at}}, minT, sec - 1},
		{url.Values{"created[gt]": {at}}, sec + 1, maxT},
		{url.Values{"created[lte]": {at}}, minT, sec},
		{url.Values{"created": {at}}, sec, sec},
		{url.Values{"created[gte]": {at}, "created[lt]": {strconv.FormatInt(sec+3600, 10)}}, sec, sec + 3599},
	} {
		for _, limit := range []string{"100", "2"} { // 2: page boundaries inside the burst
			q := cloneValues(tc.q)
			q.Set("limit", limit)
			got := c.pageAll("/v1/charges", q)
			if want := in(tc.lo, tc.hi); !slices.Equal(got, want) {
				t.Errorf("%s: %d objects, want %d", q.Encode(), len(got), len(want))
			}
		}
	}
	// Two windows that meet inside the burst second's neighbours partition the list.
	a := c.pageAll("/v1/charges", url.Values{"limit": {"100"}, "created[gte]": {at}})
	b := c.pageAll("/v1/charges", url.Values{"limit": {"100"}, "created[lt]": {at}})
	if !slices.Equal(append(a, b...), all) {
		t.Error("created[gte] and created[lt] at one second do not partition the list")
	}
	// Bad created values are Stripe 400s naming the parameter.
	for _, q := range []url.Values{{"created[gte]": {"abc"}}, {"created": {"1.5"}}, {"created[foo]": {"1"}}} {
		code, body := c.get("/v1/charges", q)
		if code != 400 || errorOf(t, body).Param != "created" {
			t.Errorf("%s: %d %s", q.Encode(), code, body)
		}
	}
}

func TestEndingBefore(t *testing.T) {
	s := NewServer(shared, Options{})
	defer s.Close()
	c := newClient(t, s)
	all := heads(t, shared.Customers())
	l := c.list("/v1/customers", url.Values{"limit": {"5"}, "ending_before": {all[12].ID}})
	if got := heads(t, l.Data); !slices.Equal(got, all[7:12]) || !l.HasMore {
		t.Fatalf("ending_before the 13th: got %v has_more %v, want objects 8..12 and has_more", got, l.HasMore)
	}
	l = c.list("/v1/customers", url.Values{"limit": {"5"}, "ending_before": {all[3].ID}})
	if got := heads(t, l.Data); !slices.Equal(got, all[:3]) || l.HasMore {
		t.Fatalf("ending_before the 4th: got %v has_more %v", got, l.HasMore)
	}
	// Page backwards from the oldest object to the newest.
	last := all[len(all)-1]
	back := []head{last}
	for cursor := last.ID; ; {
		l := c.list("/v1/customers", url.Values{"limit": {"100"}, "ending_before": {cursor}})
		back = append(heads(t, l.Data), back...)
		if !l.HasMore {
			break
		}
		cursor = headOf(t, l.Data[0]).ID
	}
	if !slices.Equal(back, all) {
		t.Errorf("paging backwards saw %d objects, want %d", len(back), len(all))
	}
	code, body := c.get("/v1/customers", url.Values{"starting_after": {all[0].ID}, "ending_before": {all[2].ID}})
	if code != 400 {
		t.Errorf("both cursors: %d %s", code, body)
	}
}

func TestFiltersApplyBeforeCursor(t *testing.T) {
	s := NewServer(shared, Options{})
	defer s.Close()
	c := newClient(t, s)
	var invoices []map[string]any
	for _, raw := range shared.Invoices() {
		invoices = append(invoices, decode(t, raw))
	}
	var paid []string
	for _, m := range invoices {
		if m["status"] == "paid" {
			paid = append(paid, m["id"].(string))
		}
	}
	ids := func(hs []head) []string {
		var out []string
		for _, h := range hs {
			out = append(out, h.ID)
		}
		return out
	}
	if got := ids(c.pageAll("/v1/invoices", url.Values{"status": {"paid"}, "limit": {"100"}})); !slices.Equal(got, paid) {
		t.Fatalf("status=paid: %d invoices, want %d", len(got), len(paid))
	}
	// A cursor that does not match the filter still marks a position.
	for i, m := range invoices {
		if m["status"] == "void" {
			l := c.list("/v1/invoices", url.Values{"status": {"paid"}, "limit": {"3"}, "starting_after": {m["id"].(string)}})
			var want []string
			for _, n := range invoices[i+1:] {
				if n["status"] == "paid" && len(want) < 3 {
					want = append(want, n["id"].(string))
				}
			}
			if got := ids(heads(t, l.Data)); !slices.Equal(got, want) {
				t.Fatalf("paid after void %v: got %v, want %v", m["id"], got, want)
			}
			break
		}
	}
	// customer on invoices and charges, charge on refunds.
	cust := invoices[0]["customer"].(string)
	for _, h := range c.pageAll("/v1/invoices", url.Values{"customer": {cust}}) {
		if decode(t, shared.get(t, "invoice", h.ID))["customer"] != cust {
			t.Fatalf("customer filter returned %s", h.ID)
		}
	}
	ref := decode(t, shared.Refunds()[0])
	got := c.pageAll("/v1/refunds", url.Values{"charge": {ref["charge"].(string)}})
	if len(got) == 0 || !slices.Contains(ids(got), ref["id"].(string)) {
		t.Errorf("charge filter: %v", got)
	}
	if code, body := c.get("/v1/invoices", url.Values{"status": {"bogus"}}); code != 400 || errorOf(t, body).Param != "status" {
		t.Errorf("bad status: %d %s", code, body)
	}
}

// get returns the truth form of one object, for tests.
func (d *Data) get(t *testing.T, kind, id string) []byte {
	d.rlock()
	defer d.mu.RUnlock()
	o := d.cols[kind].byID[id]
	if o == nil {
		t.Fatalf("no %s %s", kind, id)
	}
	return o.appendJSON(nil, -1)
}

func TestConcurrentPagingWhileWriting(t *testing.T) {
	d := Generate(tmpl, Dataset{Customers: 50, Invoices: 100, Charges: 1500, Refunds: 50, Seed: 3})
	s := NewServer(d, Options{})
	defer s.Close()
	want := heads(t, d.Charges())
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(t, s)
			got := c.pageAll("/v1/charges", url.Values{"limit": {strconv.Itoa(50 + i)}})
			if !slices.Equal(got, want) {
				errs <- fmt.Errorf("client %d saw %d charges, want %d", i, len(got), len(want))
			}
		}()
	}
	// Meanwhile customers are added: readers of another list are unaffected.
	for i := range 200 {
		d.Put("customer", json.RawMessage(fmt.Sprintf(`{"id":"cus_new%04d","object":"customer","created":%d}`, i, 1700000000+i)))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := d.Counts()["customers"]; n != 250 {
		t.Errorf("%d customers after 200 puts, want 250", n)
	}
}
