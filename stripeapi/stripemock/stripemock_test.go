package stripemock

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestStartServesStrictVersion(t *testing.T) {
	m, err := Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	get := func(version string) (int, string) {
		req, _ := http.NewRequest("GET", m.URL+"/v1/customers/cus_1", nil)
		req.SetBasicAuth("sk_test_123", "")
		req.Header.Set("Stripe-Version", version)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("2023-10-16"); code != 200 || !strings.Contains(body, `"object":"customer"`) {
		t.Fatalf("pinned version: %d %s", code, body)
	}
	if code, _ := get("2020-08-27"); code != 400 {
		t.Fatalf("other version: got %d, want 400 from -strict-version-check", code)
	}
}
