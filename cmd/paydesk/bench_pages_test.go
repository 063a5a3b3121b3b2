package main

import (
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/jmoiron/sqlx"

	"paydesk/store/pgcluster"
)

// BenchmarkPages (make bench-pages) seeds a large mirror with `paydesk
// seed`, starts `paydesk serve` on it and measures every list (first page,
// a deep page, each filter, each kind of search), every detail page and
// the overview under concurrent clients, then the CSV export of every
// charge. It prints, per page, the p50/p95/p99 of the server time each
// answer reports in its Server-Timing header (the time from taking the
// request to writing the page), and for the export its wall time, its rows
// and the serving process's peak resident memory. Settings:
//
//	BENCH_CUSTOMERS, BENCH_INVOICES, BENCH_CHARGES, BENCH_REFUNDS
//	                     the seed (default 100000, 300000, 1000000, 100000)
//	BENCH_CLIENTS        concurrent clients (default 8)
//	BENCH_REQUESTS       requests per page measured (default 200)
//	BENCH_DEEP           how many "next" links a deep page is (default 20)
//	BENCH_DATA_DIR       keep the seeded cluster here and reuse it on the
//	                     next run, read back into shared buffers first
//	                     (default: a throwaway folder)
//	BENCH_PAGES          a regular expression: measure only the pages whose
//	                     names match it, and the export only if "export"
//	                     does (default: everything)
//
// The cluster runs with fsync on and PostgreSQL's usual sizing for the
// machine: shared_buffers a quarter of its memory (6 GB of 24 GiB), which
// holds the seeded mirror (about 4 GB with its indexes), and
// effective_cache_size 16 GB. With 1 GB the searches that must read a few
// thousand scattered rows read them from disk: this machine's kernel
// reclaims idle page cache within minutes (DAMON), so the operating system
// cannot be counted on to keep them.
func BenchmarkPages(b *testing.B) {
	seed := map[string]int{
		"customers": envInt("BENCH_CUSTOMERS", 100_000), "invoices": envInt("BENCH_INVOICES", 300_000),
		"charges": envInt("BENCH_CHARGES", 1_000_000), "refunds": envInt("BENCH_REFUNDS", 100_000),
	}
	clients, requests, deep := envInt("BENCH_CLIENTS", 8), envInt("BENCH_REQUESTS", 200), envInt("BENCH_DEEP", 20)
	ctx := context.Background()

	dir := os.Getenv("BENCH_DATA_DIR")
	if dir == "" {
		tmp, err := os.MkdirTemp("", "paydesk-bench-pages-")
		if err != nil {
			b.Fatal(err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	cluster, err := pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(dir, "data"), Durable: true,
		Settings: []string{"shared_buffers=6GB", "effective_cache_size=16GB", "work_mem=16MB"}})
	if err != nil {
		b.Fatal(err)
	}
	defer cluster.Stop()
	// No page calls Stripe; serve wants a key all the same.
	env := map[string]string{"DATABASE_URL": cluster.URL("postgres"), "SESSION_SECRET": strings.Repeat("s", 40),
		"STRIPE_WEBHOOK_SECRET": "whsec_bench_pages", "STRIPE_TEST_SECRET_KEY": "sk_test_bench_pages",
		"STRIPE_API_BASE": "http://127.0.0.1:1"}
	if r := paydesk(b, env, "migrate"); r.code != 0 {
		b.Fatalf("migrate: %s", r.stderr)
	}
	db, err := sqlx.Open("postgres", cluster.URL("postgres"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE EXTENSION IF NOT EXISTS pg_prewarm`); err != nil {
		b.Fatal(err)
	}

	var have int
	if err := db.Get(&have, `SELECT count(*) FROM charges`); err != nil {
		b.Fatal(err)
	}
	if have == 0 {
		start := time.Now()
		r := paydesk(b, env, "seed", "--customers", strconv.Itoa(seed["customers"]), "--invoices", strconv.Itoa(seed["invoices"]),
			"--charges", strconv.Itoa(seed["charges"]), "--refunds", strconv.Itoa(seed["refunds"]))
		if r.code != 0 {
			b.Fatalf("seed: %s", r.stderr)
		}
		fmt.Printf("seeded in %.1f s\n", time.Since(start).Seconds())
	} else {
		// A restarted cluster starts with empty shared buffers, where the
		// seed leaves the mirror in them: read it back first, so a rerun
		// measures what a running server sees rather than the disk.
		start := time.Now()
		var pages int64
		if err := db.Get(&pages, `SELECT coalesce(sum(pg_prewarm(c.oid)), 0) FROM pg_class c
			WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'i', 't')`); err != nil {
			b.Fatalf("prewarm: %v", err)
		}
		fmt.Printf("reusing the seeded cluster in %s (%d charges); %d pages read into shared buffers in %.1f s\n",
			dir, have, pages, time.Since(start).Seconds())
	}
	const email, password = "bench-admin@example.com", "bench-pages-password-0001"
	add := processFor(env, "user", "add", "--email", email, "--role", "admin")
	add.Stdin = strings.NewReader(password + "\n")
	if out, err := add.CombinedOutput(); err != nil && !strings.Contains(string(out), "exists") {
		b.Fatalf("user add: %v\n%s", err, out)
	}
	var counts [4]int64
	if err := db.QueryRow(`SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM invoices),
		(SELECT count(*) FROM charges), (SELECT count(*) FROM refunds)`).Scan(&counts[0], &counts[1], &counts[2], &counts[3]); err != nil {
		b.Fatal(err)
	}
	fmt.Printf("mirror: %d customers, %d invoices, %d charges, %d refunds; %d clients, %d requests per page\n",
		counts[0], counts[1], counts[2], counts[3], clients, requests)

	srv := startServe(b, env, "--workers", "1")
	cl := signedInClient(b, srv.base, email, password)
	s := loadSamples(b, db)

	pages := benchPageList(s)
	only := regexp.MustCompile(os.Getenv("BENCH_PAGES"))
	// Deep pages: follow "next" from the first page of each list.
	for _, list := range []string{"/customers", "/invoices", "/charges", "/refunds"} {
		u := list
		for i := 0; i < deep; i++ {
			next, err := nextLink(cl, srv.base+u)
			if err != nil {
				b.Fatalf("deep page of %s: %v", list, err)
			}
			if next == "" {
				break
			}
			u = next
		}
		pages = append(pages, benchPage{name: fmt.Sprintf("%s page %d", list, deep+1), urls: func(*rand.Rand) string { return u }})
	}

	fmt.Printf("\n%-44s %8s %8s %8s %8s\n", "page (server time, ms)", "p50", "p95", "p99", "max")
	for _, p := range pages {
		if !only.MatchString(p.name) {
			continue
		}
		times, err := measure(cl, srv.base, p, clients, requests)
		if err != nil {
			b.Fatalf("%s: %v", p.name, err)
		}
		fmt.Printf("%-44s %8.1f %8.1f %8.1f %8.1f\n", p.name, pct(times, 50), pct(times, 95), pct(times, 99), pct(times, 100))
	}

	if !only.MatchString("export") {
		return
	}
	// The export runs in a fresh process, so its peak memory is the
	// export's, not the page runs'.
	exportSrv := startServe(b, env, "--workers", "1")
	exportClient := signedInClient(b, exportSrv.base, email, password)
	start := time.Now()
	rows, bytes, err := exportCSV(exportClient, exportSrv.base+"/charges.csv")
	if err != nil {
		b.Fatalf("export: %v", err)
	}
	elapsed := time.Since(start)
	hwm := peakRSS(b, exportSrv.cmd.Process.Pid)
	fmt.Printf("\nCSV export of all charges: %d rows, %.1f MB in %.2f s; serve peak RSS %.1f MB\n",
		rows, float64(bytes)/1e6, elapsed.Seconds(), float64(hwm)/1024)
}

// benchPage is one page measured: urls picks the URL of each request.
type benchPage struct {
	name string
	urls func(r *rand.Rand) string
}

// samples are ids and search terms taken from the seeded mirror.
type samples struct {
	customers, invoices, charges, refunds                []string
	emails, names, numbers, last4s, receipts, currencies []string
	busyCustomer                                         string
}

func loadSamples(b *testing.B, db *sqlx.DB) samples {
	var s samples
	for _, q := range []struct {
		dest  *[]string
		query string
	}{
		{&s.customers, `SELECT id FROM customers TABLESAMPLE SYSTEM (1) LIMIT 300`},
		{&s.invoices, `SELECT id FROM invoices TABLESAMPLE SYSTEM (1) LIMIT 300`},
		{&s.charges, `SELECT id FROM charges TABLESAMPLE SYSTEM (1) LIMIT 300`},
		{&s.refunds, `SELECT id FROM refunds TABLESAMPLE SYSTEM (1) LIMIT 300`},
		{&s.emails, `SELECT split_part(email, '@', 1) FROM customers TABLESAMPLE SYSTEM (1) WHERE email IS NOT NULL LIMIT 100`},
		{&s.names, `SELECT split_part(name, ' ', 2) FROM customers TABLESAMPLE SYSTEM (1) WHERE name LIKE '% %' LIMIT 100`},
		{&s.numbers, `SELECT number FROM invoices TABLESAMPLE SYSTEM (1) WHERE number IS NOT NULL LIMIT 100`},
		{&s.last4s, `SELECT card_last4 FROM charges TABLESAMPLE SYSTEM (1) WHERE card_last4 IS NOT NULL LIMIT 100`},
		{&s.receipts, `SELECT receipt_number FROM charges TABLESAMPLE SYSTEM (1) WHERE receipt_number IS NOT NULL LIMIT 100`},
		{&s.currencies, `SELECT DISTINCT currency FROM charges`},
	} {
		if err := db.Select(q.dest, q.query); err != nil || len(*q.dest) == 0 {
			b.Fatalf("samples: %q: %v (%d rows)", q.query, err, len(*q.dest))
		}
	}
	if err := db.Get(&s.busyCustomer, `SELECT customer FROM charges WHERE customer IS NOT NULL GROUP BY customer ORDER BY count(*) DESC LIMIT 1`); err != nil {
		b.Fatal(err)
	}
	return s
}

// benchPageList is every page measured besides the deep pages: each list's
// first page, every status tab, the other filters, sorting, each kind of
// search, the detail pages and the overview.
func benchPageList(s samples) []benchPage {
	fixed := func(name, u string) benchPage {
		return benchPage{name: name, urls: func(*rand.Rand) string { return u }}
	}
	pick := func(xs []string) func(r *rand.Rand) string {
		return func(r *rand.Rand) string { return xs[r.IntN(len(xs))] }
	}
	search := func(name, list string, terms []string) benchPage {
		p := pick(terms)
		return benchPage{name: name, urls: func(r *rand.Rand) string { return list + "?q=" + url.QueryEscape(p(r)) }}
	}
	detail := func(list string, ids []string) benchPage {
		p := pick(ids)
		return benchPage{name: list + "/{id}", urls: func(r *rand.Rand) string { return list + "/" + p(r) }}
	}
	monthAgo := time.Now().UTC().AddDate(0, -1, 0).Format(time.DateOnly)
	yearAgo := time.Now().UTC().AddDate(-1, 0, 0).Format(time.DateOnly)
	today := time.Now().UTC().Format(time.DateOnly)
	var pages []benchPage
	pages = append(pages, fixed("/ (overview, 30 days)", "/"), fixed("/ (overview, 12 months)", "/?period=12m"))
	for _, list := range []string{"/customers", "/invoices", "/charges", "/refunds"} {
		pages = append(pages, fixed(list, list))
	}
	for _, st := range []string{"draft", "open", "paid", "void", "uncollectible", "past_due"} {
		pages = append(pages, fixed("/invoices?status="+st, "/invoices?status="+st))
	}
	for _, st := range []string{"succeeded", "failed", "pending", "refunded", "partially_refunded", "disputed"} {
		pages = append(pages, fixed("/charges?status="+st, "/charges?status="+st))
	}
	for _, st := range []string{"succeeded", "pending", "failed"} {
		pages = append(pages, fixed("/refunds?status="+st, "/refunds?status="+st))
	}
	for _, list := range []string{"/customers", "/invoices", "/charges", "/refunds"} {
		pages = append(pages,
			fixed(list+"?created (last month)", list+"?created_from="+monthAgo+"&created_to="+today),
			fixed(list+"?sort=created&dir=asc", list+"?sort=created&dir=asc"))
	}
	for _, list := range []string{"/invoices", "/charges", "/refunds"} {
		pages = append(pages,
			fixed(list+"?currency=jpy", list+"?currency=jpy"),
			fixed(list+"?currency=usd&amount 100-500", list+"?currency=usd&amount_min=100&amount_max=500"),
			fixed(list+"?sort="+amountSort[list]+"&dir=desc", list+"?sort="+amountSort[list]+"&dir=desc"),
			fixed(list+"?usd, year, sort amount", list+"?currency=usd&created_from="+yearAgo+"&sort="+amountSort[list]+"&dir=asc"))
	}
	customer := s.busyCustomer
	pages = append(pages,
		fixed("/invoices?customer=", "/invoices?customer="+customer),
		fixed("/charges?customer=", "/charges?customer="+customer),
		fixed("/invoices?due (next month)", "/invoices?due_from="+today+"&due_to="+time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)),
		fixed("/invoices?status=open&sort=due_date", "/invoices?status=open&sort=due_date&dir=asc"),
		search("/customers?q=<email part>", "/customers", s.emails),
		search("/customers?q=<name part>", "/customers", s.names),
		search("/customers?q=<id>", "/customers", s.customers),
		search("/invoices?q=<number>", "/invoices", s.numbers),
		search("/invoices?q=<customer email part>", "/invoices", s.emails),
		search("/charges?q=<last 4>", "/charges", s.last4s),
		search("/charges?q=<receipt number>", "/charges", s.receipts),
		search("/charges?q=<id>", "/charges", s.charges),
		search("/charges?q=<email part>", "/charges", s.emails),
		search("/refunds?q=<charge id>", "/refunds", s.charges),
		detail("/customers", s.customers),
		detail("/invoices", s.invoices),
		detail("/charges", s.charges),
		detail("/refunds", s.refunds),
	)
	return pages
}

// amountSort is each list's amount sort key.
var amountSort = map[string]string{"/invoices": "total", "/charges": "amount", "/refunds": "amount"}

// measure sends requests GETs of p from clients goroutines and returns the
// server time (ms) each answer reported.
//
// Each client first sends one request of the page unmeasured: the first
// statement of a kind on a pooled database connection loads the catalog
// entries of its tables and indexes into that connection (a few ms), which
// a running server has long done; with eight clients, those eight first
// requests were 4% of a page's samples and decided its p95.
func measure(cl *http.Client, base string, p benchPage, clients, requests int) ([]float64, error) {
	var (
		mu    sync.Mutex
		times []float64
		first error
		next  = make(chan int, requests)
		wg    sync.WaitGroup
	)
	for i := range requests {
		next <- i
	}
	close(next)
	for c := range clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(c), 7))
			if _, err := serverTime(cl, base+p.urls(r)); err != nil {
				mu.Lock()
				first = cmp.Or(first, err)
				mu.Unlock()
			}
			for range next {
				ms, err := serverTime(cl, base+p.urls(r))
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				times = append(times, ms)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return times, first
}

func serverTime(cl *http.Client, u string) (float64, error) {
	resp, err := cl.Get(u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	st := resp.Header.Get("Server-Timing")
	v, ok := strings.CutPrefix(st, "app;dur=")
	ms, err := strconv.ParseFloat(v, 64)
	if !ok || err != nil {
		return 0, fmt.Errorf("GET %s: Server-Timing %q", u, st)
	}
	return ms, nil
}

func pct(xs []float64, p int) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

// nextLink returns the page's "next page" link (rel="next"), or "" on the
// last page.
func nextLink(cl *http.Client, u string) (string, error) {
	resp, err := cl.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		return "", err
	}
	href, _ := doc.Find(`a[rel="next"]`).First().Attr("href")
	return href, nil
}

// signedInClient signs in at base and returns a client carrying the
// session cookie.
func signedInClient(b *testing.B, base, email, password string) *http.Client {
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar, Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	resp, err := cl.PostForm(base+"/login", url.Values{"email": {email}, "password": {password}})
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	u, _ := url.Parse(base)
	if len(jar.Cookies(u)) == 0 || resp.StatusCode != http.StatusOK {
		b.Fatalf("sign-in: %s, no session cookie", resp.Status)
	}
	return cl
}

// exportCSV downloads u and counts its data rows and bytes.
func exportCSV(cl *http.Client, u string) (rows, n int64, err error) {
	resp, err := cl.Get(u)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	counted := &countingReader{r: resp.Body}
	cr := csv.NewReader(counted)
	cr.ReuseRecord = true
	for {
		_, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return rows, counted.n, err
		}
		rows++
	}
	return rows - 1, counted.n, nil // less the header
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// peakRSS is the process's peak resident set size in KiB (VmHWM).
func peakRSS(b *testing.B, pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	b.Fatal("no VmHWM in /proc status")
	return 0
}
