package stripefake

import (
	"math"
	"net/url"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// listQuery is a parsed list request. Created bounds are inclusive.
type listQuery struct {
	limit                       int
	startingAfter, endingBefore string
	minCreated, maxCreated      int64
	customer, status, charge    string
	types                       []string // event type patterns, * as wildcard
}

var typesParam = regexp.MustCompile(`^types\[\d*\]$`)

var invoiceStatuses = []string{"draft", "open", "paid", "uncollectible", "void"}

// parseListQuery reads the parameters a list of kind understands. Unknown
// parameters (expand[], ...) are ignored: stripe-mock already validates
// parameters against the spec, this fake only has to page correctly.
func parseListQuery(kind string, q url.Values) (listQuery, *apiError) {
	lq := listQuery{limit: 10, minCreated: math.MinInt64, maxCreated: math.MaxInt64}
	var err *apiError
	if lq.limit, err = parseLimit(q); err != nil {
		return lq, err
	}
	lq.startingAfter, lq.endingBefore = q.Get("starting_after"), q.Get("ending_before")
	if lq.startingAfter != "" && lq.endingBefore != "" {
		return lq, invalidParam("ending_before", "You may only specify one of these parameters: ending_before, starting_after.")
	}
	if kind == "invoice_line" {
		return lq, nil
	}
	for key, vals := range q {
		if key != "created" && !strings.HasPrefix(key, "created[") {
			continue
		}
		n, perr := strconv.ParseInt(vals[0], 10, 64)
		if perr != nil {
			return lq, invalidParam("created", "Invalid integer: %s", vals[0])
		}
		switch key {
		case "created":
			lq.minCreated, lq.maxCreated = max(lq.minCreated, n), min(lq.maxCreated, n)
		case "created[gte]":
			lq.minCreated = max(lq.minCreated, n)
		case "created[gt]":
			if n == math.MaxInt64 {
				lq.minCreated, lq.maxCreated = n, math.MinInt64 // nothing is newer
				continue
			}
			lq.minCreated = max(lq.minCreated, n+1)
		case "created[lte]":
			lq.maxCreated = min(lq.maxCreated, n)
		case "created[lt]":
			if n == math.MinInt64 {
				lq.minCreated, lq.maxCreated = math.MaxInt64, n // nothing is older
				continue
			}
			lq.maxCreated = min(lq.maxCreated, n-1)
		default:
			return lq, invalidParam("created", "Received unknown parameter: %s", key)
		}
	}
	switch kind {
	case "invoice":
		lq.customer, lq.status = q.Get("customer"), q.Get("status")
		if lq.status != "" && !slices.Contains(invoiceStatuses, lq.status) {
			return lq, invalidParam("status", "Invalid status: must be one of draft, open, paid, uncollectible, or void")
		}
	case "charge":
		lq.customer = q.Get("customer")
	case "refund":
		lq.charge = q.Get("charge")
	case "event":
		if t := q.Get("type"); t != "" {
			lq.types = []string{t}
		}
		for key, vals := range q {
			if typesParam.MatchString(key) {
				if q.Get("type") != "" {
					return lq, invalidParam("types", "You cannot specify both type and types.")
				}
				lq.types = append(lq.types, vals...)
			}
		}
	}
	return lq, nil
}

func parseLimit(q url.Values) (int, *apiError) {
	s := q.Get("limit")
	if s == "" {
		return 10, nil
	}
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		return 0, invalidParam("limit", "Invalid integer: %s", s)
	case n < 1:
		return 0, invalidParam("limit", "This value must be greater than or equal to 1.")
	case n > 100:
		return 0, invalidParam("limit", "This value must be less than or equal to 100.")
	}
	return n, nil
}

func (q *listQuery) match(o *object) bool {
	if q.customer != "" && o.customer != q.customer ||
		q.status != "" && o.status != q.status ||
		q.charge != "" && o.charge != q.charge {
		return false
	}
	if len(q.types) == 0 {
		return true
	}
	for _, t := range q.types {
		if ok, _ := path.Match(t, o.typ); ok || t == o.typ {
			return true
		}
	}
	return false
}

// createdRange is the slice of a newest-first list inside the created bounds:
// it is contiguous, so two binary searches find it.
func createdRange(objs []*object, q *listQuery) (lo, hi int) {
	lo = sort.Search(len(objs), func(i int) bool { return objs[i].created <= q.maxCreated })
	hi = sort.Search(len(objs), func(i int) bool { return objs[i].created < q.minCreated })
	return lo, max(lo, hi)
}

// window picks a page out of items [lo, hi) of an ordered list. after and
// before are cursor positions (-1 for none); a cursor only marks a place, so
// it need not match the filter itself. With before, the page is the limit
// matching items just ahead of it, still in list order, and has_more tells
// whether more matching items lie further ahead, as on Stripe.
func window(lo, hi, after, before, limit int, match func(int) bool) (page []int, hasMore bool) {
	if before >= 0 {
		hi = min(hi, before)
		for i := hi - 1; i >= lo; i-- {
			if !match(i) {
				continue
			}
			if len(page) == limit {
				hasMore = true
				break
			}
			page = append(page, i)
		}
		slices.Reverse(page)
		return page, hasMore
	}
	if after >= 0 {
		lo = max(lo, after+1)
	}
	for i := lo; i < hi; i++ {
		if !match(i) {
			continue
		}
		if len(page) == limit {
			return page, true
		}
		page = append(page, i)
	}
	return page, false
}
