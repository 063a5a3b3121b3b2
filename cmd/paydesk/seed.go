package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"paydesk/store"
)

const seedUsage = `seed [--customers N] [--invoices N] [--charges N] [--refunds N] [--seed N] [--append]

Fills the mirror (DATABASE_URL) with made-up, internally consistent
customers, invoices with their lines, charges and refunds, spread over the
last two years, for demos and benchmarks. The same --seed and counts give
the same objects. Rows are written with COPY in one transaction, so an
interrupted seed leaves nothing behind; the tables are vacuumed and analyzed after.

Livemode follows STRIPE_LIVE_MODE, like the rest of paydesk. No Stripe key
is needed: nothing is sent to Stripe.

It refuses a mirror that already holds rows, so a real mirror is not mixed
with made-up data by accident; --append seeds into it anyway (use a --seed
not used before on that database).`

func runSeed(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "seed", seedUsage)
	var o store.SeedOptions
	fs.IntVar(&o.Customers, "customers", 1000, "customers to make")
	fs.IntVar(&o.Invoices, "invoices", 3000, "invoices to make (each with 1 to 5 lines)")
	fs.IntVar(&o.Charges, "charges", 10000, "charges to make (paid invoices' charges included)")
	fs.IntVar(&o.Refunds, "refunds", 1000, "refunds to make, of succeeded charges")
	seed := fs.String("seed", "1", "seed for the generator: an unsigned integer")
	fs.BoolVar(&o.Append, "append", false, "seed into a mirror that already holds rows")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var err error
	if o.Seed, err = strconv.ParseUint(*seed, 10, 64); err != nil {
		return usageError("--seed: want an unsigned integer, got %q", *seed)
	}
	if err := store.CheckSeedCounts(o); err != nil {
		return usageError("%v", err)
	}
	cfg, err := loadEnvConfig(env)
	if err != nil {
		return err
	}
	o.Livemode = cfg.LiveMode
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if current, err := st.MigrationsCurrent(ctx); err != nil || !current {
		if err == nil {
			err = errors.New("the database schema is not current: run paydesk migrate first")
		}
		return err
	}

	// Progress: one log line every 5 seconds for the table being written.
	var mu sync.Mutex
	var last time.Time
	o.Progress = func(table string, done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last) < 5*time.Second || done == total {
			return
		}
		last = time.Now()
		if table == "invoice_lines" {
			env.log.Info("seeding", "table", table, "rows", done, "of about", total)
		} else {
			env.log.Info("seeding", "table", table, "rows", done, "of", total)
		}
	}
	last = time.Now()
	mode := "test"
	if o.Livemode {
		mode = "live"
	}
	fmt.Fprintf(env.stdout, "seeding the %s-mode mirror (seed %d)\n", mode, o.Seed)
	sum, err := st.Seed(ctx, o)
	var notEmpty *store.MirrorNotEmptyError
	switch {
	case errors.As(err, &notEmpty):
		return fmt.Errorf("%v: seed fills an empty mirror only, so made-up data is not mixed with real data by accident; pass --append to add to it anyway", notEmpty)
	case errors.Is(err, store.ErrSeedCollision):
		return errors.New("the generated ids collide with rows already stored: this --seed was already used on this database; pick another --seed")
	case ctx.Err() != nil && !sum.Committed:
		return &exitError{130, errors.New("interrupted; nothing was stored")}
	case err != nil:
		return err
	}
	for _, row := range []struct {
		name string
		n    int64
	}{{"customers", sum.Customers}, {"invoices", sum.Invoices}, {"invoice_lines", sum.Lines}, {"charges", sum.Charges}, {"refunds", sum.Refunds}} {
		fmt.Fprintf(env.stdout, "  %-13s %9d  %8s (indexes %s)\n", row.name, row.n,
			sum.Took[row.name].Round(time.Millisecond), sum.IndexTook[row.name].Round(time.Millisecond))
	}
	fmt.Fprintf(env.stdout, "  %-13s %9s  %8s\n", "vacuum", "", sum.Took["vacuum"].Round(time.Millisecond))
	fmt.Fprintf(env.stdout, "seeded in %s\n", sum.Total.Round(time.Millisecond))
	return nil
}
