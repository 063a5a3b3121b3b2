package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"paydesk/stripeapi/backfill"
	"paydesk/stripeapi/verify"
)

const verifyUsage = `verify [--sample N | --all] [--types customers,invoices,charges,refunds] [--fix] [--json]

Compares the mirror with Stripe and reports drift: the objects of each type
on both sides, and for each object compared the fields paydesk shows and
totals on (customers: email, name, deleted, balance, currency; invoices:
status, totals, currency, number and sum of lines; charges: amount,
amount_refunded, refunded, status, disputed, currency; refunds: amount,
status, charge, currency).

By default it fetches a random sample of the mirror's objects from Stripe
one by one (--sample N per type, 100 unless given). --all lists the whole
account instead, as paydesk sync does, which also finds objects missing
from either side and counts Stripe's objects.

--fix re-fetches each drifted object from Stripe and stores it, then checks
it again. A customer or invoice Stripe does not have is marked deleted; a
charge or refund it does not have is reported and left alone.

Exit status: 0 no drift (or all of it fixed), 1 drift remains, 2 error.`

// driftLimitDefault is how many differences the text report lists.
const driftLimitDefault = 50

func runVerify(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "verify", verifyUsage)
	sample := fs.Int("sample", verify.DefaultSample, "objects per type to fetch and compare")
	all := fs.Bool("all", false, "list every object on Stripe instead of a sample")
	types := fs.String("types", strings.Join(backfill.Objects, ","), "object types to compare, comma-separated")
	fix := fs.Bool("fix", false, "re-fetch what drifted from Stripe and store it")
	asJSON := fs.Bool("json", false, "print the report as JSON, every difference included")
	limit := fs.Int("limit", driftLimitDefault, "differences to list in the text report")
	rate := fs.Float64("rate", -1, "Stripe requests per second (default 25 in test mode, 100 in live mode; 0 = unlimited)")
	workers := fs.Int("workers", 4, "requests or list windows in flight at once")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	sampleSet := false
	fs.Visit(func(f *flag.Flag) { sampleSet = sampleSet || f.Name == "sample" })
	switch {
	case *all && sampleSet:
		return usageError("--sample and --all: choose one")
	case *sample < 1:
		return usageError("--sample: want at least 1")
	case *workers < 1:
		return usageError("--workers: want at least 1")
	case *limit < 0:
		return usageError("--limit: want 0 or more")
	}
	objects, err := backfill.ParseObjects(*types)
	if err != nil {
		return usageError("--types: %v", err)
	}
	cfg, err := loadEnvConfig(env)
	if err != nil {
		return err
	}
	api, st, err := connect(ctx, cfg, *rate)
	if err != nil {
		return &exitError{2, err}
	}
	defer st.Close()

	report, err := verify.Run(ctx, st, api, verify.Options{
		Types: objects, All: *all, Sample: *sample, Fix: *fix, Workers: *workers, Log: env.log,
	})
	if err != nil {
		if ctx.Err() != nil {
			return &exitError{2, errors.New("interrupted")}
		}
		return &exitError{2, friendlyStripeError(err)}
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return &exitError{2, err}
		}
	} else {
		printVerifyReport(env.stdout, report, *fix, *limit)
	}
	if n := report.Unfixed(); n > 0 {
		return &exitError{1, fmt.Errorf("drift found: %d %s not fixed", n, plural(n, "difference", "differences"))}
	}
	return nil
}

// printVerifyReport writes the summary table, then the differences (at
// most limit of them), then what to do next.
func printVerifyReport(w io.Writer, r *verify.Report, fixed bool, limit int) {
	mode := "test mode"
	if r.Livemode {
		mode = "live mode"
	}
	if r.Mode == "all" {
		fmt.Fprintf(w, "Compared every object created before %s, %s", r.Until.UTC().Format("2006-01-02 15:04:05 UTC"), mode)
	} else {
		fmt.Fprintf(w, "Compared a random sample of the mirror's objects, %s", mode)
	}
	fmt.Fprintf(w, " (%d Stripe %s, %s).\n\n", r.Requests, plural(int(r.Requests), "request", "requests"), r.Duration.Round(time.Millisecond))

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "type\tin mirror\ton Stripe\tcompared\tdrifted\tonly on Stripe\tonly in mirror\tunsettled\t"
	if fixed {
		header += "fixed\t"
	}
	fmt.Fprintln(tw, header)
	unsettled, drifted := 0, 0
	for _, t := range r.Types {
		stripe := "-"
		if t.Stripe >= 0 {
			stripe = fmt.Sprint(t.Stripe)
		}
		row := fmt.Sprintf("%s\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t", t.Type, t.Mirror, stripe, t.Compared, t.Drifted, t.OnlyStripe, t.OnlyMirror, t.Unsettled)
		if fixed {
			row += fmt.Sprintf("%d\t", t.Fixed)
		}
		fmt.Fprintln(tw, row)
		unsettled += t.Unsettled
		drifted += t.Drifted
	}
	_ = tw.Flush()
	if r.Mode != "all" {
		fmt.Fprintln(w, "(a sample fetches objects one by one and does not count Stripe's: use --all for that)")
	}

	if len(r.Drifts) > 0 {
		fmt.Fprintf(w, "\n%d %s (amounts in minor units):\n", len(r.Drifts), plural(len(r.Drifts), "difference", "differences"))
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		header := "TYPE\tID\tFIELD\tMIRROR\tSTRIPE"
		if fixed {
			header += "\tFIX"
		}
		fmt.Fprintln(tw, header)
		for i, d := range r.Drifts {
			if i == limit {
				break
			}
			row := fmt.Sprintf("%s\t%s\t%s\t%s\t%s", d.Type, d.ID, d.Field, d.Mirror, d.Stripe)
			if fixed {
				if d.Fixed {
					row += "\tfixed"
				} else {
					row += "\tnot fixed: " + d.Note
				}
			}
			fmt.Fprintln(tw, row)
		}
		_ = tw.Flush()
		if more := len(r.Drifts) - limit; more > 0 {
			fmt.Fprintf(w, "... and %d more (--json lists every one)\n", more)
		}
	}

	fmt.Fprintln(w)
	unfixed := r.Unfixed()
	switch {
	case len(r.Drifts) == 0:
		fmt.Fprintln(w, "No drift: the mirror agrees with Stripe.")
	case fixed && unfixed == 0:
		fmt.Fprintf(w, "Fixed %d drifted %s: the mirror agrees with Stripe on them again.\n", drifted, plural(drifted, "object", "objects"))
	case fixed:
		fmt.Fprintf(w, "%d %s not fixed: see the notes above.\n", unfixed, plural(unfixed, "difference", "differences"))
	default:
		fmt.Fprintf(w, "Drift in %d %s. Run paydesk verify --fix to re-fetch them from Stripe.\n", drifted, plural(drifted, "object", "objects"))
	}
	if unsettled > 0 {
		fmt.Fprintf(w, "%d %s changed in the mirror while verify ran and %s not judged: run verify again to check them.\n",
			unsettled, plural(unsettled, "object", "objects"), plural(unsettled, "was", "were"))
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
