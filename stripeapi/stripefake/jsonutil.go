package stripefake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// jmap is a decoded JSON object. Numbers are json.Number, never float64, so
// amounts above 2^53 survive a decode and re-encode unchanged.
type jmap = map[string]any

func decodeMap(raw []byte) (jmap, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m jmap
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	return m, nil
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("stripefake: encode: %v", err))
	}
	return b
}

// rawFields splits a JSON object into its top-level members, compacted.
func rawFields(raw []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	for k, v := range m {
		var b bytes.Buffer
		if err := json.Compact(&b, v); err != nil {
			return nil, err
		}
		m[k] = b.Bytes()
	}
	return m, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendMember appends `"key":value`, preceded by a comma unless first.
func appendMember(buf []byte, first bool, key string, value []byte) []byte {
	if !first {
		buf = append(buf, ',')
	}
	buf = append(buf, mustMarshal(key)...)
	buf = append(buf, ':')
	return append(buf, value...)
}

// stringField reads a top-level string member; an expanded object counts by
// its id, so a filter on customer works whether or not it was expanded.
func stringField(m map[string]json.RawMessage, key string) string {
	raw, ok := m[key]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &o) == nil {
		return o.ID
	}
	return ""
}

func intField(m map[string]json.RawMessage, key string) int64 {
	n, _ := strconv.ParseInt(string(m[key]), 10, 64)
	return n
}
