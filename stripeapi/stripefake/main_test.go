package stripefake

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"paydesk/stripeapi/stripemock"
)

// tmpl holds stripe-mock's fixtures, fetched once for the whole package.
var tmpl Templates

// shared is a mid-sized account, generated once and never changed: tests
// that Put build their own Data.
var shared *Data

var sharedSet = Dataset{
	Customers: 300, Invoices: 1200, Charges: 2500, Refunds: 400, LongInvoices: 25,
	Start: time.Date(2023, 11, 1, 0, 0, 0, 0, time.UTC),
	End:   time.Date(2023, 11, 2, 0, 0, 0, 0, time.UTC), // one day: many shared seconds
	Seed:  42,
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	mock, err := stripemock.Start(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stripefake tests need stripe-mock:", err)
		return 1
	}
	defer mock.Close()
	if tmpl, err = FetchTemplates(ctx, mock.URL); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	shared = Generate(tmpl, sharedSet)
	return m.Run()
}

// client calls a fake Server the way stripe-go does.
type client struct {
	t       testing.TB
	base    string
	key     string
	version string
}

func newClient(t testing.TB, s *Server) *client {
	return &client{t: t, base: s.URL, key: "sk_test_123", version: APIVersion}
}

// get returns the status and raw body of GET path?q.
func (c *client) get(path string, q url.Values) (int, []byte) {
	c.t.Helper()
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if c.version != "" {
		req.Header.Set("Stripe-Version", c.version)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return res.StatusCode, b
}

// listResp is a list page; objects keep their raw bytes.
type listResp struct {
	Object  string            `json:"object"`
	URL     string            `json:"url"`
	HasMore bool              `json:"has_more"`
	Data    []json.RawMessage `json:"data"`
}

// list fetches one page and fails the test unless it is a 200 list.
func (c *client) list(path string, q url.Values) listResp {
	c.t.Helper()
	code, b := c.get(path, q)
	if code != http.StatusOK {
		c.t.Fatalf("GET %s?%s: %d %s", path, q.Encode(), code, b)
	}
	var l listResp
	if err := json.Unmarshal(b, &l); err != nil || l.Object != "list" {
		c.t.Fatalf("GET %s: not a list (%v): %.200s", path, err, b)
	}
	return l
}

// pageAll follows starting_after from the first page to the last.
func (c *client) pageAll(path string, q url.Values) []head {
	c.t.Helper()
	var all []head
	q = cloneValues(q)
	for {
		l := c.list(path, q)
		for _, raw := range l.Data {
			all = append(all, headOf(c.t, raw))
		}
		if !l.HasMore {
			return all
		}
		if len(l.Data) == 0 {
			c.t.Fatalf("%s: has_more with an empty page", path)
		}
		q.Set("starting_after", all[len(all)-1].ID)
	}
}

// head is the part of any object that paging is checked on.
type head struct {
	ID      string `json:"id"`
	Created int64  `json:"created"`
}

func headOf(t testing.TB, raw []byte) head {
	t.Helper()
	var h head
	if err := json.Unmarshal(raw, &h); err != nil || h.ID == "" {
		t.Fatalf("no id in %.200s (%v)", raw, err)
	}
	return h
}

func heads(t testing.TB, raws []json.RawMessage) []head {
	out := make([]head, len(raws))
	for i, r := range raws {
		out[i] = headOf(t, r)
	}
	return out
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// decode reads an object with numbers kept as json.Number.
func decode(t testing.TB, raw []byte) map[string]any {
	t.Helper()
	m, err := decodeMap(raw)
	if err != nil {
		t.Fatalf("decode %.200s: %v", raw, err)
	}
	return m
}

func num(t testing.TB, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%v (%T) is not a number", v, v)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatalf("%v: %v", n, err)
	}
	return i
}
