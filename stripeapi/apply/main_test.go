package apply_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/store/storetest"
	"paydesk/stripeapi"
	"paydesk/stripeapi/apply"
	"paydesk/stripeapi/stripefake"
)

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

var ctx = context.Background()

const fakeKey = "sk_test_apply_fake"

// env is a mirror database, a fake Stripe account serving the objects'
// current state, and a worker.
type env struct {
	t    *testing.T
	st   *store.Store
	url  string
	data *stripefake.Data
	srv  *stripefake.Server
	w    *apply.Worker
	seq  int
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
	st, url := storetest.NewWithURL(t)
	return &env{t: t, st: st, url: url, data: data, srv: srv, w: apply.NewWorker(st, api, apply.Options{})}
}

// edit decodes obj, lets change alter it, and encodes it again, keeping
// numbers exact.
func edit(t *testing.T, obj json.RawMessage, change func(m map[string]any)) json.RawMessage {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	change(m)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as Stripe sends it
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(buf.Bytes())
}

// enqueue stores an event of typ carrying obj, created at created, as the
// receiver would.
func (e *env) enqueue(typ string, obj json.RawMessage, created int64, apiVersion string) string {
	e.t.Helper()
	e.seq++
	id := fmt.Sprintf("evt_test_%04d", e.seq)
	var head struct {
		ID     string `json:"id"`
		Object string `json:"object"`
	}
	if err := json.Unmarshal(obj, &head); err != nil {
		e.t.Fatal(err)
	}
	raw, _ := json.Marshal(map[string]any{"id": id, "object": "event", "api_version": apiVersion, "created": created,
		"livemode": false, "type": typ, "data": map[string]any{"object": obj}})
	v := &apiVersion
	if _, err := e.st.EnqueueEvent(ctx, store.Event{ID: id, Type: typ, APIVersion: v, Created: created,
		ObjectType: &head.Object, ObjectID: &head.ID, Data: raw, Source: store.SourceWebhook}); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// drain runs the worker until the queue has nothing due.
func (e *env) drain() {
	e.t.Helper()
	for range 100 {
		n, err := e.w.RunOnce(ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	e.t.Fatal("queue never drained")
}

func (e *env) event(id string) store.Event {
	e.t.Helper()
	ev, err := e.st.Event(ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return ev
}

func (e *env) scalar(dest any, query string, args ...any) {
	e.t.Helper()
	if err := e.st.DB().GetContext(ctx, dest, query, args...); err != nil {
		e.t.Fatal(err)
	}
}
