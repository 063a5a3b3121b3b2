package handlers

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"paydesk/store"
)

// overviewReader is what the overview page reads.
type overviewReader interface {
	Summary(ctx context.Context, days []time.Time, now time.Time) (store.Summary, error)
	RecentActivity(ctx context.Context, limit int) ([]store.Activity, error)
	EventQueue(ctx context.Context) (store.EventQueue, error)
}

// The overview's periods: the last N days, today included, or a custom
// range of whole days.
const (
	periodDefault = "30d"
	periodCustom  = "custom"
	// maxCustomDays bounds a custom range, so the daily chart stays
	// readable and the query bounded.
	maxCustomDays = 731
	dateLayout    = "2006-01-02"
)

// periodDays is how many days each fixed period covers, today included.
// 12m is the same date a year ago (exclusive) through today.
var periodDays = map[string]func(today time.Time) time.Time{
	"7d":  func(today time.Time) time.Time { return today.AddDate(0, 0, -6) },
	"30d": func(today time.Time) time.Time { return today.AddDate(0, 0, -29) },
	"90d": func(today time.Time) time.Time { return today.AddDate(0, 0, -89) },
	"12m": func(today time.Time) time.Time { return today.AddDate(-1, 0, 1) },
}

// period is a chosen range of whole days in the display time zone.
type period struct {
	Name     string // 7d, 30d, 90d, 12m or custom
	From, To string // the custom range as typed (YYYY-MM-DD), else ""
	// Days are the midnights from the first day to the day after the last
	// one, in the display zone: len(Days)-1 days.
	Days []time.Time
}

// first and last are the period's first and last days.
func (p period) first() time.Time { return p.Days[0] }
func (p period) last() time.Time  { return p.Days[len(p.Days)-2] }

// badParam is a query parameter the page refuses, with why.
type badParam struct{ name, msg string }

func (e *badParam) Error() string { return fmt.Sprintf("%s: %s", e.name, e.msg) }

// parsePeriod reads period, from and to from q as whole days in loc,
// relative to now. A from or to without a period means a custom range.
func parsePeriod(q url.Values, now time.Time, loc *time.Location) (period, error) {
	p := period{Name: q.Get("period")}
	fromText, toText := q.Get("from"), q.Get("to")
	if p.Name == "" {
		p.Name = periodDefault
		if fromText != "" || toText != "" {
			p.Name = periodCustom
		}
	}
	// A date that cannot be read is refused even when the period does not
	// use it, rather than silently ignored.
	from, err := parseDay("from", fromText, loc)
	if err != nil {
		return p, err
	}
	to, err := parseDay("to", toText, loc)
	if err != nil {
		return p, err
	}
	local := now.In(loc)
	today := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	var first, last time.Time
	if start, ok := periodDays[p.Name]; ok {
		first, last = start(today), today
	} else if p.Name == periodCustom {
		switch {
		case fromText == "":
			return p, &badParam{"from", "a custom period needs a start date (YYYY-MM-DD)"}
		case toText == "":
			return p, &badParam{"to", "a custom period needs an end date (YYYY-MM-DD)"}
		case to.Before(from):
			return p, &badParam{"to", "the end date is before the start date"}
		}
		first, last = from, to
		p.From, p.To = fromText, toText
	} else {
		return p, &badParam{"period", "choose one of 7d, 30d, 90d, 12m or custom"}
	}
	// Calendar days, not 24-hour steps: a day with a DST change is 23 or
	// 25 hours long.
	for d := first; !d.After(last); d = nextDay(d) {
		if len(p.Days) == maxCustomDays {
			return p, &badParam{"to", fmt.Sprintf("a custom period covers at most %d days", maxCustomDays)}
		}
		p.Days = append(p.Days, d)
	}
	p.Days = append(p.Days, nextDay(last))
	return p, nil
}

// parseDay reads a YYYY-MM-DD date as the midnight starting it in loc; ""
// is the zero time.
func parseDay(name, s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(dateLayout, s, loc)
	if err != nil || t.Year() < 2000 || t.Year() > 9999 {
		return time.Time{}, &badParam{name, fmt.Sprintf("%q is not a date in the form YYYY-MM-DD (from the year 2000)", s)}
	}
	return t, nil
}

// nextDay is the midnight after the day d starts, in d's zone.
func nextDay(d time.Time) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, d.Location())
}
