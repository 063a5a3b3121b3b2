package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Seeding fills the mirror with made-up but internally consistent objects,
// for demos and benchmarks (paydesk seed).
//
// Every object is a pure function of (seed, kind, index): its random
// stream is derived from those three numbers, so any object can be made
// again, cheaply, without keeping it. That is what keeps memory bounded
// while the tables refer to one another: an invoice remakes the header of
// its customer to learn its currency; the refunds phase replays the
// charges (without their JSON) to learn which charges were refunded and
// by how much. Only a few per-customer counters are kept in memory.
//
// Rows are streamed to PostgreSQL with COPY inside one transaction, so a
// failed or interrupted seed leaves nothing behind.

// SeedOptions says how much to make and how.
type SeedOptions struct {
	Customers, Invoices, Charges, Refunds int
	// Seed makes runs reproducible: the same seed and counts give the
	// same rows (given the same Now).
	Seed     uint64
	Livemode bool
	// Append allows seeding into a mirror that already holds rows.
	Append bool
	// Now is the end of the two years the objects are spread over; zero
	// means the current second.
	Now time.Time
	// RebuildIndexesFrom: an empty table getting at least this many rows
	// is loaded without its secondary indexes, rebuilt after; 0 means
	// 20,000.
	RebuildIndexesFrom int
	// Progress, when set, is called from the seeding goroutine every few
	// thousand rows and when a table is done, with the rows written so far
	// and the rows that table will get.
	Progress func(table string, done, total int64)
}

// SeedSummary counts what a seed wrote and how long each step took.
type SeedSummary struct {
	Customers, Invoices, Lines, Charges, Refunds int64
	// Took is each table's time, IndexTook the part of it spent
	// rebuilding the indexes of a table that was empty.
	Took, IndexTook map[string]time.Duration
	Total           time.Duration
	// Committed says the rows were stored (ANALYZE may still have failed).
	Committed bool
}

// MirrorNotEmptyError is returned when the mirror already holds rows and
// SeedOptions.Append is not set.
type MirrorNotEmptyError struct{ Customers, Invoices, Charges, Refunds int64 }

func (e *MirrorNotEmptyError) Error() string {
	return fmt.Sprintf("the mirror already holds rows (%d customers, %d invoices, %d charges, %d refunds)",
		e.Customers, e.Invoices, e.Charges, e.Refunds)
}

// ErrSeedCollision is returned when seeded ids collide with stored rows:
// seeding twice with the same seed.
var ErrSeedCollision = errors.New("store: seed: generated ids collide with stored rows (was this seed already used?)")

// maxRefundsPerCharge bounds the refunds of one charge.
const maxRefundsPerCharge = 3

// seedSpan is how far back the objects' created times go.
const seedSpan = 730 * 24 * time.Hour

// CheckSeedCounts reports a combination of counts that cannot be seeded,
// before any work is done.
func CheckSeedCounts(o SeedOptions) error {
	switch {
	case o.Customers < 0 || o.Invoices < 0 || o.Charges < 0 || o.Refunds < 0:
		return errors.New("counts must not be negative")
	case o.Customers == 0 && (o.Invoices > 0 || o.Charges > 0):
		return errors.New("invoices and charges need at least one customer")
	case o.Refunds > 0 && o.Charges == 0:
		return errors.New("refunds need charges to refund")
	}
	return nil
}

// Seed generates and stores the objects o asks for, then compacts the
// rollups and runs VACUUM (ANALYZE) on the mirror tables (and the search
// terms their triggers wrote): the statistics
// let the planner choose the lists' indexes, and the visibility map lets
// the totals' index-only scans skip the table, as they do on a mirror that
// autovacuum has kept for a while.
func (s *Store) Seed(ctx context.Context, o SeedOptions) (SeedSummary, error) {
	sum := SeedSummary{Took: map[string]time.Duration{}, IndexTook: map[string]time.Duration{}}
	if err := CheckSeedCounts(o); err != nil {
		return sum, fmt.Errorf("store: seed: %w", err)
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	g := newSeedGen(o)
	began := time.Now()
	if err := g.plan(); err != nil {
		return sum, fmt.Errorf("store: seed: %w", err)
	}
	progress := o.Progress
	if progress == nil {
		progress = func(string, int64, int64) {}
	}
	err := s.InTx(ctx, func(tx *Store) error {
		if !o.Append {
			var e MirrorNotEmptyError
			if err := tx.q.QueryRowxContext(ctx, `
SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM invoices),
       (SELECT count(*) FROM charges), (SELECT count(*) FROM refunds)`).Scan(
				&e.Customers, &e.Invoices, &e.Charges, &e.Refunds); err != nil {
				return fmt.Errorf("store: seed: count rows: %w", err)
			}
			if e.Customers+e.Invoices+e.Charges+e.Refunds > 0 {
				return &e
			}
		}
		steps := []struct {
			table string
			n     *int64
			total int64
			run   func(w *copyWriter) error
		}{
			{"customers", &sum.Customers, int64(o.Customers), g.writeCustomers},
			{"invoices", &sum.Invoices, int64(o.Invoices), g.writeInvoices},
			{"invoice_lines", &sum.Lines, g.lines, g.writeLines},
			{"charges", &sum.Charges, int64(o.Charges), g.writeCharges},
			{"refunds", &sum.Refunds, int64(o.Refunds), g.writeRefunds},
		}
		rebuildFrom := o.RebuildIndexesFrom
		if rebuildFrom <= 0 {
			rebuildFrom = 20000
		}
		if _, err := tx.q.ExecContext(ctx, `SET LOCAL maintenance_work_mem = '256MB'`); err != nil {
			return fmt.Errorf("store: seed: %w", err)
		}
		for _, st := range steps {
			start := time.Now()
			// Loading an empty table without its secondary indexes and
			// building them after is several times faster than updating
			// them row by row (the trigram GIN indexes most of all). The
			// definitions come from the catalog, so indexes added by later
			// migrations are handled too; in this transaction, so a failed
			// seed leaves them as they were.
			// Small loads keep them: rebuilding costs more than it saves.
			var indexes []string
			if st.total >= int64(rebuildFrom) {
				var err error
				if indexes, err = tx.takeIndexesOfEmpty(ctx, st.table); err != nil {
					return err
				}
			}
			w, err := newCopyWriter(ctx, tx.tx, st.table, seedColumns[st.table], func(n int64) { progress(st.table, n, st.total) })
			if err != nil {
				return err
			}
			if err := st.run(w); err != nil {
				w.abort()
				return fmt.Errorf("store: seed %s: %w", st.table, err)
			}
			if err := w.close(); err != nil {
				return fmt.Errorf("store: seed %s: %w", st.table, seedError(err))
			}
			copied := time.Now()
			for _, def := range indexes {
				if _, err := tx.q.ExecContext(ctx, def); err != nil {
					return fmt.Errorf("store: seed %s: rebuild index: %w", st.table, err)
				}
			}
			*st.n = w.rows
			progress(st.table, w.rows, st.total)
			sum.Took[st.table] = time.Since(start)
			sum.IndexTook[st.table] = time.Since(copied)
		}
		return nil
	})
	if err != nil {
		return sum, err
	}
	sum.Committed = true
	// The COPYs' triggers left one rollup row per key and table written;
	// merge them with whatever was there (see rollup.go).
	start := time.Now()
	if _, err := s.CompactRollups(ctx); err != nil {
		return sum, fmt.Errorf("store: seed: %w", err)
	}
	sum.Took["rollups"] = time.Since(start)
	start = time.Now()
	if _, err := s.db.ExecContext(ctx, `VACUUM (ANALYZE) customers, invoices, invoice_lines, charges, refunds,
		rollup_customers, rollup_invoices, rollup_invoices_monthly, rollup_charges, rollup_charges_monthly, rollup_refunds, rollup_open_invoices,
		rollup_charges_amount, rollup_invoices_amount, search_terms`); err != nil {
		return sum, fmt.Errorf("store: seed: vacuum: %w", err)
	}
	sum.Took["vacuum"] = time.Since(start)
	sum.Total = time.Since(began)
	return sum, nil
}

// takeIndexesOfEmpty drops the indexes of table that back no constraint
// (the primary key stays) when the table is empty, and returns their
// definitions for rebuilding.
func (s *Store) takeIndexesOfEmpty(ctx context.Context, table string) ([]string, error) {
	var empty bool
	if err := s.q.QueryRowxContext(ctx, `SELECT NOT EXISTS (SELECT 1 FROM `+pq.QuoteIdentifier(table)+`)`).Scan(&empty); err != nil {
		return nil, fmt.Errorf("store: seed %s: %w", table, err)
	}
	if !empty {
		return nil, nil
	}
	// Each index comes back as its CREATE statement followed by the
	// statistics targets set on its columns (migration 00010 sets them on
	// the searched expressions), which dropping the index would lose.
	var idx []struct {
		Name  string         `db:"name"`
		Def   string         `db:"def"`
		Stats pq.StringArray `db:"stats"`
	}
	if err := sqlx.SelectContext(ctx, s.q, &idx, `
SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def,
       ARRAY(SELECT format('ALTER INDEX %s ALTER COLUMN %s SET STATISTICS %s', i.indexrelid::regclass, a.attnum, a.attstattarget)
               FROM pg_attribute a WHERE a.attrelid = i.indexrelid AND a.attstattarget > 0 ORDER BY a.attnum) AS stats
  FROM pg_index i
 WHERE i.indrelid = $1::regclass
   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
 ORDER BY 1`, table); err != nil {
		return nil, fmt.Errorf("store: seed %s: list indexes: %w", table, err)
	}
	var defs []string
	for _, x := range idx {
		// x.Name is the catalog's own rendering of the index's name,
		// quoted where it needs to be.
		if _, err := s.q.ExecContext(ctx, `DROP INDEX `+x.Name); err != nil {
			return nil, fmt.Errorf("store: seed %s: drop index %s: %w", table, x.Name, err)
		}
		defs = append(append(defs, x.Def), x.Stats...)
	}
	return defs, nil
}

// seedError turns a unique violation into ErrSeedCollision.
func seedError(err error) error {
	var pe *pq.Error
	if errors.As(err, &pe) && pe.Code == "23505" {
		return ErrSeedCollision
	}
	return err
}

var seedColumns = map[string][]string{
	"customers": {"id", "livemode", "email", "name", "phone", "description", "currency", "balance",
		"delinquent", "deleted", "created", "data", "version", "synced_at"},
	"invoices": {"id", "livemode", "customer", "customer_email", "customer_name", "number", "status",
		"collection_method", "currency", "subtotal", "tax", "total", "amount_due", "amount_paid",
		"amount_remaining", "due_date", "created", "hosted_invoice_url", "invoice_pdf", "charge",
		"payment_intent", "lines_total_count", "data", "version", "lines_hash", "synced_at"},
	"invoice_lines": {"invoice", "id", "position", "type", "description", "quantity", "unit_amount",
		"amount", "currency", "period_start", "period_end", "data"},
	"charges": {"id", "livemode", "customer", "invoice", "payment_intent", "amount", "amount_captured",
		"amount_refunded", "currency", "status", "paid", "captured", "refunded", "disputed",
		"failure_code", "failure_message", "description", "receipt_email", "receipt_number",
		"billing_name", "card_brand", "card_last4", "created", "data", "version", "synced_at"},
	"refunds": {"id", "livemode", "charge", "payment_intent", "amount", "currency", "status", "reason",
		"receipt_number", "failure_reason", "created", "data", "version", "synced_at"},
}

// copyWriter streams rows into one table with COPY.
type copyWriter struct {
	ctx      context.Context
	exec     func(args ...any) error
	flush    func() error
	closeFn  func() error
	rows     int64
	progress func(int64)
}

func newCopyWriter(ctx context.Context, tx *sqlx.Tx, table string, cols []string, progress func(int64)) (*copyWriter, error) {
	stmt, err := tx.PrepareContext(ctx, pq.CopyIn(table, cols...))
	if err != nil {
		return nil, fmt.Errorf("store: seed: copy into %s: %w", table, err)
	}
	return &copyWriter{
		ctx:      ctx,
		exec:     func(args ...any) error { _, err := stmt.ExecContext(ctx, args...); return err },
		flush:    func() error { _, err := stmt.ExecContext(ctx); return err },
		closeFn:  stmt.Close,
		progress: progress,
	}, nil
}

// put writes one row.
func (w *copyWriter) put(args ...any) error {
	if err := w.exec(args...); err != nil {
		return seedError(err)
	}
	w.rows++
	if w.rows%10000 == 0 {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		w.progress(w.rows)
	}
	return nil
}

func (w *copyWriter) close() error {
	if err := w.flush(); err != nil {
		_ = w.closeFn()
		return err
	}
	return w.closeFn()
}

func (w *copyWriter) abort() { _ = w.closeFn() }

// ---- the generator ----

// Kinds of random stream and of id. An id is a bijective scramble of
// (kind, index), so ids are unique within a seed by construction.
const (
	kindCustomer = iota + 1
	kindCustomerExtra
	kindInvoice
	kindLine
	kindInvoiceCharge
	kindInvoicePI
	kindCharge
	kindChargePI
	kindRefund
	kindToken
	kindRefundAlloc
)

type seedGen struct {
	o        SeedOptions
	salt     uint64
	now      int64
	start    int64
	custSpan int64
	version  int64
	synced   time.Time
	mode     string // "test" or "live", in URLs

	// from plan
	lines          int64
	linkedCharges  int           // charges made for invoices
	succeeded      int           // succeeded charges, invoice-linked and standalone
	invoiceCount   []int32       // finalized invoices per customer
	delinquent     []uint64      // bitset over customers
	invoiceNumbers []int32       // running number per customer, during writeInvoices
	buf            []byte        // JSON scratch
	lineBuf        []byte        // JSON scratch for lines
	pending        []InvoiceLine // lines of the invoice being written
}

func newSeedGen(o SeedOptions) *seedGen {
	now := o.Now.Unix()
	g := &seedGen{
		o: o, salt: mix64(o.Seed ^ 0x7061796465736b), now: now,
		start:   now - int64(seedSpan/time.Second),
		version: now, synced: o.Now.UTC().Truncate(time.Microsecond), mode: "test",
	}
	if o.Livemode {
		g.mode = "live"
	}
	// Customers sign up over the first 95% of the span; everything else
	// happens after its customer exists.
	g.custSpan = (g.now - g.start) * 95 / 100
	return g
}

// plan walks the invoice headers and the charge statuses once, cheaply,
// to learn what later tables need before they are written: how many
// succeeded charges there are (to spread the refunds), which customers are
// delinquent and how many numbered invoices each has.
func (g *seedGen) plan() error {
	g.invoiceCount = make([]int32, g.o.Customers)
	g.delinquent = make([]uint64, (g.o.Customers+63)/64)
	linked := 0
	for j := 0; j < g.o.Invoices; j++ {
		h := g.invoiceHead(j, &linked)
		g.lines += int64(h.nlines)
		if h.status != "draft" {
			g.invoiceCount[h.customer]++
		}
		if h.pastDue || h.status == "uncollectible" {
			g.delinquent[h.customer/64] |= 1 << (h.customer % 64)
		}
		if h.hasCharge && h.status == "paid" {
			g.succeeded++
		}
	}
	g.linkedCharges = linked
	for i := 0; i < g.o.Charges-linked; i++ {
		if g.standaloneStatus(i) == "succeeded" {
			g.succeeded++
		}
	}
	if g.o.Refunds > maxRefundsPerCharge*g.succeeded {
		return fmt.Errorf("%d refunds need at least %d succeeded charges (at most %d refunds each); these counts give %d: ask for more charges",
			g.o.Refunds, (g.o.Refunds+maxRefundsPerCharge-1)/maxRefundsPerCharge, maxRefundsPerCharge, g.succeeded)
	}
	return nil
}

// rng is splitmix64: tiny, fast, and seeded per object.
type rng struct{ s uint64 }

func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func (g *seedGen) rng(kind, index int) rng {
	return rng{mix64(g.salt ^ uint64(kind)<<40 ^ uint64(index))}
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix64(r.s)
}

func (r *rng) intn(n int) int             { return int(r.next() % uint64(n)) }
func (r *rng) between(lo, hi int64) int64 { return lo + int64(r.next()%uint64(hi-lo+1)) }
func (r *rng) float() float64             { return float64(r.next()>>11) / (1 << 53) }
func (r *rng) chance(p float64) bool      { return r.float() < p }

// pick chooses from weighted options.
func pick[T any](r *rng, options []weighted[T]) T {
	total := 0
	for _, o := range options {
		total += o.w
	}
	n := r.intn(total)
	for _, o := range options {
		if n < o.w {
			return o.v
		}
		n -= o.w
	}
	return options[len(options)-1].v
}

type weighted[T any] struct {
	v T
	w int
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// id is prefix + width base62 characters: filler from the stream, then
// eleven characters that encode a bijective scramble of (kind, index).
func (g *seedGen) id(prefix string, width, kind, index int) string {
	x := mix64(g.salt ^ uint64(kind)<<40 ^ uint64(index))
	b := make([]byte, 0, len(prefix)+width)
	b = append(b, prefix...)
	f := mix64(x ^ 0x5eed)
	for i := 0; i < width-11; i++ {
		b = append(b, base62[f%62])
		f /= 62
		if f == 0 {
			f = mix64(x + uint64(i))
		}
	}
	var tail [11]byte
	for i := 10; i >= 0; i-- {
		tail[i] = base62[x%62]
		x /= 62
	}
	return string(append(b, tail[:]...))
}

// token is a random base62 string for URLs and fingerprints.
func (r *rng) token(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = base62[r.intn(62)]
	}
	return string(b)
}

// ---- currencies and amounts ----

type seedCurrency struct {
	code string
	// rate converts US cents to this currency's minor units, in 1/100.
	rate int64
	exp  int
	// taxBP is a typical sales tax or VAT rate in basis points.
	taxBP   int64
	country string
}

var seedCurrencies = []weighted[seedCurrency]{
	{seedCurrency{"usd", 100, 2, 725, "US"}, 55},
	{seedCurrency{"eur", 92, 2, 1900, "DE"}, 25},
	{seedCurrency{"gbp", 79, 2, 2000, "GB"}, 10},
	{seedCurrency{"jpy", 150, 0, 1000, "JP"}, 6},
	{seedCurrency{"bhd", 377, 3, 1000, "BH"}, 2},
	{seedCurrency{"kwd", 307, 3, 0, "KW"}, 2},
}

// price converts a US-cent price to minor units of c, rounded the way a
// merchant would set it: whole major units above ten, to 100 yen above
// 1,000 yen.
func (c seedCurrency) price(cents int64) int64 {
	v := cents * c.rate / 100
	unit := int64(math.Pow10(c.exp))
	if c.exp == 0 {
		unit = 100
	}
	if v >= 10*unit {
		v = (v + unit/2) / unit * unit
	}
	return max(v, 1)
}

// ---- customers ----

type seedName struct{ display, ascii string }

var firstNames = []seedName{
	{"Olivia", "olivia"}, {"Liam", "liam"}, {"Emma", "emma"}, {"Noah", "noah"}, {"Ava", "ava"},
	{"Sophia", "sophia"}, {"Lucas", "lucas"}, {"Mia", "mia"}, {"Ethan", "ethan"}, {"Amelia", "amelia"},
	{"James", "james"}, {"Charlotte", "charlotte"}, {"Benjamin", "benjamin"}, {"Harper", "harper"},
	{"Zoë", "zoe"}, {"José", "jose"}, {"Łukasz", "lukasz"}, {"François", "francois"}, {"Björn", "bjorn"},
	{"Søren", "soren"}, {"Ana María", "anamaria"}, {"Jürgen", "jurgen"}, {"Chloé", "chloe"},
	{"Priya", "priya"}, {"Mateo", "mateo"}, {"Aoife", "aoife"}, {"Nikolai", "nikolai"}, {"Fatima", "fatima"},
	{"Wei", "wei"}, {"Kofi", "kofi"}, {"Dvořák", "dvorak"}, {"Inés", "ines"}, {"Małgorzata", "malgorzata"},
}

var lastNames = []seedName{
	{"Smith", "smith"}, {"Johnson", "johnson"}, {"Williams", "williams"}, {"Brown", "brown"},
	{"García", "garcia"}, {"Müller", "muller"}, {"Martin", "martin"}, {"Rossi", "rossi"},
	{"Nowak", "nowak"}, {"Kowalski", "kowalski"}, {"O'Brien", "obrien"}, {"Dubois", "dubois"},
	{"Jensen", "jensen"}, {"Silva", "silva"}, {"Patel", "patel"}, {"Nguyễn", "nguyen"},
	{"Schröder", "schroder"}, {"López", "lopez"}, {"Andersson", "andersson"}, {"Yılmaz", "yilmaz"},
	{"Wójcik", "wojcik"}, {"Kim", "kim"}, {"Okafor", "okafor"}, {"Fernández", "fernandez"}, {"Taylor", "taylor"},
}

// wholeNames are names not written as "First Last" in Latin script, and
// companies.
var wholeNames = []seedName{
	{"山田太郎", "yamada.taro"}, {"佐藤花子", "sato.hanako"}, {"王伟", "wang.wei"}, {"김민준", "kim.minjun"},
	{"عبد الله", "abdullah"}, {"فاطمة الزهراء", "fatima.zahra"}, {"Дмитрий Иванов", "dmitry.ivanov"},
	{"Σοφία Παπαδοπούλου", "sofia.papadopoulou"}, {"דוד כהן", "david.cohen"}, {"Nguyễn Văn An", "nguyen.van.an"},
	{"Acme Corporation", "billing"}, {"Müller & Söhne GmbH", "buchhaltung"}, {"株式会社さくら", "keiri"},
	{"Northwind Traders Ltd", "accounts"}, {"Café Olé S.L.", "facturas"}, {"Globex LLC", "ap"},
}

// trickyTexts land on a few customers' descriptions: they must render as
// text, never as markup.
var trickyTexts = []string{
	`<script>alert("seed")</script> VIP account`,
	"Priority \u202Etnuocca\u202C (RTL override)",
	"Pays on time 🎉💸",
	`<b>bold</b> & "quoted" notes`,
}

var emailDomains = []string{"example.com", "example.org", "example.net", "mail.example", "corp.example"}

type seedCard struct {
	brand, last4, funding, fingerprint, country string
	expMonth, expYear                           int
}

var cardBrands = []weighted[string]{
	{"visa", 55}, {"mastercard", 30}, {"amex", 10}, {"discover", 3}, {"jcb", 1}, {"unionpay", 1},
}

func (r *rng) card(country string, now int64) seedCard {
	c := seedCard{brand: pick(r, cardBrands), funding: "credit", country: country}
	c.last4 = fmt.Sprintf("%04d", r.intn(10000))
	if r.chance(0.05) {
		c.last4 = "4242"
	}
	if r.chance(0.3) {
		c.funding = "debit"
	}
	c.fingerprint = r.token(16)
	c.expMonth = 1 + r.intn(12)
	c.expYear = time.Unix(now, 0).UTC().Year() + r.intn(5)
	return c
}

// seedCust is what other objects need of a customer.
type seedCust struct {
	index       int
	id          string
	created     int64
	cur         seedCurrency
	name, email string // "" is null
	prefix      string
	card        seedCard
}

func (g *seedGen) customerCreated(k int) int64 {
	return g.start + int64((float64(k)+0.5)*float64(g.custSpan)/float64(g.o.Customers))
}

func (g *seedGen) customer(k int) seedCust {
	r := g.rng(kindCustomer, k)
	c := seedCust{index: k, id: g.id("cus_", 14, kindCustomer, k)}
	c.created = g.customerCreated(k) + r.between(-1800, 1800)
	c.cur = pick(&r, seedCurrencies)
	var local string
	switch n := r.intn(100); {
	case n < 3: // no name, only an email
		local = "customer" + strconv.Itoa(k)
	case n < 13:
		w := wholeNames[r.intn(len(wholeNames))]
		c.name, local = w.display, w.ascii
	default:
		f, l := firstNames[r.intn(len(firstNames))], lastNames[r.intn(len(lastNames))]
		c.name, local = f.display+" "+l.display, f.ascii+"."+l.ascii
	}
	if r.chance(0.6) {
		local += strconv.Itoa(k % 1000)
	}
	if !r.chance(0.02) {
		c.email = local + "@" + emailDomains[r.intn(len(emailDomains))]
	}
	c.prefix = g.invoicePrefix(k)
	c.card = r.card(c.cur.country, g.now)
	return c
}

// invoicePrefix is customer k's invoice number prefix: eight base-36
// characters from an affine bijection on [0, 36^8), so no two customers
// of one seed share one.
func (g *seedGen) invoicePrefix(k int) string {
	const space = 2821109907456 // 36^8
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	x := (uint64(k)*1073741827 + g.salt%space) % space // 1073741827 is prime, coprime with 36
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = alphabet[x%36]
		x /= 36
	}
	return string(b[:])
}

// pickCustomer chooses a customer that already existed at t, favouring
// none in particular.
func (g *seedGen) pickCustomer(r *rng, t int64) int {
	n := int(float64(t-g.start) / float64(g.custSpan) * float64(g.o.Customers))
	n = min(max(n, 1), g.o.Customers)
	return r.intn(n)
}

func (g *seedGen) writeCustomers(w *copyWriter) error {
	for k := 0; k < g.o.Customers; k++ {
		c := g.customer(k)
		r := g.rng(kindCustomerExtra, k)
		var phone, desc string
		var balance int64
		if r.chance(0.3) {
			phone = fmt.Sprintf("+1 555 %03d %04d", r.intn(1000), r.intn(10000))
		}
		switch {
		case r.chance(0.002):
			desc = trickyTexts[r.intn(len(trickyTexts))]
		case r.chance(0.1):
			desc = []string{"Annual contract", "Referred by partner", "Migrated from legacy billing", "Net 30 terms agreed"}[r.intn(4)]
		}
		if r.chance(0.04) {
			balance = -c.cur.price(r.between(500, 50000)) // credit on account
		}
		deleted := r.chance(0.01)
		delinquent := g.delinquent[k/64]&(1<<(k%64)) != 0
		var meta [][2]string
		if r.chance(0.25) {
			meta = append(meta, [2]string{"crm_id", fmt.Sprintf("crm-%06d", r.intn(1000000))})
			if r.chance(0.5) {
				meta = append(meta, [2]string{"plan", []string{"starter", "pro", "business", "enterprise"}[r.intn(4)]})
			}
			if r.chance(0.2) {
				meta = append(meta, [2]string{"account_manager", firstNames[r.intn(len(firstNames))].display})
			}
		}

		b := g.buf[:0]
		b = append(b, `{"id":`...)
		b = jstr(b, c.id)
		b = append(b, `,"object":"customer","address":null,"balance":`...)
		b = strconv.AppendInt(b, balance, 10)
		b = append(b, `,"created":`...)
		b = strconv.AppendInt(b, c.created, 10)
		b = append(b, `,"currency":`...)
		b = jstr(b, c.cur.code)
		b = append(b, `,"default_source":null,"delinquent":`...)
		b = strconv.AppendBool(b, delinquent)
		b = append(b, `,"description":`...)
		b = jstrOrNull(b, desc)
		b = append(b, `,"discount":null,"email":`...)
		b = jstrOrNull(b, c.email)
		b = append(b, `,"invoice_prefix":`...)
		b = jstr(b, c.prefix)
		b = append(b, `,"invoice_settings":{"custom_fields":null,"default_payment_method":null,"footer":null,"rendering_options":null},"livemode":`...)
		b = strconv.AppendBool(b, g.o.Livemode)
		b = append(b, `,"metadata":`...)
		b = jmeta(b, meta)
		b = append(b, `,"name":`...)
		b = jstrOrNull(b, c.name)
		b = append(b, `,"next_invoice_sequence":`...)
		b = strconv.AppendInt(b, int64(g.invoiceCount[k])+1, 10)
		b = append(b, `,"phone":`...)
		b = jstrOrNull(b, phone)
		b = append(b, `,"preferred_locales":[],"shipping":null,"tax_exempt":"none","test_clock":null`...)
		if deleted {
			b = append(b, `,"deleted":true`...)
		}
		b = append(b, '}')
		g.buf = b
		if err := w.put(c.id, g.o.Livemode, nullStr(c.email), nullStr(c.name), nullStr(phone), nullStr(desc),
			c.cur.code, balance, delinquent, deleted, unix(c.created), string(b), c.created, g.synced); err != nil {
			return err
		}
	}
	return nil
}

// ---- invoices ----

type seedProduct struct {
	name            string
	cents           int64
	qtyMin, qtyMax  int64
	recurring       bool
	recurringMonths int
}

var seedProducts = []weighted[seedProduct]{
	{seedProduct{"Starter plan", 1900, 1, 1, true, 1}, 20},
	{seedProduct{"Pro plan", 4900, 1, 1, true, 1}, 20},
	{seedProduct{"Business plan", 19900, 1, 1, true, 1}, 8},
	{seedProduct{"Additional seat", 1200, 1, 40, true, 1}, 15},
	{seedProduct{"Enterprise plan (annual)", 1200000, 1, 1, true, 12}, 2},
	{seedProduct{"API requests (per 1,000)", 40, 10, 5000, false, 1}, 10},
	{seedProduct{"Onboarding and setup", 150000, 1, 1, false, 0}, 3},
	{seedProduct{"Priority support", 29900, 1, 1, true, 1}, 5},
	{seedProduct{"SMS credits", 5, 100, 20000, false, 0}, 6},
	{seedProduct{"Storage (per GB)", 25, 10, 2000, false, 1}, 6},
	{seedProduct{"Consulting (hourly)", 18000, 1, 40, false, 0}, 3},
	{seedProduct{"Card reader", 5900, 1, 10, false, 0}, 2},
}

type seedLine struct {
	product seedProduct
	qty     int64
	unit    int64
	amount  int64
	start   int64
	end     int64
}

// seedInvoiceHead is an invoice without its JSON: enough for its charge
// and for the plan.
type seedInvoiceHead struct {
	j          int
	customer   int
	created    int64
	status     string
	collection string
	due        int64 // 0: none
	pastDue    bool
	huge       bool
	cur        seedCurrency
	nlines     int
	lines      [5]seedLine
	subtotal   int64
	tax        int64 // -1: no tax
	total      int64
	attempts   int
	hasCharge  bool
	chargeAt   int64
	r          rng // the stream after the header, for the JSON
}

const day = 86400

// invoiceHead makes invoice j's header. linked counts the charges made for
// invoices so far: an invoice gets one only while the requested charges
// last, otherwise a paid invoice was paid out of band.
func (g *seedGen) invoiceHead(j int, linked *int) seedInvoiceHead {
	r := g.rng(kindInvoice, j)
	h := seedInvoiceHead{j: j, tax: -1}
	t := g.start + int64((float64(j)+r.float())*float64(g.now-g.start)/float64(g.o.Invoices))
	h.customer = g.pickCustomer(&r, t)
	h.created = max(t, g.customerCreated(h.customer)+1800+3600)
	h.created = min(h.created, g.now-60)
	h.cur = g.customerCurrency(h.customer)
	age := g.now - h.created
	if age < 45*day {
		h.status = pick(&r, []weighted[string]{{"draft", 20}, {"open", 45}, {"paid", 30}, {"void", 5}})
	} else {
		h.status = pick(&r, []weighted[string]{{"paid", 85}, {"void", 6}, {"uncollectible", 5}, {"open", 4}})
	}
	h.collection = "charge_automatically"
	if r.chance(0.35) || (h.status == "open" && age >= 45*day) {
		h.collection = "send_invoice"
	}
	if h.status == "uncollectible" {
		h.collection = "charge_automatically"
	}
	if h.collection == "send_invoice" {
		h.due = h.created + int64([]int{14, 30, 30, 45}[r.intn(4)])*day
		h.pastDue = h.status == "open" && h.due < g.now
	}
	h.huge = j%2000 == 7
	if h.huge {
		h.nlines = 1
		amount := int64(1)<<31 + r.between(1, 6_000_000_000)
		h.lines[0] = seedLine{product: seedProduct{name: "Enterprise licence (multi-year)"}, qty: 1, unit: amount, amount: amount}
	} else {
		h.nlines = pick(&r, []weighted[int]{{1, 45}, {2, 25}, {3, 15}, {4, 10}, {5, 5}})
		for i := 0; i < h.nlines; i++ {
			p := pick(&r, seedProducts)
			l := seedLine{product: p, qty: r.between(p.qtyMin, p.qtyMax), unit: h.cur.price(p.cents)}
			l.amount = l.qty * l.unit
			h.lines[i] = l
		}
	}
	for i := 0; i < h.nlines; i++ {
		l := &h.lines[i]
		l.start, l.end = h.created, h.created
		if l.product.recurring {
			l.end = time.Unix(h.created, 0).UTC().AddDate(0, max(l.product.recurringMonths, 1), 0).Unix()
		}
		h.subtotal += l.amount
	}
	if h.cur.taxBP > 0 && r.chance(0.35) {
		h.tax = (h.subtotal*h.cur.taxBP + 5000) / 10000
	}
	h.total = h.subtotal + max(h.tax, 0)
	switch h.status {
	case "paid":
		h.attempts = 1
		h.hasCharge = !h.huge
	case "open":
		if h.collection == "charge_automatically" && r.chance(0.6) {
			h.attempts, h.hasCharge = 1+r.intn(3), true
		}
	case "uncollectible":
		h.attempts, h.hasCharge = 4, true
	}
	if h.hasCharge {
		if *linked >= g.o.Charges {
			h.hasCharge = false
		} else {
			*linked++
		}
	}
	if h.collection == "send_invoice" {
		h.chargeAt = h.created + r.between(day, 25*day)
	} else {
		h.chargeAt = h.created + r.between(60, 2*3600)
	}
	h.chargeAt = min(h.chargeAt, g.now-30)
	h.r = r
	return h
}

// customerCurrency is customer k's currency (the first choice of its
// stream, so it is cheap to remake).
func (g *seedGen) customerCurrency(k int) seedCurrency {
	r := g.rng(kindCustomer, k)
	r.next()
	return pick(&r, seedCurrencies)
}

func (g *seedGen) writeInvoices(w *copyWriter) error {
	g.invoiceNumbers = make([]int32, g.o.Customers)
	linked := 0
	for j := 0; j < g.o.Invoices; j++ {
		h := g.invoiceHead(j, &linked)
		c := g.customer(h.customer)
		if err := g.writeInvoice(w, h, c); err != nil {
			return err
		}
	}
	g.invoiceNumbers = nil
	return nil
}

// writeLines remakes every invoice's lines, as writeInvoices embedded
// them, for invoice_lines (a second COPY cannot run beside the first).
func (g *seedGen) writeLines(w *copyWriter) error {
	linked := 0
	for j := 0; j < g.o.Invoices; j++ {
		h := g.invoiceHead(j, &linked)
		id := g.id("in_", 24, kindInvoice, j)
		for i := 0; i < h.nlines; i++ {
			l := g.line(h, id, i)
			if err := w.put(l.Invoice, l.ID, l.Position, l.Type, l.Description, l.Quantity, l.UnitAmount,
				l.Amount, l.Currency, l.PeriodStart, l.PeriodEnd, string(l.Data)); err != nil {
				return err
			}
		}
	}
	return nil
}

// line makes line i of invoice h, JSON included.
func (g *seedGen) line(h seedInvoiceHead, invoiceID string, i int) InvoiceLine {
	l := h.lines[i]
	index := h.j*8 + i
	id := g.id("il_", 24, kindLine, index)
	typ := "invoiceitem"
	if l.product.recurring {
		typ = "subscription"
	}
	desc := l.product.name
	if l.qty > 1 {
		desc = strconv.FormatInt(l.qty, 10) + " × " + l.product.name
	}
	b := g.lineBuf[:0]
	b = append(b, `{"id":`...)
	b = jstr(b, id)
	b = append(b, `,"object":"line_item","amount":`...)
	b = strconv.AppendInt(b, l.amount, 10)
	b = append(b, `,"amount_excluding_tax":`...)
	b = strconv.AppendInt(b, l.amount, 10)
	b = append(b, `,"currency":`...)
	b = jstr(b, h.cur.code)
	b = append(b, `,"description":`...)
	b = jstr(b, desc)
	b = append(b, `,"discount_amounts":[],"discountable":true,"discounts":[],"invoice":`...)
	b = jstr(b, invoiceID)
	b = append(b, `,"livemode":`...)
	b = strconv.AppendBool(b, g.o.Livemode)
	b = append(b, `,"metadata":{},"period":{"end":`...)
	b = strconv.AppendInt(b, l.end, 10)
	b = append(b, `,"start":`...)
	b = strconv.AppendInt(b, l.start, 10)
	b = append(b, `},"price":{"id":`...)
	b = jstr(b, g.id("price_", 24, kindLine, index))
	b = append(b, `,"object":"price","active":true,"billing_scheme":"per_unit","currency":`...)
	b = jstr(b, h.cur.code)
	b = append(b, `,"nickname":`...)
	b = jstr(b, l.product.name)
	if l.product.recurring {
		b = append(b, `,"recurring":{"interval":"month","interval_count":`...)
		b = strconv.AppendInt(b, int64(max(l.product.recurringMonths, 1)), 10)
		b = append(b, `,"usage_type":"licensed"},"type":"recurring"`...)
	} else {
		b = append(b, `,"recurring":null,"type":"one_time"`...)
	}
	b = append(b, `,"unit_amount":`...)
	b = strconv.AppendInt(b, l.unit, 10)
	b = append(b, `,"unit_amount_decimal":"`...)
	b = strconv.AppendInt(b, l.unit, 10)
	b = append(b, `"},"proration":false,"quantity":`...)
	b = strconv.AppendInt(b, l.qty, 10)
	b = append(b, `,"tax_amounts":[],"tax_rates":[],"type":"`...)
	b = append(b, typ...)
	b = append(b, `"}`...)
	g.lineBuf = b
	qty, unit := l.qty, l.unit
	start, end := unix(l.start), unix(l.end)
	return InvoiceLine{
		Invoice: invoiceID, ID: id, Position: i, Type: &typ, Description: &desc, Quantity: &qty,
		UnitAmount: &unit, Amount: l.amount, Currency: h.cur.code, PeriodStart: &start, PeriodEnd: &end,
		Data: b,
	}
}

func (g *seedGen) writeInvoice(w *copyWriter, h seedInvoiceHead, c seedCust) error {
	r := h.r
	id := g.id("in_", 24, kindInvoice, h.j)
	var number, hosted, pdf, chargeID, piID string
	finalized := h.status != "draft"
	if finalized {
		g.invoiceNumbers[h.customer]++
		number = fmt.Sprintf("%s-%04d", c.prefix, g.invoiceNumbers[h.customer])
		token := r.token(40)
		hosted = "https://invoice.stripe.com/i/acct_1PaydeskSeedDemo/" + g.mode + "_" + token + "?s=ap"
		pdf = "https://pay.stripe.com/invoice/acct_1PaydeskSeedDemo/" + g.mode + "_" + token + "/pdf?s=ap"
	}
	if h.hasCharge {
		chargeID = g.id("ch_", 24, kindInvoiceCharge, h.j)
		piID = g.id("pi_", 24, kindInvoicePI, h.j)
	}
	var paid, remaining int64
	switch h.status {
	case "paid":
		paid = h.total
	case "void":
	default:
		remaining = h.total
	}
	outOfBand := h.status == "paid" && !h.hasCharge
	var tax *int64
	if h.tax >= 0 {
		tax = &h.tax
	}
	var due *time.Time
	if h.due != 0 {
		t := unix(h.due)
		due = &t
	}
	lines := g.pending[:0]
	for i := 0; i < h.nlines; i++ {
		l := g.line(h, id, i)
		l.Data = append([]byte(nil), l.Data...)
		lines = append(lines, l)
	}
	g.pending = lines

	b := g.buf[:0]
	b = append(b, `{"id":`...)
	b = jstr(b, id)
	b = append(b, `,"object":"invoice","account_country":"US","account_name":"Paydesk Demo, Inc.","amount_due":`...)
	b = strconv.AppendInt(b, h.total, 10)
	b = append(b, `,"amount_paid":`...)
	b = strconv.AppendInt(b, paid, 10)
	b = append(b, `,"amount_remaining":`...)
	b = strconv.AppendInt(b, remaining, 10)
	b = append(b, `,"attempt_count":`...)
	b = strconv.AppendInt(b, int64(h.attempts), 10)
	b = append(b, `,"attempted":`...)
	b = strconv.AppendBool(b, h.attempts > 0)
	b = append(b, `,"auto_advance":`...)
	b = strconv.AppendBool(b, h.status == "draft" || h.status == "open")
	b = append(b, `,"billing_reason":`...)
	if h.lines[0].product.recurring {
		b = append(b, `"subscription_cycle"`...)
	} else {
		b = append(b, `"manual"`...)
	}
	b = append(b, `,"charge":`...)
	b = jstrOrNull(b, chargeID)
	b = append(b, `,"collection_method":`...)
	b = jstr(b, h.collection)
	b = append(b, `,"created":`...)
	b = strconv.AppendInt(b, h.created, 10)
	b = append(b, `,"currency":`...)
	b = jstr(b, h.cur.code)
	b = append(b, `,"customer":`...)
	b = jstr(b, c.id)
	b = append(b, `,"customer_email":`...)
	b = jstrOrNull(b, c.email)
	b = append(b, `,"customer_name":`...)
	b = jstrOrNull(b, c.name)
	b = append(b, `,"description":null,"due_date":`...)
	b = jintOrNull(b, h.due)
	b = append(b, `,"effective_at":`...)
	if finalized {
		b = strconv.AppendInt(b, h.created+60, 10)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"hosted_invoice_url":`...)
	b = jstrOrNull(b, hosted)
	b = append(b, `,"invoice_pdf":`...)
	b = jstrOrNull(b, pdf)
	b = append(b, `,"lines":{"object":"list","data":[`...)
	for i, l := range lines {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, l.Data...)
	}
	b = append(b, `],"has_more":false,"total_count":`...)
	b = strconv.AppendInt(b, int64(h.nlines), 10)
	b = append(b, `,"url":"/v1/invoices/`...)
	b = append(b, id...)
	b = append(b, `/lines"},"livemode":`...)
	b = strconv.AppendBool(b, g.o.Livemode)
	b = append(b, `,"metadata":{},"number":`...)
	b = jstrOrNull(b, number)
	b = append(b, `,"paid":`...)
	b = strconv.AppendBool(b, h.status == "paid")
	b = append(b, `,"paid_out_of_band":`...)
	b = strconv.AppendBool(b, outOfBand)
	b = append(b, `,"payment_intent":`...)
	b = jstrOrNull(b, piID)
	b = append(b, `,"period_end":`...)
	b = strconv.AppendInt(b, h.created, 10)
	b = append(b, `,"period_start":`...)
	b = strconv.AppendInt(b, h.created, 10)
	b = append(b, `,"status":`...)
	b = jstr(b, h.status)
	b = append(b, `,"status_transitions":{"finalized_at":`...)
	b = jintOrNull(b, iff(finalized, h.created+60))
	b = append(b, `,"marked_uncollectible_at":`...)
	b = jintOrNull(b, iff(h.status == "uncollectible", min(h.created+30*day, g.now-1)))
	b = append(b, `,"paid_at":`...)
	b = jintOrNull(b, iff(h.status == "paid", h.chargeAt))
	b = append(b, `,"voided_at":`...)
	b = jintOrNull(b, iff(h.status == "void", min(h.created+3*day, g.now-1)))
	b = append(b, `},"subtotal":`...)
	b = strconv.AppendInt(b, h.subtotal, 10)
	b = append(b, `,"subtotal_excluding_tax":`...)
	b = strconv.AppendInt(b, h.subtotal, 10)
	b = append(b, `,"tax":`...)
	b = jintPtr(b, tax)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, h.total, 10)
	b = append(b, `,"total_excluding_tax":`...)
	b = strconv.AppendInt(b, h.subtotal, 10)
	b = append(b, `}`...)
	g.buf = b

	hash := linesHash(lines)
	return w.put(id, g.o.Livemode, c.id, nullStr(c.email), nullStr(c.name), nullStr(number), h.status,
		h.collection, h.cur.code, h.subtotal, tax, h.total, h.total, paid, remaining, due, unix(h.created),
		nullStr(hosted), nullStr(pdf), nullStr(chargeID), nullStr(piID), int64(h.nlines), string(b), h.created, hash, g.synced)
}

// ---- charges and refunds ----

// seedCharge is a charge without its JSON, and its refunds.
type seedCharge struct {
	id, pi      string
	customer    *seedCust
	invoice     string
	amount      int64
	cur         seedCurrency
	status      string
	created     int64
	disputed    bool
	card        seedCard
	description string
	refunded    int64 // sum of succeeded refunds
	refunds     []seedRefund
	r           rng
}

type seedRefund struct {
	index              int
	id, status, reason string
	amount             int64
	created            int64
}

var failures = []weighted[[3]string]{
	{[3]string{"card_declined", "Your card was declined.", "generic_decline"}, 50},
	{[3]string{"card_declined", "Your card has insufficient funds.", "insufficient_funds"}, 25},
	{[3]string{"expired_card", "Your card has expired.", "expired_card"}, 10},
	{[3]string{"incorrect_cvc", "Your card's security code is incorrect.", "incorrect_cvc"}, 8},
	{[3]string{"processing_error", "An error occurred while processing your card. Try again in a little bit.", "processing_error"}, 7},
}

var chargeDescriptions = []string{"Order #%d", "Top-up %d", "Subscription renewal", "Gift card", "Workshop ticket", "Replacement parts #%d"}

// standaloneStatus is the status of standalone charge i: the first draw of
// its stream, so the plan can count succeeded charges cheaply.
func (g *seedGen) standaloneStatus(i int) string {
	r := g.rng(kindCharge, i)
	return pick(&r, []weighted[string]{{"succeeded", 88}, {"failed", 9}, {"pending", 3}})
}

// charges makes every charge in order, invoice-linked first, then
// standalone, deciding the refunds as it goes; each is handed to fn. The
// refund allocation is sequential, so the charges and refunds phases both
// call this and see the same refunds.
func (g *seedGen) charges(fn func(ch *seedCharge) error) error {
	refundsLeft, succeededLeft, refundIndex := g.o.Refunds, g.succeeded, 0
	alloc := g.rng(kindRefundAlloc, 0)
	refunds := make([]seedRefund, 0, maxRefundsPerCharge)
	var cust seedCust
	decide := func(ch *seedCharge) {
		ch.refunds = refunds[:0]
		if ch.status != "succeeded" {
			return
		}
		// Every refund must land on some succeeded charge: at least
		// `least` go here, or the charges left could not take the rest.
		least := max(0, refundsLeft-maxRefundsPerCharge*(succeededLeft-1))
		n := least
		if refundsLeft > 0 && alloc.chance(float64(refundsLeft)/(float64(succeededLeft)*1.2)) {
			n = max(n, pick(&alloc, []weighted[int]{{1, 85}, {2, 11}, {3, 4}}))
		}
		n = min(n, refundsLeft, maxRefundsPerCharge)
		succeededLeft--
		refundsLeft -= n
		if n == 0 {
			return
		}
		r := g.rng(kindRefund, refundIndex)
		budget := ch.amount
		if n == 1 && r.chance(0.45) || ch.amount < 10 {
			budget = max(ch.amount*int64(10+r.intn(80))/100, int64(n))
		}
		reason := pick(&r, []weighted[string]{{"requested_by_customer", 70}, {"duplicate", 15}, {"fraudulent", 10}, {"", 5}})
		at := ch.created
		for i := 0; i < n; i++ {
			amount := budget / int64(n-i)
			if i < n-1 {
				amount = max(1, amount*int64(50+r.intn(100))/100)
				amount = min(amount, budget-int64(n-i-1))
			} else {
				amount = budget
			}
			budget -= amount
			at = min(at+r.between(3600, 20*day), g.now-1)
			status := pick(&r, []weighted[string]{{"succeeded", 96}, {"pending", 3}, {"failed", 1}})
			if status == "succeeded" {
				ch.refunded += amount
			}
			ch.refunds = append(ch.refunds, seedRefund{
				index: refundIndex, id: g.id("re_", 24, kindRefund, refundIndex), status: status, reason: reason, amount: amount, created: at,
			})
			refundIndex++
		}
	}

	linked := 0
	for j := 0; j < g.o.Invoices && linked < g.o.Charges; j++ {
		h := g.invoiceHead(j, &linked)
		if !h.hasCharge {
			continue
		}
		cust = g.customer(h.customer)
		ch := seedCharge{
			id: g.id("ch_", 24, kindInvoiceCharge, j), pi: g.id("pi_", 24, kindInvoicePI, j),
			customer: &cust, invoice: g.id("in_", 24, kindInvoice, j), amount: h.total, cur: h.cur,
			status: "succeeded", created: h.chargeAt, card: cust.card, r: g.rng(kindInvoiceCharge, j),
		}
		if h.status != "paid" {
			ch.status = "failed"
		}
		ch.description = "Payment for Invoice"
		ch.disputed = ch.status == "succeeded" && ch.r.chance(0.005)
		decide(&ch)
		if err := fn(&ch); err != nil {
			return err
		}
	}
	for i := 0; i < g.o.Charges-g.linkedCharges; i++ {
		r := g.rng(kindCharge, i)
		ch := seedCharge{
			id: g.id("ch_", 24, kindCharge, i), pi: g.id("pi_", 24, kindChargePI, i),
			status: pick(&r, []weighted[string]{{"succeeded", 88}, {"failed", 9}, {"pending", 3}}),
		}
		t := g.start + int64((float64(i)+r.float())*float64(g.now-g.start)/float64(g.o.Charges-g.linkedCharges))
		if r.chance(0.05) { // a guest checkout, no customer
			ch.cur = pick(&r, seedCurrencies)
			ch.card = r.card(ch.cur.country, g.now)
			ch.created = t
		} else {
			cust = g.customer(g.pickCustomer(&r, t))
			ch.customer = &cust
			ch.cur, ch.card = cust.cur, cust.card
			ch.created = max(t, cust.created+60)
			if r.chance(0.2) { // another card
				ch.card = r.card(ch.cur.country, g.now)
			}
		}
		ch.created = min(ch.created, g.now-30)
		ch.amount = ch.cur.price(pick(&r, []weighted[int64]{{r.between(50, 2000), 40}, {r.between(2000, 20000), 40}, {r.between(20000, 200000), 18}, {r.between(200000, 2000000), 2}}))
		d := chargeDescriptions[r.intn(len(chargeDescriptions))]
		if strings.Contains(d, "%d") {
			d = fmt.Sprintf(d, 10000+r.intn(90000))
		}
		ch.description = d
		ch.disputed = ch.status == "succeeded" && r.chance(0.005)
		ch.r = r
		decide(&ch)
		if err := fn(&ch); err != nil {
			return err
		}
	}
	if refundsLeft != 0 {
		return fmt.Errorf("%d refunds left unplaced (the plan and the charges disagree)", refundsLeft)
	}
	return nil
}

func (g *seedGen) writeCharges(w *copyWriter) error {
	return g.charges(func(ch *seedCharge) error {
		r := ch.r
		succeeded := ch.status == "succeeded"
		var captured int64
		if ch.status != "failed" {
			captured = ch.amount
		}
		var failure [3]string
		if ch.status == "failed" {
			failure = pick(&r, failures)
		}
		var receipt, receiptEmail, billingName, billingEmail, custID string
		if ch.customer != nil {
			custID, billingName, billingEmail = ch.customer.id, ch.customer.name, ch.customer.email
		} else {
			f, l := firstNames[r.intn(len(firstNames))], lastNames[r.intn(len(lastNames))]
			billingName = f.display + " " + l.display
			billingEmail = f.ascii + "." + l.ascii + "@" + emailDomains[r.intn(len(emailDomains))]
		}
		if succeeded {
			receipt = fmt.Sprintf("%04d-%04d", r.intn(10000), r.intn(10000))
			receiptEmail = billingEmail
		}
		refunded := ch.refunded == ch.amount

		b := g.buf[:0]
		b = append(b, `{"id":`...)
		b = jstr(b, ch.id)
		b = append(b, `,"object":"charge","amount":`...)
		b = strconv.AppendInt(b, ch.amount, 10)
		b = append(b, `,"amount_captured":`...)
		b = strconv.AppendInt(b, captured, 10)
		b = append(b, `,"amount_refunded":`...)
		b = strconv.AppendInt(b, ch.refunded, 10)
		b = append(b, `,"application":null,"application_fee":null,"application_fee_amount":null,"balance_transaction":`...)
		if ch.status == "failed" {
			b = append(b, "null"...)
		} else {
			b = jstr(b, "txn_"+r.token(24))
		}
		b = append(b, `,"billing_details":{"address":{"city":null,"country":`...)
		b = jstr(b, ch.card.country)
		b = append(b, `,"line1":null,"line2":null,"postal_code":null,"state":null},"email":`...)
		b = jstrOrNull(b, billingEmail)
		b = append(b, `,"name":`...)
		b = jstrOrNull(b, billingName)
		b = append(b, `,"phone":null},"calculated_statement_descriptor":"PAYDESK DEMO","captured":`...)
		b = strconv.AppendBool(b, ch.status != "failed")
		b = append(b, `,"created":`...)
		b = strconv.AppendInt(b, ch.created, 10)
		b = append(b, `,"currency":`...)
		b = jstr(b, ch.cur.code)
		b = append(b, `,"customer":`...)
		b = jstrOrNull(b, custID)
		b = append(b, `,"description":`...)
		b = jstr(b, ch.description)
		b = append(b, `,"disputed":`...)
		b = strconv.AppendBool(b, ch.disputed)
		b = append(b, `,"failure_balance_transaction":null,"failure_code":`...)
		b = jstrOrNull(b, failure[0])
		b = append(b, `,"failure_message":`...)
		b = jstrOrNull(b, failure[1])
		b = append(b, `,"fraud_details":{},"invoice":`...)
		b = jstrOrNull(b, ch.invoice)
		b = append(b, `,"livemode":`...)
		b = strconv.AppendBool(b, g.o.Livemode)
		b = append(b, `,"metadata":{},"on_behalf_of":null,"outcome":`...)
		switch ch.status {
		case "succeeded":
			b = append(b, `{"network_status":"approved_by_network","reason":null,"risk_level":"normal","risk_score":`...)
			b = strconv.AppendInt(b, int64(r.intn(65)), 10)
			b = append(b, `,"seller_message":"Payment complete.","type":"authorized"}`...)
		case "failed":
			b = append(b, `{"network_status":"declined_by_network","reason":`...)
			b = jstr(b, failure[2])
			b = append(b, `,"risk_level":"normal","risk_score":`...)
			b = strconv.AppendInt(b, int64(r.intn(65)), 10)
			b = append(b, `,"seller_message":"The bank did not return any further details with this decline.","type":"issuer_declined"}`...)
		default:
			b = append(b, "null"...)
		}
		b = append(b, `,"paid":`...)
		b = strconv.AppendBool(b, succeeded)
		b = append(b, `,"payment_intent":`...)
		b = jstr(b, ch.pi)
		b = append(b, `,"payment_method":`...)
		b = jstr(b, "pm_"+r.token(24))
		b = append(b, `,"payment_method_details":{"card":{"amount_authorized":`...)
		b = jintOrNull(b, iff(ch.status != "failed", ch.amount))
		b = append(b, `,"brand":`...)
		b = jstr(b, ch.card.brand)
		b = append(b, `,"checks":{"address_line1_check":null,"address_postal_code_check":null,"cvc_check":"pass"},"country":`...)
		b = jstr(b, ch.card.country)
		b = append(b, `,"exp_month":`...)
		b = strconv.AppendInt(b, int64(ch.card.expMonth), 10)
		b = append(b, `,"exp_year":`...)
		b = strconv.AppendInt(b, int64(ch.card.expYear), 10)
		b = append(b, `,"fingerprint":`...)
		b = jstr(b, ch.card.fingerprint)
		b = append(b, `,"funding":`...)
		b = jstr(b, ch.card.funding)
		b = append(b, `,"installments":null,"last4":`...)
		b = jstr(b, ch.card.last4)
		b = append(b, `,"mandate":null,"network":`...)
		b = jstr(b, ch.card.brand)
		b = append(b, `,"three_d_secure":null,"wallet":null},"type":"card"},"receipt_email":`...)
		b = jstrOrNull(b, receiptEmail)
		b = append(b, `,"receipt_number":`...)
		b = jstrOrNull(b, receipt)
		b = append(b, `,"receipt_url":`...)
		if succeeded {
			b = jstr(b, "https://pay.stripe.com/receipts/payment/"+r.token(48))
		} else {
			b = append(b, "null"...)
		}
		b = append(b, `,"refunded":`...)
		b = strconv.AppendBool(b, refunded)
		b = append(b, `,"review":null,"shipping":null,"source_transfer":null,"statement_descriptor":null,"statement_descriptor_suffix":null,"status":`...)
		b = jstr(b, ch.status)
		b = append(b, `,"transfer_data":null,"transfer_group":null}`...)
		g.buf = b

		return w.put(ch.id, g.o.Livemode, nullStr(custID), nullStr(ch.invoice), ch.pi, ch.amount, captured,
			ch.refunded, ch.cur.code, ch.status, succeeded, ch.status != "failed", refunded, ch.disputed,
			nullStr(failure[0]), nullStr(failure[1]), ch.description, nullStr(receiptEmail), nullStr(receipt),
			nullStr(billingName), ch.card.brand, ch.card.last4, unix(ch.created), string(b), ch.created, g.synced)
	})
}

func (g *seedGen) writeRefunds(w *copyWriter) error {
	failureReasons := []string{"lost_or_stolen_card", "expired_or_canceled_card", "unknown"}
	return g.charges(func(ch *seedCharge) error {
		for _, re := range ch.refunds {
			r := g.rng(kindToken, re.index)
			var receipt, failure string
			if re.status == "succeeded" && r.chance(0.5) {
				receipt = fmt.Sprintf("%04d-%04d", r.intn(10000), r.intn(10000))
			}
			if re.status == "failed" {
				failure = failureReasons[r.intn(len(failureReasons))]
			}
			b := g.buf[:0]
			b = append(b, `{"id":`...)
			b = jstr(b, re.id)
			b = append(b, `,"object":"refund","amount":`...)
			b = strconv.AppendInt(b, re.amount, 10)
			b = append(b, `,"balance_transaction":`...)
			if re.status == "succeeded" {
				b = jstr(b, "txn_"+r.token(24))
			} else {
				b = append(b, "null"...)
			}
			b = append(b, `,"charge":`...)
			b = jstr(b, ch.id)
			b = append(b, `,"created":`...)
			b = strconv.AppendInt(b, re.created, 10)
			b = append(b, `,"currency":`...)
			b = jstr(b, ch.cur.code)
			b = append(b, `,"destination_details":{"card":{"reference_status":"available","reference_type":"acquirer_reference_number","type":"refund"},"type":"card"},"failure_reason":`...)
			b = jstrOrNull(b, failure)
			b = append(b, `,"metadata":{},"payment_intent":`...)
			b = jstr(b, ch.pi)
			b = append(b, `,"reason":`...)
			b = jstrOrNull(b, re.reason)
			b = append(b, `,"receipt_number":`...)
			b = jstrOrNull(b, receipt)
			b = append(b, `,"source_transfer_reversal":null,"status":`...)
			b = jstr(b, re.status)
			b = append(b, `,"transfer_reversal":null}`...)
			g.buf = b
			if err := w.put(re.id, g.o.Livemode, ch.id, ch.pi, re.amount, ch.cur.code, re.status, nullStr(re.reason),
				nullStr(receipt), nullStr(failure), unix(re.created), string(b), re.created, g.synced); err != nil {
				return err
			}
		}
		return nil
	})
}

// ---- JSON and value helpers ----

// jstr appends s as a JSON string.
func jstr(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func jstrOrNull(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return jstr(b, s)
}

func jintOrNull(b []byte, v int64) []byte {
	if v == 0 {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, v, 10)
}

func jintPtr(b []byte, v *int64) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, *v, 10)
}

func jmeta(b []byte, kv [][2]string) []byte {
	b = append(b, '{')
	for i, p := range kv {
		if i > 0 {
			b = append(b, ',')
		}
		b = jstr(b, p[0])
		b = append(b, ':')
		b = jstr(b, p[1])
	}
	return append(b, '}')
}

func iff(cond bool, v int64) int64 {
	if cond {
		return v
	}
	return 0
}

// nullStr is s, or NULL for "".
func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func unix(sec int64) time.Time { return time.Unix(sec, 0).UTC() }
