package verify_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/store/storetest"
	"paydesk/stripeapi"
	"paydesk/stripeapi/backfill"
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

const fakeKey = "sk_test_fake_verify"

var ctx = context.Background()

// env is a fake Stripe account and a mirror of it made by the backfill.
type env struct {
	t    *testing.T
	data *stripefake.Data
	srv  *stripefake.Server
	api  *stripeapi.Client
	st   *store.Store
}

func newEnv(t *testing.T, d stripefake.Dataset) *env {
	t.Helper()
	data := stripefake.Generate(templates, d)
	srv := stripefake.NewServer(data, stripefake.Options{SecretKey: fakeKey})
	t.Cleanup(srv.Close)
	api, err := stripeapi.New(stripeapi.Config{SecretKey: fakeKey, APIBase: srv.URL, RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.New(t)
	if _, err := backfill.Run(ctx, st, api, backfill.Options{}); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, data: data, srv: srv, api: api, st: st}
}

// exec runs SQL against the mirror: how the tests plant drift.
func (e *env) exec(query string, args ...any) {
	e.t.Helper()
	res, err := e.st.DB().ExecContext(ctx, query, args...)
	if err != nil {
		e.t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		e.t.Fatalf("%s changed %d rows, want 1", query, n)
	}
}

// id picks one id with a query.
func (e *env) id(query string, args ...any) string {
	e.t.Helper()
	var id string
	if err := e.st.DB().GetContext(ctx, &id, query, args...); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	return id
}
