package views

import (
	"strconv"

	"paydesk/store/money"
)

// HomeData is the overview page: the period chosen, per-currency figures,
// the daily chart, recent activity and, for admins, the event queue.
type HomeData struct {
	Period PeriodForm
	// RangeLabel names the period's days and zone: "1 Mar 2025 – 30 Mar
	// 2025 (Europe/Paris)".
	RangeLabel string
	// SelfURL is this page's URL with its query, which the live panel
	// re-fetches.
	SelfURL    string
	Currencies []CurrencyFigures
	Chart      Chart
	Activity   []ActivityRow

	ShowEvents                                        bool // admins only
	QueuedEvents, FailedEvents, OtherAPIVersionEvents int64
}

// PeriodForm is the period chooser as the URL holds it.
type PeriodForm struct {
	Period   string // 7d, 30d, 90d, 12m or custom
	From, To string // YYYY-MM-DD, for custom
	Currency string // the chart's currency, when chosen in the URL
}

// PeriodChoices are the periods offered, value and label.
var PeriodChoices = []struct{ Value, Label string }{
	{"7d", "Last 7 days"}, {"30d", "Last 30 days"}, {"90d", "Last 90 days"},
	{"12m", "Last 12 months"}, {"custom", "Custom range"},
}

// CurrencyFigures is one currency's summary, each amount formatted.
type CurrencyFigures struct {
	Currency, Code                 string
	Gross, Refunds, Net            string
	NetNegative                    bool
	Payments, FailedPayments       string
	OpenInvoices, PastDue          string
	OpenInvoiceCount, PastDueCount string
	HasPastDue                     bool
}

// Chart is the daily gross volume of one currency. Amounts stay in minor
// units; the view lays out the SVG from them.
type Chart struct {
	Currency string // lower-case code; "" when there is nothing to chart
	Days     []ChartDay
	// Choices link to the chart of each currency with figures.
	Choices []ChartChoice
}

// ChartDay is one day of the chart.
type ChartDay struct {
	Date   string // YYYY-MM-DD in the display zone
	Label  string // "Mon 3 Mar 2025"
	Short  string // "3 Mar", for the axis
	Month  string // "Mar 2025", for the axis of long periods
	First  bool   // first day of its month
	Amount int64
}

// ChartChoice is a link to another currency's chart.
type ChartChoice struct {
	Code, Href string
	Current    bool
}

// ActivityRow is one recent change, preformatted.
type ActivityRow struct {
	Kind, ID, Href string
	When           string
	Amount, Status string
	Label          string
}

// The chart's drawing area, in SVG user units.
const (
	chartWidth   = 720
	chartHeight  = 260
	chartLeft    = 96 // room for the amount labels
	chartRight   = 8
	chartTop     = 12
	chartBottom  = 36 // room for the date labels
	chartTickNum = 4
)

// chartBar is one day's bar, laid out.
type chartBar struct {
	X, Y, W, H string
	Day        ChartDay
	Amount     string // formatted
	Major      string // major units, for the data attribute
}

// chartTick is one axis label and its position.
type chartTick struct {
	Pos   string
	Label string
}

// chartLayout is the chart drawn: bars, the amount axis and the date axis.
type chartLayout struct {
	Bars          []chartBar
	YTicks        []chartTick
	XTicks        []chartTick
	Width, Height string
	PlotLeft      string
	PlotRight     string
	Baseline      string
	Max           string // the top of the amount axis, formatted
}

// layout lays the chart out: the amount axis runs from zero to a round
// value at or above the largest day, in chartTickNum steps of 1, 2 or 5
// times a power of ten minor units.
func (c Chart) layout() chartLayout {
	l := chartLayout{Width: itoa(chartWidth), Height: itoa(chartHeight), PlotLeft: itoa(chartLeft),
		PlotRight: itoa(chartWidth - chartRight), Baseline: itoa(chartHeight - chartBottom)}
	var peak int64
	for _, d := range c.Days {
		peak = max(peak, d.Amount)
	}
	step := niceStep(peak, chartTickNum)
	top := step * chartTickNum
	plotH := float64(chartHeight - chartTop - chartBottom)
	plotW := float64(chartWidth - chartLeft - chartRight)
	for i := 0; i <= chartTickNum; i++ {
		v := step * int64(i)
		l.YTicks = append(l.YTicks, chartTick{Pos: ftoa(float64(chartHeight-chartBottom) - plotH*float64(i)/chartTickNum),
			Label: money.Format(v, c.Currency)})
	}
	l.Max = money.Format(top, c.Currency)
	n := len(c.Days)
	if n == 0 {
		return l
	}
	slot := plotW / float64(n)
	gap := slot * 0.2
	if slot < 3 {
		gap = 0
	}
	every := max(1, (n+6)/7) // at most about seven date labels
	for i, d := range c.Days {
		h := 0.0
		if top > 0 {
			h = plotH * float64(d.Amount) / float64(top)
		}
		x := float64(chartLeft) + slot*float64(i)
		l.Bars = append(l.Bars, chartBar{X: ftoa(x + gap/2), Y: ftoa(float64(chartHeight-chartBottom) - h),
			W: ftoa(slot - gap), H: ftoa(h), Day: d, Amount: money.Format(d.Amount, c.Currency),
			Major: money.Major(d.Amount, c.Currency)})
		switch {
		case n > 62 && d.First:
			l.XTicks = append(l.XTicks, chartTick{Pos: ftoa(x), Label: d.Month})
		case n <= 62 && i%every == 0:
			l.XTicks = append(l.XTicks, chartTick{Pos: ftoa(x + slot/2), Label: d.Short})
		}
	}
	return l
}

// niceStep is the smallest 1, 2 or 5 × 10^k (k ≥ 0) such that n steps
// reach peak; 1 when peak is zero.
func niceStep(peak int64, n int64) int64 {
	need := (peak + n - 1) / n
	for base := int64(1); ; base *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if base*m >= need {
				return base * m
			}
		}
		if base > 1e17 {
			return need
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

func codeOf(currency string) string { return money.Code(currency) }

func formatAmount(amount int64, currency string) string { return money.Format(amount, currency) }
