package stripemock

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestRecorder(t *testing.T) {
	// upstream, a Recorder in front of stripe-mock, sees what r passes on.
	upstream, err := StartRecorder(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(upstream.Close)
	r, err := NewRecorder(upstream.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	send := func(method, path, key string, form url.Values) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, r.URL+path, strings.NewReader(form.Encode()))
		req.SetBasicAuth("sk_test_123", "")
		req.Header.Set("Stripe-Version", "2023-10-16")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}

	// Through to stripe-mock, recorded.
	res, body := send(http.MethodPost, "/v1/customers", "key-1", url.Values{"email": {"grace@example.com"}})
	if res.StatusCode != 200 || !strings.Contains(body, `"object":"customer"`) {
		t.Fatalf("through the recorder: %d %s", res.StatusCode, body)
	}
	if res, body := send(http.MethodGet, "/v1/customers/cus_1", "", nil); res.StatusCode != 200 {
		t.Fatalf("GET: %d %s", res.StatusCode, body)
	}
	got := r.Requests()
	if len(got) != 2 || got[0].Method != "POST" || got[0].Path != "/v1/customers" || got[0].IdempotencyKey != "key-1" ||
		got[0].Form.Get("email") != "grace@example.com" || got[1].Method != "GET" || got[1].Path != "/v1/customers/cus_1" {
		t.Fatalf("recorded %+v", got)
	}
	for pattern, want := range map[string]int{
		"POST /v1/customers": 1, "GET /v1/customers": 0, "/v1/customers*": 2, "GET /v1/customers*": 1,
		"*/cus_1": 1, "POST *": 1, "*": 2, "DELETE *": 0,
	} {
		if n := len(r.Calls(pattern)); n != want {
			t.Errorf("Calls(%q): %d, want %d", pattern, n, want)
		}
	}

	// A refusal answers without reaching stripe-mock: stripe-mock would
	// answer this one 200. The request is still recorded.
	r.Refuse("POST /v1/customers/*", 402, `{"error":{"type":"card_error","code":"card_declined","message":"Declined."}}`)
	res, body = send(http.MethodPost, "/v1/customers/cus_1", "key-2", url.Values{"name": {"Grace"}})
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	if res.StatusCode != 402 || res.Header.Get("Request-Id") != RefusalRequestID || json.Unmarshal([]byte(body), &e) != nil ||
		e.Error.Code != "card_declined" {
		t.Fatalf("refused: %d %q %s", res.StatusCode, res.Header.Get("Request-Id"), body)
	}
	if res, _ := send(http.MethodPost, "/v1/customers", "", nil); res.StatusCode != 200 {
		t.Errorf("a path the refusal does not match: %d", res.StatusCode)
	}
	r.Refuse("*/cus_1", 500, "")
	if res, body := send(http.MethodPost, "/v1/customers/cus_1", "", nil); res.StatusCode != 500 || !strings.Contains(body, `"api_error"`) {
		t.Errorf("the last refusal set, with the default body: %d %s", res.StatusCode, body)
	}
	r.Refuse("*/cus_1", 0, "")
	r.Refuse("POST /v1/customers/*", 0, "")
	if res, body := send(http.MethodPost, "/v1/customers/cus_1", "", nil); res.StatusCode != 200 || res.Header.Get("Request-Id") == RefusalRequestID {
		t.Errorf("after removing the refusals: %d %s", res.StatusCode, body)
	}
	if n := len(r.Calls("POST /v1/customers/cus_1")); n != 3 {
		t.Errorf("%d calls recorded, want 3, refused ones too", n)
	}
	if calls := upstream.Calls("POST /v1/customers/cus_1"); len(calls) != 1 || calls[0].IdempotencyKey != "" {
		t.Errorf("upstream got %+v, want only the request after the refusals were removed", calls)
	}
	if n := len(upstream.Calls("POST /v1/customers")); n != 2 {
		t.Errorf("upstream got %d creations, want 2", n)
	}

	// A delay delays the matching requests only.
	r.Delay("/v1/customers*", 300*time.Millisecond)
	start := time.Now()
	send(http.MethodGet, "/v1/customers/cus_1", "", nil)
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("a delayed request took %v", d)
	}
	start = time.Now()
	send(http.MethodGet, "/v1/charges/ch_1", "", nil)
	if d := time.Since(start); d >= 300*time.Millisecond {
		t.Errorf("a request the delay does not match took %v", d)
	}
	r.Delay("/v1/customers*", 0)
	start = time.Now()
	send(http.MethodGet, "/v1/customers/cus_1", "", nil)
	if d := time.Since(start); d >= 300*time.Millisecond {
		t.Errorf("after removing the delay: %v", d)
	}

	// Reset forgets the requests and the rules.
	r.Refuse("*", 400, "")
	r.Reset()
	if n := len(r.Requests()); n != 0 {
		t.Errorf("%d requests after Reset", n)
	}
	if res, _ := send(http.MethodGet, "/v1/customers/cus_1", "", nil); res.StatusCode != 200 {
		t.Errorf("a refusal survived Reset: %d", res.StatusCode)
	}
}

func TestRecorderPatterns(t *testing.T) {
	for _, bad := range []string{"", "v1/customers", "post /v1/customers", "POST /v1/*/pay", "*a*", "POST"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("pattern %q was accepted", bad)
				}
			}()
			compile(bad)
		}()
	}
	if _, err := NewRecorder("not a url"); err == nil {
		t.Error("NewRecorder accepted an upstream that is no URL")
	}
}
