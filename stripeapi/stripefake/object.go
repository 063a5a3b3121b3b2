package stripefake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// object is one stored Stripe object, pre-encoded so a list page is a
// concatenation of bytes rather than a re-encoding of maps.
type object struct {
	id      string
	created int64
	// Filter fields, read once when the object is stored.
	customer, status, charge, typ string

	// raw is the whole object, or for an invoice with lines the bytes up to
	// and including `"lines":`; tail is what follows the lines value.
	raw, tail []byte
	lines     *lineList // invoices only; nil when the object has no lines
}

// lineList is an invoice's lines object: every line in stored order plus the
// list's other members (object, url, ...) exactly as the template has them.
type lineList struct {
	data      [][]byte
	ids       []string
	members   []member // in key order; data and has_more are filled per response
	truncated bool     // the stored object said has_more: data is only a prefix
}

// member is one pre-encoded `"key":value` of the lines object; value is nil
// for data and has_more, which depend on how many lines are served.
type member struct {
	key    string
	prefix []byte // `"key":`, with a leading comma unless first
	value  []byte
}

// maxEmbeddedLines is how many lines an invoice carries in list and get
// responses; the rest are read through /v1/invoices/{id}/lines.
const maxEmbeddedLines = 10

// parseObject reads a stored object. Invoices have their lines split out so
// they can be served truncated (the API's view) or whole (the test's truth).
func parseObject(kind string, raw []byte) (*object, error) {
	f, err := rawFields(raw)
	if err != nil {
		return nil, fmt.Errorf("stripefake: %s: %w", kind, err)
	}
	o := &object{
		id:       stringField(f, "id"),
		created:  intField(f, "created"),
		customer: stringField(f, "customer"),
		status:   stringField(f, "status"),
		charge:   stringField(f, "charge"),
		typ:      stringField(f, "type"),
	}
	if o.id == "" {
		return nil, fmt.Errorf("stripefake: %s without an id", kind)
	}
	linesRaw, hasLines := f["lines"]
	if kind != "invoice" || !hasLines || string(linesRaw) == "null" {
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return nil, fmt.Errorf("stripefake: %s: %w", kind, err)
		}
		o.raw = b.Bytes()
		return o, nil
	}
	if o.lines, err = parseLines(linesRaw); err != nil {
		return nil, fmt.Errorf("stripefake: invoice %s lines: %w", o.id, err)
	}
	// Top-level members are written in key order, so the split around the
	// lines value is exact and no placeholder can collide with user text.
	buf := []byte{'{'}
	for i, k := range sortedKeys(f) {
		if k == "lines" {
			o.raw, buf = appendMember(buf, i == 0, k, nil), nil
			continue
		}
		buf = appendMember(buf, i == 0, k, f[k])
	}
	o.tail = append(buf, '}')
	return o, nil
}

func parseLines(raw []byte) (*lineList, error) {
	f, err := rawFields(raw)
	if err != nil {
		return nil, err
	}
	var data []json.RawMessage
	if d, ok := f["data"]; ok {
		if err := json.Unmarshal(d, &data); err != nil {
			return nil, err
		}
	}
	l := &lineList{truncated: string(f["has_more"]) == "true"}
	f["data"], f["has_more"] = nil, nil // always present, even if absent before
	for i, k := range sortedKeys(f) {
		l.members = append(l.members, member{key: k, prefix: appendMember(nil, i == 0, k, nil), value: f[k]})
	}
	for _, d := range data {
		var b bytes.Buffer
		if err := json.Compact(&b, d); err != nil {
			return nil, err
		}
		var id struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(d, &id)
		l.data = append(l.data, b.Bytes())
		l.ids = append(l.ids, id.ID)
	}
	return l, nil
}

// appendJSON appends the object with at most maxLines invoice lines
// (maxLines < 0: all of them), setting lines.has_more to match.
func (o *object) appendJSON(buf []byte, maxLines int) []byte {
	buf = append(buf, o.raw...)
	if o.lines == nil {
		return buf
	}
	l := o.lines
	n := len(l.data)
	if maxLines >= 0 && n > maxLines {
		n = maxLines
	}
	buf = append(buf, '{')
	for _, m := range o.lines.members {
		buf = append(buf, m.prefix...)
		switch {
		case m.key == "data":
			buf = appendArray(buf, l.data[:n])
		case m.key == "has_more":
			buf = strconv.AppendBool(buf, n < len(l.data))
		default:
			buf = append(buf, m.value...)
		}
	}
	buf = append(buf, '}')
	return append(buf, o.tail...)
}

func appendArray(buf []byte, items [][]byte) []byte {
	buf = append(buf, '[')
	for i, it := range items {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, it...)
	}
	return append(buf, ']')
}
