package stripefake

import (
	"fmt"
	"slices"
)

// overlay holds the fields a generator sets on a template object; nested
// overlays set fields of nested template objects. Every other field is
// written from the template as fetched. Encoding an overlay against its
// compiled template is much faster than deep-copying and re-encoding the
// whole template per object, and it guarantees a generated object has
// exactly the template's fields: setting a field the template lacks panics.
type overlay map[string]any

// sub returns the overlay for the nested object under key, creating it.
func sub(o overlay, key string) overlay {
	if s, ok := o[key].(overlay); ok {
		return s
	}
	s := overlay{}
	o[key] = s
	return s
}

// shape is a template object compiled for encoding: keys in the order
// json.Marshal writes them, each with its pre-encoded template value.
type shape struct {
	name   string
	keys   []string
	prefix [][]byte // `"key":` per key
	enc    [][]byte // template value per key
	subs   []*shape // per key: the nested object's shape, or nil
}

func compile(name string, m jmap) *shape {
	s := &shape{name: name, keys: sortedKeys(m)}
	for _, k := range s.keys {
		s.prefix = append(s.prefix, appendMember(nil, true, k, nil))
		s.enc = append(s.enc, appendValue(nil, m[k]))
		var nested *shape
		if sm, ok := m[k].(jmap); ok {
			nested = compile(name+"."+k, sm)
		}
		s.subs = append(s.subs, nested)
	}
	return s
}

// field returns the shape of the nested object at key.
func (s *shape) field(key string) *shape {
	if i, ok := slices.BinarySearch(s.keys, key); ok {
		return s.subs[i]
	}
	return nil
}

// append encodes the template with o's fields set. If split is a key of the
// template, its value is left out and at is where it belongs in buf.
func (s *shape) append(buf []byte, o overlay, split string) (out []byte, at int) {
	at = -1
	used := 0
	buf = append(buf, '{')
	for i, k := range s.keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, s.prefix[i]...)
		v, set := o[k]
		if set {
			used++
		}
		switch ov, isOverlay := v.(overlay); {
		case k == split:
			at = len(buf)
		case !set:
			buf = append(buf, s.enc[i]...)
		case isOverlay && s.subs[i] != nil:
			buf, _ = s.subs[i].append(buf, ov, "")
		default:
			buf = appendValue(buf, v)
		}
	}
	if used != len(o) {
		for k := range o {
			if !slices.Contains(s.keys, k) {
				panic(fmt.Sprintf("stripefake: %s has no field %q", s.name, k))
			}
		}
	}
	return append(buf, '}'), at
}
