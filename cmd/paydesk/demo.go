package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"paydesk/store"
	"paydesk/store/pgcluster"
	"paydesk/stripeapi"
	"paydesk/stripeapi/stripefake"
	"paydesk/stripeapi/stripemock"
)

const demoUsage = `demo [--data DIR] [--addr HOST:PORT]

Runs paydesk with nothing to set up, for a first look (make run):

  - with DATABASE_URL unset, starts a private PostgreSQL cluster in
    DIR/postgres (initialised on the first run, reused after), else uses
    DATABASE_URL;
  - migrates;
  - with no Stripe key set, starts stripe-mock, a test double of Stripe's
    API, and points paydesk at it; with STRIPE_TEST_SECRET_KEY (or
    STRIPE_LIVE_MODE=true and STRIPE_LIVE_SECRET_KEY) set, uses Stripe;
  - with stripe-mock, loads a made-up account (500 customers, 1,500
    invoices, 4,000 charges, 400 refunds over the last 13 months) by
    sending signed events to paydesk's own webhook route, unless the
    mirror already holds data; with a key, copies the account with
    paydesk sync when the mirror is empty (made-up data never goes into
    a real account's mirror);
  - makes sure admin@paydesk.demo exists, gives it a new password and
    prints it, then serves like paydesk serve (PAYDESK_ADDR or --addr,
    default :8080).

Ctrl-C (SIGINT) or SIGTERM stops the server, stripe-mock and the cluster it
started. Delete DIR to start over.`

const (
	demoAdminEmail = "admin@paydesk.demo"
	// demoSeed fixes the made-up account: the same objects, with the same
	// ids, on every run (a load cut short is completed by the next run).
	demoSeed = 7
	// demoAmountCap drops the generator's deliberate outliers (amounts
	// past 2^31 and one of 2^53+1, there to test exactness), which would
	// dwarf every other figure of a demo.
	demoAmountCap = 100_000_000
	// demoSenders is how many deliveries are in flight at once.
	demoSenders = 8
	// demoLastEvent is the id of the load's last event, sent once every
	// other is stored: the mark of a complete load.
	demoLastEvent  = "evt_demo_last"
	demoFirstEvent = "evt_demo_00001"
)

// demoDataset sizes the made-up account.
var demoDataset = stripefake.Dataset{Customers: 500, Invoices: 1500, Charges: 4000, Refunds: 400}

// demoMockNotice is the banner on every page while Stripe is stripe-mock.
const demoMockNotice = "Demo: Stripe calls go to stripe-mock, a test double; nothing reaches Stripe."

func runDemo(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "demo", demoUsage)
	dataFlag := fs.String("data", ".paydesk-demo", "the demo's folder: PostgreSQL's data, its log and the session key")
	addr := fs.String("addr", "", "listen address, host:port or :port (default PAYDESK_ADDR, else :8080)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *addr != "" {
		if _, port, err := net.SplitHostPort(*addr); err != nil || port == "" {
			return usageError("--addr: want host:port or :port, got %q", *addr)
		}
	}
	if strings.TrimSpace(*dataFlag) == "" {
		return usageError("--data: want a folder")
	}
	// What the environment sets is checked before anything starts.
	user, err := loadEnvConfig(env)
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(*dataFlag)
	if err != nil {
		return fmt.Errorf("--data: %w", err)
	}
	// 0755: when paydesk runs as root, PostgreSQL runs as the postgres
	// user and must reach DIR/postgres. The session key inside is 0600.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create the data folder: %w", err)
	}
	unlock, err := lockDemoDir(dir)
	if err != nil {
		return err
	}
	defer unlock()

	d := &demo{env: env, dir: dir, out: env.stdout}
	overrides := map[string]string{}
	if user.DatabaseURL == "" {
		pgDir := filepath.Join(dir, "postgres")
		if _, err := os.Stat(filepath.Join(pgDir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(env.stdout, "Creating a PostgreSQL cluster in %s\n", pgDir)
		} else {
			fmt.Fprintf(env.stdout, "Starting the PostgreSQL cluster in %s\n", pgDir)
		}
		// TakeOver: the lock says no other demo owns the folder, so a
		// server running there was left by one that was killed.
		cluster, err := pgcluster.Start(ctx, pgcluster.Options{Dir: pgDir, Durable: true, TakeOver: true,
			Log: filepath.Join(dir, "postgres.log")})
		if err != nil {
			return fmt.Errorf("start PostgreSQL (its log: %s): %w", filepath.Join(dir, "postgres.log"), err)
		}
		defer func() {
			env.log.Info("paydesk demo: stopping PostgreSQL")
			if err := cluster.Stop(); err != nil {
				env.log.Error("paydesk demo: stopping PostgreSQL failed", "err", err)
			}
		}()
		d.ownCluster = true
		overrides["DATABASE_URL"] = cluster.URL("postgres")
		overrides["DATABASE_URL_FILE"] = ""
	} else {
		fmt.Fprintln(env.stdout, "Using the database named by DATABASE_URL")
	}

	notice := "Demo: Stripe calls go to the Stripe account whose key you set."
	if key, _ := user.stripeKey(); key == "" {
		fmt.Fprintln(env.stdout, "Starting stripe-mock "+stripemock.Version+" as the Stripe API (the first run builds it)")
		mock, err := stripemock.Start(ctx)
		if err != nil {
			return fmt.Errorf("start stripe-mock: %w", err)
		}
		defer func() {
			env.log.Info("paydesk demo: stopping stripe-mock")
			mock.Close()
		}()
		d.mockURL = mock.URL
		notice = demoMockNotice
		// A made-up key of the right shape: stripe-mock accepts any.
		overrides["STRIPE_TEST_SECRET_KEY"] = "sk_test_paydesk_demo_stripe_mock"
		overrides["STRIPE_TEST_SECRET_KEY_FILE"] = ""
		overrides["STRIPE_API_BASE"] = mock.URL
	} else {
		fmt.Fprintln(env.stdout, "Using Stripe with the key you set (no stripe-mock)")
	}
	if user.SessionSecret == "" {
		key, err := demoSessionKey(dir)
		if err != nil {
			return err
		}
		overrides["SESSION_SECRET"] = key
		overrides["SESSION_SECRET_FILE"] = ""
	}
	// The demo signs its own deliveries with a secret made for this run;
	// secrets set in the environment (stripe listen's) keep working.
	d.webhookSecret = "whsec_demo_" + randomHex(24)
	secrets := []string{d.webhookSecret}
	for _, s := range user.WebhookSecrets {
		secrets = append(secrets, string(s))
	}
	overrides["STRIPE_WEBHOOK_SECRET"] = strings.Join(secrets, ",")
	overrides["STRIPE_WEBHOOK_SECRET_FILE"] = ""

	getenv := func(name string) string {
		if v, ok := overrides[name]; ok {
			return v
		}
		return env.getenv(name)
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return &exitError{2, fmt.Errorf("configuration: %w", err)}
	}
	if *addr != "" {
		cfg.Addr = *addr
	}
	d.syncEnv = &environment{getenv: getenv, stdout: env.stdout, stderr: env.stderr, log: env.log}

	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	applied, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) > 0 {
		fmt.Fprintf(env.stdout, "Applied migrations %v\n", applied)
	}
	d.st, d.livemode = st, cfg.LiveMode

	// The server starts first: the data goes in through its webhook
	// route. The sign-in is printed once the data is in.
	serveCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var prepErr error
	ready := func(a net.Addr) {
		wg.Go(func() {
			if err := d.prepare(serveCtx, a); err != nil {
				prepErr = err
				cancel()
			}
		})
	}
	err = serve(serveCtx, env, cfg, serveOptions{workers: 2, stripeRate: -1, demoNotice: notice, ready: ready})
	cancel()
	wg.Wait()
	switch {
	case err != nil:
		return err
	case ctx.Err() != nil:
		// Ctrl-C: whatever prepare was doing was cut short on purpose.
		return nil
	case prepErr != nil:
		return prepErr
	}
	return nil
}

// demo is one run of paydesk demo.
type demo struct {
	env           *environment
	dir           string
	out           io.Writer
	st            *store.Store
	mockURL       string // "" when Stripe itself is used
	webhookSecret string
	livemode      bool
	ownCluster    bool         // the demo started PostgreSQL in dir
	syncEnv       *environment // the demo's settings, for paydesk sync
}

// prepare loads the made-up account (with stripe-mock only), resets the
// admin's password and prints the sign-in.
func (d *demo) prepare(ctx context.Context, addr net.Addr) error {
	base := "http://" + addr.String()
	if d.mockURL != "" {
		if err := d.load(ctx, base); err != nil {
			return fmt.Errorf("load the demo data: %w", err)
		}
	} else if err := d.copyAccount(ctx); err != nil {
		return fmt.Errorf("copy the Stripe account: %w", err)
	}
	password, err := d.resetAdmin(ctx)
	if err != nil {
		return fmt.Errorf("create the demo admin: %w", err)
	}
	stripe := "stripe-mock (a test double; nothing reaches Stripe)"
	if d.mockURL == "" {
		stripe = "Stripe, with the key you set"
	}
	data := d.dir + " (delete it to start over)"
	if !d.ownCluster {
		data = "the database named by DATABASE_URL (" + d.dir + " keeps the session key)"
	}
	fmt.Fprintf(d.out, `
paydesk demo is ready.

  Open      %s
  Email     %s
  Password  %s
            (a new one on every run)

  Data      %s
  Stripe    %s

Press Ctrl-C to stop.
`, browserURL(addr), demoAdminEmail, password, data, stripe)
	return nil
}

// copyAccount copies the Stripe account into the mirror with paydesk sync
// when the mirror is empty or a sync did not finish (it resumes). Made-up
// data never goes into the mirror of a real account.
func (d *demo) copyAccount(ctx context.Context) error {
	_, err := d.st.RunningSync(ctx, d.livemode)
	switch {
	case errors.Is(err, store.ErrNotFound):
		rows, err := d.st.RecentActivity(ctx, 1)
		if err != nil {
			return err
		}
		if len(rows) > 0 {
			fmt.Fprintln(d.out, "The mirror already holds data: events sent to /webhooks/stripe keep it current (paydesk sync --events catches up)")
			return nil
		}
	case err != nil:
		return err
	}
	fmt.Fprintln(d.out, "Copying the Stripe account into the mirror (paydesk sync)")
	return runSync(ctx, d.syncEnv, nil)
}

// browserURL is the address to open: a wildcard listen address becomes
// localhost.
func browserURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// resetAdmin makes sure demoAdminEmail is an enabled admin with a new
// password, and returns the password. Changing a password ends the
// account's sessions, so a restart signs that account out.
func (d *demo) resetAdmin(ctx context.Context) (string, error) {
	password := store.GeneratePassword()
	hash, err := store.HashPassword(password)
	if err != nil {
		return "", err
	}
	err = d.st.InTx(ctx, func(tx *store.Store) error {
		u, err := tx.UserByEmail(ctx, demoAdminEmail)
		if errors.Is(err, store.ErrNotFound) {
			if u, err = tx.AddUser(ctx, demoAdminEmail, "Demo admin", store.RoleAdmin, hash); err != nil {
				return err
			}
			return tx.RecordAudit(ctx, store.AuditEntry{Actor: cliActor, Action: "user.add", Target: userTarget(u.ID),
				Outcome: store.AuditOK, Params: map[string]any{"email": u.Email, "role": u.Role, "by": "paydesk demo"}})
		}
		if err != nil {
			return err
		}
		if _, err := tx.SetUserPassword(ctx, u.ID, hash); err != nil {
			return err
		}
		if u.Role != store.RoleAdmin {
			if _, err := tx.SetUserRole(ctx, u.ID, store.RoleAdmin); err != nil {
				return err
			}
		}
		if u.Disabled {
			if _, err := tx.SetUserDisabled(ctx, u.ID, false); err != nil {
				return err
			}
		}
		return tx.RecordAudit(ctx, store.AuditEntry{Actor: cliActor, Action: "user.reset_password", Target: userTarget(u.ID),
			Outcome: store.AuditOK, Params: map[string]any{"email": u.Email, "by": "paydesk demo"}})
	})
	return password, err
}

// load sends the made-up account to the webhook route at base as signed
// events, then waits until the workers have applied them. It does nothing
// when the mirror holds data of its own, or when an earlier run loaded
// it all; a load cut short is completed (deliveries already stored are
// acknowledged as duplicates).
func (d *demo) load(ctx context.Context, base string) error {
	switch _, err := d.st.Event(ctx, demoLastEvent); {
	case err == nil:
		fmt.Fprintln(d.out, "The demo data is already loaded")
		return nil
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	switch _, err := d.st.Event(ctx, demoFirstEvent); {
	case errors.Is(err, store.ErrNotFound):
		rows, err := d.st.RecentActivity(ctx, 1)
		if err != nil {
			return err
		}
		if len(rows) > 0 {
			fmt.Fprintln(d.out, "The mirror already holds data: not loading the made-up account")
			return nil
		}
	case err != nil:
		return err
	default:
		fmt.Fprintln(d.out, "Completing a load an earlier run did not finish")
	}

	events, err := d.events(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	fmt.Fprintf(d.out, "Loading %d customers, %d invoices, %d charges and %d refunds through the webhook route\n",
		count(events, "customers"), count(events, "invoices"), count(events, "charges"), count(events, "refunds"))
	// The last event goes alone after every other is stored: once it is,
	// the whole load is.
	if err := d.send(ctx, base+"/webhooks/stripe", events[:len(events)-1]); err != nil {
		return err
	}
	if err := d.send(ctx, base+"/webhooks/stripe", events[len(events)-1:]); err != nil {
		return err
	}
	sent := time.Since(start)
	if err := d.waitApplied(ctx); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "Loaded %d events in %s (sent in %s, then applied by the workers)\n",
		len(events), time.Since(start).Round(100*time.Millisecond), sent.Round(100*time.Millisecond))
	return nil
}

// demoEvent is one delivery of the load.
type demoEvent struct {
	id, table string
	body      []byte
}

func count(events []demoEvent, table string) int {
	n := 0
	for _, e := range events {
		if e.table == table {
			n++
		}
	}
	return n
}

// events builds the made-up account from stripe-mock's own objects (so
// the shapes are Stripe's) and wraps each object in the event Stripe would
// send when it reached that state. Created times span the last 13 months,
// up to the start of this hour, so a run in the same hour rebuilds exactly
// the same events.
func (d *demo) events(ctx context.Context) ([]demoEvent, error) {
	templates, err := stripefake.FetchTemplates(ctx, d.mockURL)
	if err != nil {
		return nil, err
	}
	ds := demoDataset
	ds.End = time.Now().UTC().Truncate(time.Hour)
	ds.Start = ds.End.AddDate(0, -13, 0)
	ds.Seed = demoSeed
	data := stripefake.Generate(templates, ds)

	type head struct {
		ID       string `json:"id"`
		Created  int64  `json:"created"`
		Status   string `json:"status"`
		Amount   int64  `json:"amount"`
		Total    int64  `json:"total"`
		Charge   string `json:"charge"`
		table    string
		typ      string
		raw      json.RawMessage
		excluded bool
	}
	var objects []*head
	dropped := map[string]bool{} // charges left out
	add := func(table string, raws []json.RawMessage, typ func(h *head) string) error {
		for _, raw := range raws {
			h := &head{table: table, raw: raw}
			if err := json.Unmarshal(raw, h); err != nil {
				return fmt.Errorf("generated %s: %w", table, err)
			}
			switch table {
			case "charges":
				h.excluded = h.Amount > demoAmountCap
				dropped[h.ID] = h.excluded
			case "invoices":
				h.excluded = h.Total > demoAmountCap
			case "refunds":
				h.excluded = dropped[h.Charge]
			}
			if !h.excluded {
				h.typ = typ(h)
				objects = append(objects, h)
			}
		}
		return nil
	}
	byStatus := func(prefix string, types map[string]string, other string) func(h *head) string {
		return func(h *head) string { return prefix + cmp.Or(types[h.Status], other) }
	}
	steps := []struct {
		table string
		raws  []json.RawMessage
		typ   func(h *head) string
	}{
		{"customers", data.Customers(), func(*head) string { return "customer.created" }},
		{"invoices", data.Invoices(), byStatus("invoice.", map[string]string{"draft": "created", "open": "finalized",
			"paid": "paid", "void": "voided", "uncollectible": "marked_uncollectible"}, "updated")},
		{"charges", data.Charges(), byStatus("charge.", map[string]string{"succeeded": "succeeded", "failed": "failed",
			"pending": "pending"}, "updated")},
		{"refunds", data.Refunds(), func(*head) string { return "refund.created" }},
	}
	for _, s := range steps {
		if err := add(s.table, s.raws, s.typ); err != nil {
			return nil, err
		}
	}
	// Oldest first, as Stripe would have sent them.
	slices.SortStableFunc(objects, func(a, b *head) int { return cmp.Compare(a.Created, b.Created) })
	out := make([]demoEvent, len(objects))
	for i, h := range objects {
		id := fmt.Sprintf("evt_demo_%05d", i+1)
		if i == len(objects)-1 {
			// The load's completion mark, whatever the count.
			id = demoLastEvent
		}
		body, err := json.Marshal(map[string]any{
			"id": id, "object": "event", "api_version": stripeapi.APIVersion, "created": h.Created,
			"data": map[string]any{"object": h.raw}, "livemode": false, "pending_webhooks": 1,
			"request": map[string]any{"id": nil, "idempotency_key": nil}, "type": h.typ,
		})
		if err != nil {
			return nil, err
		}
		out[i] = demoEvent{id: id, table: h.table, body: body}
	}
	if len(out) == 0 {
		return nil, errors.New("the generator made no objects")
	}
	return out, nil
}

// send delivers events to url with demoSenders at once, each signed as
// Stripe signs, and fails on the first delivery refused after retries.
func (d *demo) send(ctx context.Context, url string, events []demoEvent) error {
	client := &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: demoSenders, MaxConnsPerHost: demoSenders}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(demoSenders, len(events)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(events) {
					return
				}
				if err := d.deliver(ctx, client, url, events[i]); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// deliver posts one event, retrying a few times as Stripe would when the
// answer is not 2xx.
func (d *demo) deliver(ctx context.Context, client *http.Client, url string, e demoEvent) error {
	var last error
	for attempt := range 5 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			}
		}
		// A stop lets the delivery in hand finish (the server drains it)
		// rather than cutting it off half-way; no new one starts.
		req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, url, bytes.NewReader(e.body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Stripe-Signature", stripeapi.SignWebhook(e.body, d.webhookSecret, time.Now()))
		resp, err := client.Do(req)
		if err != nil {
			last = err
			continue
		}
		answer, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			return nil
		}
		last = fmt.Errorf("%s: %s %s", e.id, resp.Status, bytes.TrimSpace(answer))
	}
	return fmt.Errorf("the webhook route refused an event: %w", last)
}

// waitApplied waits until the event queue is empty. Events that keep
// failing are left for the overview to show after two minutes.
func (d *demo) waitApplied(ctx context.Context) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		q, err := d.st.EventQueue(ctx)
		if err != nil {
			return err
		}
		if q.Queued == 0 && q.Failed == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			d.env.log.Warn("paydesk demo: some events are not applied yet; the overview's event queue shows them",
				"queued", q.Queued, "failed", q.Failed)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// demoSessionKey returns the session key kept in dir, making it on the
// first run, so sessions outlive a restart.
func demoSessionKey(dir string) (string, error) {
	path := filepath.Join(dir, "session-secret")
	b, err := os.ReadFile(path)
	if err == nil && len(bytes.TrimSpace(b)) >= 32 {
		return string(bytes.TrimSpace(b)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read the session key: %w", err)
	}
	key := randomHex(32)
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write the session key: %w", err)
	}
	return key, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// lockDemoDir takes an exclusive lock on dir for this process's life, so
// two demos never share a data folder. The kernel drops the lock when the
// process ends, however it ends.
func lockDemoDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, "demo.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock the data folder: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another paydesk demo is running on %s: stop it first, or pass another --data", dir)
		}
		return nil, fmt.Errorf("lock the data folder: %w", err)
	}
	return func() { f.Close() }, nil
}
