package backfill_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"paydesk/store/storetest"
	"paydesk/stripeapi"
	"paydesk/stripeapi/stripefake"
)

// templates are stripe-mock's fixtures at API 2023-10-16; the fake account
// is cloned from them.
var templates stripefake.Templates

func TestMain(m *testing.M) {
	var err error
	templates, err = stripefake.LoadTemplates(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	storetest.Main(m)
}

const fakeKey = "sk_test_fake_backfill"

// account generates a fake Stripe account and serves it.
func account(t testing.TB, d stripefake.Dataset, o stripefake.Options) (*stripefake.Data, *stripefake.Server) {
	t.Helper()
	if d.Start.IsZero() {
		d.Start, d.End = time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	}
	data := stripefake.Generate(templates, d)
	o.SecretKey = fakeKey
	srv := stripefake.NewServer(data, o)
	t.Cleanup(srv.Close)
	return data, srv
}

func client(t testing.TB, url string, rps float64) *stripeapi.Client {
	t.Helper()
	api, err := stripeapi.New(stripeapi.Config{SecretKey: fakeKey, APIBase: url, RequestsPerSecond: rps,
		MaxNetworkRetries: 2, RateLimitRetries: 8, RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return api
}
