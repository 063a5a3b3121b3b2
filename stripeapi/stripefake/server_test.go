package stripefake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type errBody struct {
	Type, Code, Param, Message string
}

func errorOf(t *testing.T, body []byte) errBody {
	t.Helper()
	var e struct{ Error errBody }
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Type == "" {
		t.Fatalf("not a Stripe error: %s", body)
	}
	return e.Error
}

// invoiceWithLines builds an invoice with n lines cloned from the template.
func invoiceWithLines(t *testing.T, id string, n int) json.RawMessage {
	inv := decode(t, tmpl.Invoice)
	var lines []any
	for i := range n {
		l := decode(t, tmpl.InvoiceLine)
		l["id"], l["invoice"] = fmt.Sprintf("il_test%02d", i), id
		lines = append(lines, l)
	}
	inv["id"], inv["created"] = id, 1700000000
	lm := inv["lines"].(map[string]any)
	lm["data"], lm["url"] = lines, "/v1/invoices/"+id+"/lines"
	b, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInvoiceLines(t *testing.T) {
	d := NewData()
	d.Put("invoice", invoiceWithLines(t, "in_thirty", 30))
	s := NewServer(d, Options{})
	defer s.Close()
	c := newClient(t, s)

	// Gets and lists embed the first 10 lines and say there are more.
	code, body := c.get("/v1/invoices/in_thirty", nil)
	if code != 200 {
		t.Fatalf("get: %d %s", code, body)
	}
	for _, raw := range []json.RawMessage{body, c.list("/v1/invoices", nil).Data[0]} {
		lines := decode(t, raw)["lines"].(map[string]any)
		data := lines["data"].([]any)
		if len(data) != 10 || lines["has_more"] != true || data[0].(map[string]any)["id"] != "il_test00" {
			t.Fatalf("embedded lines: %d, has_more %v", len(data), lines["has_more"])
		}
		if _, ok := lines["total_count"]; ok != strings.Contains(string(tmpl.Invoice), `"total_count"`) {
			t.Errorf("lines keys differ from the template's")
		}
	}
	// The truth has all 30.
	if n := len(decode(t, d.Invoices()[0])["lines"].(map[string]any)["data"].([]any)); n != 30 {
		t.Errorf("truth has %d lines", n)
	}
	if n := d.Counts()["invoice_lines"]; n != 30 {
		t.Errorf("invoice_lines = %d", n)
	}

	// The lines list pages first line first.
	var ids []string
	q := url.Values{"limit": {"7"}}
	for {
		l := c.list("/v1/invoices/in_thirty/lines", q)
		if l.URL != "/v1/invoices/in_thirty/lines" {
			t.Fatalf("lines url %q", l.URL)
		}
		for _, raw := range l.Data {
			ids = append(ids, headOf(t, raw).ID)
		}
		if !l.HasMore {
			break
		}
		q.Set("starting_after", ids[len(ids)-1])
	}
	var want []string
	for i := range 30 {
		want = append(want, fmt.Sprintf("il_test%02d", i))
	}
	if !slices.Equal(ids, want) {
		t.Fatalf("lines paged as %v", ids)
	}
	l := c.list("/v1/invoices/in_thirty/lines", url.Values{"limit": {"3"}, "ending_before": {"il_test10"}})
	if got := heads(t, l.Data); len(got) != 3 || got[0].ID != "il_test07" || got[2].ID != "il_test09" || !l.HasMore {
		t.Errorf("ending_before il_test10: %v has_more %v", got, l.HasMore)
	}
	if code, body := c.get("/v1/invoices/in_nope/lines", nil); code != 404 || errorOf(t, body).Code != "resource_missing" {
		t.Errorf("unknown invoice lines: %d %s", code, body)
	}
	if code, body := c.get("/v1/invoices/in_thirty/lines", url.Values{"starting_after": {"il_nope"}}); code != 400 || errorOf(t, body).Param != "starting_after" {
		t.Errorf("unknown line cursor: %d %s", code, body)
	}

	// Putting back the API's truncated view keeps lines 11..30.
	d.Put("invoice", body)
	if n := d.Counts()["invoice_lines"]; n != 30 {
		t.Errorf("after putting the truncated view back: %d lines", n)
	}
}

func TestAuth(t *testing.T) {
	s := NewServer(shared, Options{SecretKey: "sk_test_right"})
	defer s.Close()
	c := newClient(t, s)
	c.key = "sk_test_wrongkey1234"
	code, body := c.get("/v1/customers", nil)
	e := errorOf(t, body)
	if code != 401 || e.Type != "invalid_request_error" || !strings.HasPrefix(e.Message, "Invalid API Key provided: sk_test_****1234") {
		t.Errorf("wrong key: %d %s", code, body)
	}
	if strings.Contains(string(body), "wrongkey") {
		t.Error("the error echoes the whole key")
	}
	c.key = ""
	if code, _ := c.get("/v1/customers", nil); code != 401 {
		t.Errorf("no key: %d", code)
	}
	c.key = "sk_test_right"
	if code, body := c.get("/v1/customers", nil); code != 200 {
		t.Errorf("right key: %d %s", code, body)
	}
	// HTTP basic with the key as user name, as older clients send it.
	req, _ := http.NewRequest("GET", s.URL+"/v1/customers/"+headOf(t, shared.Customers()[0]).ID, nil)
	req.SetBasicAuth("sk_test_right", "")
	req.Header.Set("Stripe-Version", APIVersion)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Request-Id") == "" || res.Header.Get("Content-Type") != "application/json" {
		t.Errorf("basic auth: %d, headers %v", res.StatusCode, res.Header)
	}
}

func TestStripeVersion(t *testing.T) {
	s := NewServer(shared, Options{})
	defer s.Close()
	c := newClient(t, s)
	for _, v := range []string{"2020-08-27", ""} {
		c.version = v
		code, body := c.get("/v1/customers", nil)
		if code != 400 || errorOf(t, body).Type != "invalid_request_error" {
			t.Errorf("Stripe-Version %q: %d %s", v, code, body)
		}
	}
}

func TestRateLimitAndLog(t *testing.T) {
	var seen atomic.Int64
	s := NewServer(shared, Options{RateLimit429Every: 3, OnRequest: func(n int64, r *http.Request) {
		seen.Store(n)
	}})
	defer s.Close()
	c := newClient(t, s)
	var codes []int
	for range 7 {
		code, body := c.get("/v1/charges", url.Values{"limit": {"1"}, "created[gte]": {"0"}})
		codes = append(codes, code)
		if code == 429 {
			if e := errorOf(t, body); e.Type != "rate_limit_error" || e.Code != "rate_limit" {
				t.Errorf("429 body %s", body)
			}
		}
	}
	if want := []int{200, 200, 429, 200, 200, 429, 200}; !slices.Equal(codes, want) {
		t.Errorf("codes %v, want %v", codes, want)
	}
	if s.Requests() != 7 || s.Served() != 5 || seen.Load() != 7 {
		t.Errorf("requests %d, served %d, OnRequest saw %d", s.Requests(), s.Served(), seen.Load())
	}
	log := s.Log()
	if len(log) != 7 || log[0] != "GET /v1/charges?created%5Bgte%5D=0&limit=1" {
		t.Errorf("log %q", log)
	}
	s.ResetLog()
	if len(s.Log()) != 0 || s.Requests() != 7 {
		t.Error("ResetLog")
	}
}

func TestLatency(t *testing.T) {
	s := NewServer(NewData(), Options{Latency: 20 * time.Millisecond})
	defer s.Close()
	start := time.Now()
	newClient(t, s).list("/v1/customers", nil)
	// Not a timing assertion on the code under test: the option is the sleep.
	if time.Since(start) < 20*time.Millisecond {
		t.Error("Latency was not applied")
	}
}

func TestErrors(t *testing.T) {
	s := NewServer(shared, Options{})
	defer s.Close()
	c := newClient(t, s)
	for _, limit := range []string{"0", "101", "abc", "-1"} {
		code, body := c.get("/v1/customers", url.Values{"limit": {limit}})
		if code != 400 || errorOf(t, body).Param != "limit" {
			t.Errorf("limit=%s: %d %s", limit, code, body)
		}
	}
	code, body := c.get("/v1/customers", url.Values{"starting_after": {"cus_nope"}})
	if e := errorOf(t, body); code != 400 || e.Code != "resource_missing" || e.Param != "starting_after" {
		t.Errorf("unknown cursor: %d %s", code, body)
	}
	for kind, path := range map[string]string{"customer": "/v1/customers/cus_x", "invoice": "/v1/invoices/in_x",
		"charge": "/v1/charges/ch_x", "refund": "/v1/refunds/re_x", "event": "/v1/events/evt_x"} {
		code, body := c.get(path, nil)
		e := errorOf(t, body)
		id := path[strings.LastIndexByte(path, '/')+1:]
		if code != 404 || e.Code != "resource_missing" || e.Param != "id" || e.Message != "No such "+kind+": '"+id+"'" {
			t.Errorf("%s: %d %s", path, code, body)
		}
	}
	if code, _ := c.get("/v1/nothing", nil); code != 404 {
		t.Errorf("unknown route: %d", code)
	}
	req, _ := http.NewRequest("POST", s.URL+"/v1/customers", strings.NewReader("name=x"))
	req.Header.Set("Authorization", "Bearer sk_test_123")
	req.Header.Set("Stripe-Version", APIVersion)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 405 {
		t.Errorf("POST: %d", res.StatusCode)
	}
	// Gets serve the same bytes as the truth for objects without lines.
	want := shared.Charges()[0]
	code, body = c.get("/v1/charges/"+headOf(t, want).ID, nil)
	if code != 200 || string(body) != string(want) {
		t.Errorf("get charge: %d", code)
	}
}

func TestPutAndEvents(t *testing.T) {
	d := Generate(tmpl, Dataset{Customers: 5, Invoices: 5, Charges: 5, Refunds: 2, Seed: 9})
	s := NewServer(d, Options{})
	defer s.Close()
	c := newClient(t, s)

	// Replace a customer: the next request sees the change.
	cust := decode(t, d.Customers()[0])
	cust["name"] = "Renamed"
	b, _ := json.Marshal(cust)
	d.Put("customer", b)
	code, body := c.get("/v1/customers/"+cust["id"].(string), nil)
	if code != 200 || decode(t, body)["name"] != "Renamed" || d.Counts()["customers"] != 5 {
		t.Fatalf("after Put: %d %s", code, body)
	}

	t0 := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	ev1 := d.AddEvent("customer.updated", b, t0)
	ev2 := d.AddEvent("charge.refunded", d.Charges()[0], t0)
	d.AddEvent("invoice.paid", d.Invoices()[0], t0.Add(time.Second))
	e := decode(t, ev1)
	if e["object"] != "event" || e["api_version"] != APIVersion || e["type"] != "customer.updated" ||
		e["data"].(map[string]any)["object"].(map[string]any)["name"] != "Renamed" || num(t, e["created"]) != t0.Unix() {
		t.Fatalf("event %s", ev1)
	}
	all := c.pageAll("/v1/events", nil)
	if len(all) != 3 || all[0].Created != t0.Unix()+1 {
		t.Fatalf("events %v", all)
	}
	checkOrder(t, "events", all)
	got := c.pageAll("/v1/events", url.Values{"type": {"charge.refunded"}})
	if len(got) != 1 || got[0].ID != decode(t, ev2)["id"] {
		t.Errorf("type filter: %v", got)
	}
	if got := c.pageAll("/v1/events", url.Values{"types[0]": {"charge.refunded"}, "types[1]": {"invoice.*"}}); len(got) != 2 {
		t.Errorf("types filter with a wildcard: %v", got)
	}
	if code, body := c.get("/v1/events/"+e["id"].(string), nil); code != 200 || string(body) != string(ev1) {
		t.Errorf("get event: %d %s", code, body)
	}
	if n := len(d.Events()); n != 3 {
		t.Errorf("%d events", n)
	}
}

func TestPutPanicsOnGarbage(t *testing.T) {
	for _, tc := range []struct{ kind, obj string }{{"customer", "nope"}, {"customer", `{"object":"customer"}`}, {"plan", `{"id":"x"}`}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Put(%q, %s) did not panic", tc.kind, tc.obj)
				}
			}()
			NewData().Put(tc.kind, json.RawMessage(tc.obj))
		}()
	}
}
