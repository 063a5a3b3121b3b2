package stripeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// linesServer serves an invoice's lines il_1..il_total in pages, the way
// Stripe pages with starting_after, and records the queries it got.
func linesServer(t *testing.T, total int) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/invoices/in_big/lines" || r.Method != http.MethodGet {
			http.Error(w, `{"error":{"type":"invalid_request_error","message":"unexpected"}}`, http.StatusBadRequest)
			return
		}
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
		q := r.URL.Query()
		next := 1
		if after := q.Get("starting_after"); after != "" {
			fmt.Sscanf(after, "il_%d", &next)
			next++
		}
		limit := 3 // a small page size so paging is exercised; paydesk asks for 100
		var data []string
		for i := next; i <= total && len(data) < limit; i++ {
			data = append(data, fmt.Sprintf(`{"id":"il_%d","object":"line_item","amount":%d,"currency":"usd"}`, i, i*100))
		}
		hasMore := next+len(data) <= total
		fmt.Fprintf(w, `{"object":"list","url":"/v1/invoices/in_big/lines","has_more":%t,"data":[%s]}`, hasMore, strings.Join(data, ","))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), queries...)
	}
}

func TestCompleteLinesPagesThroughAll(t *testing.T) {
	srv, queries := linesServer(t, 8)
	c := newClient(t, srv.URL)
	raw := json.RawMessage(`{"id":"in_big","object":"invoice","currency":"usd","created":1,"lines":{"object":"list","has_more":true,"total_count":8,"data":[
		{"id":"il_1","object":"line_item","amount":100,"currency":"usd"},{"id":"il_2","object":"line_item","amount":200,"currency":"usd"}]}}`)
	inv, err := InvoiceRecord(raw, false, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Invoices.CompleteLines(context.Background(), &inv); err != nil {
		t.Fatal(err)
	}
	if len(inv.Lines) != 8 || inv.LinesTotalCount != 8 {
		t.Fatalf("%d lines, total %d", len(inv.Lines), inv.LinesTotalCount)
	}
	for i, line := range inv.Lines {
		if line.Position != i || line.ID != fmt.Sprintf("il_%d", i+1) || line.Invoice != "in_big" || line.Amount != int64(i+1)*100 {
			t.Errorf("line %d: %+v", i, line)
		}
	}
	want := []string{"limit=100&starting_after=il_2", "limit=100&starting_after=il_5"}
	if got := queries(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("queries %q, want %q", got, want)
	}
	if s := c.Stats(); s.Calls != 2 {
		t.Errorf("stats %+v, want one call per page", s)
	}

	// Again: it resumes after the last line and finds nothing more.
	if err := c.Invoices.CompleteLines(context.Background(), &inv); err != nil || len(inv.Lines) != 8 {
		t.Errorf("second run: %d lines, %v", len(inv.Lines), err)
	}
}

func TestListQueryAndVersion(t *testing.T) {
	var query string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		w.Write([]byte(`{"object":"list","has_more":true,"data":[{"id":"ch_2","object":"charge","amount":1,"currency":"usd","status":"succeeded","created":5},{"id":"ch_1","object":"charge","amount":2,"currency":"usd","status":"failed","created":4}]}`))
	}))
	defer srv.Close()
	c := newClient(t, srv.URL)
	before := time.Now().Unix()
	page, err := c.Charges.List(context.Background(), ListParams{Limit: 2, StartingAfter: "ch_3", CreatedGTE: 100, CreatedLT: 200})
	after := time.Now().Unix()
	if err != nil {
		t.Fatal(err)
	}
	if want := "limit=2&starting_after=ch_3&created[gte]=100&created[lt]=200"; query != want {
		t.Errorf("query %q, want %q", query, want)
	}
	if !page.HasMore || page.LastID != "ch_1" || len(page.Data) != 2 {
		t.Fatalf("page %+v", page)
	}
	for _, row := range page.Data {
		if row.Version < before || row.Version > after {
			t.Errorf("version %d outside [%d, %d]", row.Version, before, after)
		}
	}
}
