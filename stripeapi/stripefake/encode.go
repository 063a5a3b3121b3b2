package stripefake

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// appendValue encodes a generated value. It writes what json.Marshal would
// (object keys sorted, numbers verbatim) without reflection, because
// encoding every generated object through json.Marshal dominated Generate.
func appendValue(buf []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(buf, "null"...)
	case string:
		return appendString(buf, v)
	case json.Number:
		return append(buf, v...)
	case int64:
		return strconv.AppendInt(buf, v, 10)
	case int:
		return strconv.AppendInt(buf, int64(v), 10)
	case bool:
		return strconv.AppendBool(buf, v)
	case overlay: // a nested object the template has as null
		return appendValue(buf, map[string]any(v))
	case jmap:
		buf = append(buf, '{')
		for i, k := range sortedKeys(v) {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendString(buf, k)
			buf = append(buf, ':')
			buf = appendValue(buf, v[k])
		}
		return append(buf, '}')
	case []any:
		buf = append(buf, '[')
		for i, e := range v {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendValue(buf, e)
		}
		return append(buf, ']')
	case []string:
		return appendValue(buf, anySlice(v))
	default:
		return append(buf, mustMarshal(v)...)
	}
}

func anySlice[T any](s []T) []any {
	out := make([]any, len(s))
	for i, e := range s {
		out[i] = e
	}
	return out
}

// appendString quotes plain ASCII directly and leaves everything else
// (escapes, HTML-sensitive characters, non-ASCII) to encoding/json.
func appendString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return append(buf, mustMarshal(s)...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// objectFromOverlay stores a generated object without re-parsing its JSON.
// For an invoice, line is the shape of its lines.data items. Encoding goes
// through the reused scratch buffer and is then copied to its exact size,
// so the stored bytes carry no spare capacity from buffer doubling.
func objectFromOverlay(kind string, s *shape, o overlay, line *shape, scratch *[]byte) *object {
	encode := func(s *shape, o overlay, split string) ([]byte, int) {
		buf, at := s.append((*scratch)[:0], o, split)
		*scratch = buf
		return bytes.Clone(buf), at
	}
	obj := &object{
		id:      str(o["id"]),
		created: o["created"].(int64),
		status:  str(o["status"]),
		charge:  str(o["charge"]),
		typ:     str(o["type"]),
	}
	if kind != "customer" {
		obj.customer = str(o["customer"])
	}
	if kind != "invoice" {
		obj.raw, _ = encode(s, o, "")
		return obj
	}
	buf, at := encode(s, o, "lines")
	obj.raw, obj.tail = buf[:at:at], buf[at:]

	ls, lo := s.field("lines"), o["lines"].(overlay)
	l := &lineList{}
	for i, k := range ls.keys {
		mb := member{key: k, prefix: appendMember(nil, i == 0, k, nil), value: ls.enc[i]}
		if v, ok := lo[k]; ok {
			mb.value = appendValue(nil, v)
		}
		l.members = append(l.members, mb)
	}
	for _, item := range lo["data"].([]any) {
		b, _ := encode(line, item.(overlay), "")
		l.data = append(l.data, b)
		l.ids = append(l.ids, str(item.(overlay)["id"]))
	}
	obj.lines = l
	return obj
}

func str(v any) string { s, _ := v.(string); return s }
