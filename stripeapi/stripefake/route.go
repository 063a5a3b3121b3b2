package stripefake

import (
	"net/http"
	"strconv"
	"strings"
)

// route dispatches a GET: /v1/{plural}, /v1/{plural}/{id} and
// /v1/invoices/{id}/lines.
func (s *Server) route(r *http.Request) ([]byte, *apiError) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v1/"), "/")
	kind := ""
	for _, k := range kinds {
		if k.plural == parts[0] {
			kind = k.kind
		}
	}
	if !strings.HasPrefix(r.URL.Path, "/v1/") || kind == "" || len(parts) > 3 || slicesHasEmpty(parts) {
		return nil, unrecognized(r)
	}
	d := s.d
	d.rlock()
	defer d.mu.RUnlock()
	c := d.cols[kind]
	switch {
	case len(parts) == 1:
		return listPage(c, kind, r)
	case len(parts) == 2:
		o := c.byID[parts[1]]
		if o == nil {
			return nil, resourceMissing(http.StatusNotFound, "id", kind, parts[1])
		}
		return o.appendJSON(nil, maxEmbeddedLines), nil
	case kind == "invoice" && parts[2] == "lines":
		o := c.byID[parts[1]]
		if o == nil {
			return nil, resourceMissing(http.StatusNotFound, "invoice", kind, parts[1])
		}
		return linesPage(o, r)
	}
	return nil, unrecognized(r)
}

func slicesHasEmpty(parts []string) bool {
	for _, p := range parts {
		if p == "" {
			return true
		}
	}
	return false
}

func unrecognized(r *http.Request) *apiError {
	return &apiError{status: http.StatusNotFound, Type: "invalid_request_error",
		Message: "Unrecognized request URL (" + r.Method + ": " + r.URL.Path + ")."}
}

// listPage answers a top-level list. The caller holds the read lock.
func listPage(c *collection, kind string, r *http.Request) ([]byte, *apiError) {
	q, err := parseListQuery(kind, r.URL.Query())
	if err != nil {
		return nil, err
	}
	after, before := -1, -1
	if q.startingAfter != "" {
		p, ok := c.pos[q.startingAfter]
		if !ok {
			return nil, resourceMissing(http.StatusBadRequest, "starting_after", kind, q.startingAfter)
		}
		after = p
	}
	if q.endingBefore != "" {
		p, ok := c.pos[q.endingBefore]
		if !ok {
			return nil, resourceMissing(http.StatusBadRequest, "ending_before", kind, q.endingBefore)
		}
		before = p
	}
	lo, hi := createdRange(c.sorted, &q)
	page, more := window(lo, hi, after, before, q.limit, func(i int) bool { return q.match(c.sorted[i]) })
	return listBody(nil, "/v1/"+c.plural, len(page), more, func(buf []byte, i int) []byte {
		return c.sorted[page[i]].appendJSON(buf, maxEmbeddedLines)
	}), nil
}

// linesPage answers /v1/invoices/{id}/lines: the lines in stored order.
func linesPage(o *object, r *http.Request) ([]byte, *apiError) {
	q, err := parseListQuery("invoice_line", r.URL.Query())
	if err != nil {
		return nil, err
	}
	var data [][]byte
	var ids []string
	if o.lines != nil {
		data, ids = o.lines.data, o.lines.ids
	}
	find := func(param, id string) (int, *apiError) {
		if id == "" {
			return -1, nil
		}
		for i, x := range ids {
			if x == id {
				return i, nil
			}
		}
		return -1, resourceMissing(http.StatusBadRequest, param, "invoice line item", id)
	}
	after, err := find("starting_after", q.startingAfter)
	if err != nil {
		return nil, err
	}
	before, err := find("ending_before", q.endingBefore)
	if err != nil {
		return nil, err
	}
	page, more := window(0, len(data), after, before, q.limit, func(int) bool { return true })
	return listBody(nil, "/v1/invoices/"+o.id+"/lines", len(page), more, func(buf []byte, i int) []byte {
		return append(buf, data[page[i]]...)
	}), nil
}

// listBody writes a list object, appending its n items in place rather than
// encoding each separately and copying.
func listBody(buf []byte, url string, n int, hasMore bool, item func([]byte, int) []byte) []byte {
	buf = append(buf, `{"object":"list","data":[`...)
	for i := range n {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = item(buf, i)
	}
	buf = append(buf, `],"has_more":`...)
	buf = strconv.AppendBool(buf, hasMore)
	buf = append(buf, `,"url":`...)
	buf = append(buf, mustMarshal(url)...)
	return append(buf, '}')
}
