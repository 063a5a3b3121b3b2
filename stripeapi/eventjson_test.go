package stripeapi

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// eventByMaps decodes an event the slow, obvious way, with encoding/json
// into maps (whose names match exactly, the last of a repeated name
// winning, as EventFromJSON does). ok is false for anything that is not an
// event with fields of the right types.
func eventByMaps(raw []byte) (ev Event, ok bool) {
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return Event{}, false
	}
	var kind string
	var data map[string]json.RawMessage
	for name, dst := range map[string]any{"id": &ev.ID, "object": &kind, "type": &ev.Type,
		"api_version": &ev.APIVersion, "created": &ev.Created, "livemode": &ev.Livemode, "data": &data} {
		if v, found := top[name]; found && json.Unmarshal(v, dst) != nil {
			return Event{}, false
		}
	}
	if object, found := data["object"]; found {
		ev.Object = object
		if bytes.HasPrefix(object, []byte("{")) {
			var fields map[string]json.RawMessage
			if json.Unmarshal(object, &fields) != nil {
				return Event{}, false
			}
			for name, dst := range map[string]*string{"id": &ev.ObjectID, "object": &ev.ObjectType} {
				if v, found := fields[name]; found && json.Unmarshal(v, dst) != nil {
					return Event{}, false
				}
			}
		}
	}
	if ev.ID == "" || (kind != "" && kind != "event") {
		return Event{}, false
	}
	ev.Raw = raw
	return ev, true
}

// checkEventFromJSON compares EventFromJSON with eventByMaps on raw.
func checkEventFromJSON(t *testing.T, raw []byte) {
	t.Helper()
	got, err := EventFromJSON(raw)
	want, ok := eventByMaps(raw)
	if err != nil {
		// encoding/json lets invalid UTF-8 and lone surrogate escapes
		// through; EventFromJSON refuses them, as PostgreSQL would.
		if ok && utf8.Valid(raw) && !bytes.Contains(bytes.ToLower(raw), []byte(`\ud`)) {
			t.Fatalf("%q: refused (%v), but it is an event: %+v", raw, err, want)
		}
		return
	}
	if !ok {
		t.Fatalf("%q: accepted as %+v, but it is not an event", raw, got)
	}
	if !json.Valid(raw) || !utf8.Valid(raw) {
		t.Fatalf("%q: accepted, but it is not valid JSON in UTF-8", raw)
	}
	if got.ID != want.ID || got.Type != want.Type || got.APIVersion != want.APIVersion || got.Created != want.Created ||
		got.Livemode != want.Livemode || got.ObjectID != want.ObjectID || got.ObjectType != want.ObjectType {
		t.Fatalf("%q:\n got %+v\nwant %+v", raw, got, want)
	}
	if !bytes.Equal(got.Raw, raw) || !bytes.Equal(got.Object, want.Object) {
		t.Fatalf("%q: raw %q object %q, want object %q", raw, got.Raw, got.Object, want.Object)
	}
	if len(raw) > 0 && &got.Raw[0] == &raw[0] {
		t.Fatalf("Raw shares the caller's bytes")
	}
	if len(got.Object) > 0 && cap(got.Object) != len(got.Object) {
		t.Fatalf("Object (cap %d, len %d) could be appended to over Raw", cap(got.Object), len(got.Object))
	}
}

var eventJSONCases = []string{
	`{"id":"evt_1","object":"event","type":"charge.updated","api_version":"2023-10-16","created":1700000000,"livemode":false,"data":{"object":{"id":"ch_1","object":"charge","amount":100}}}`,
	// Spaces everywhere, the object's fields after nested ones, data
	// before the envelope.
	" { \"data\" : { \"previous_attributes\" : {\"id\":\"x\"} , \"object\" :\n\t{ \"nested\": {\"id\": \"no\", \"object\": \"no\"}, \"object\" : \"invoice\" , \"id\" : \"in_1\" } } , \"id\" : \"evt_2\" } ",
	`{"id":"evt_3","api_version":null,"created":null,"livemode":null,"data":{"object":{"id":"x"}}}`,
	`{"id":"evt_4","data":null}`,
	`{"id":"evt_5","data":{"object":null}}`,
	`{"id":"evt_6","data":{"object":"a string"}}`,
	`{"id":"evt_7","data":{"object":[1,{"id":"no"}]}}`,
	`{"id":"evt_8","data":{"object":{}}}`,
	// Escapes in names and values; repeated names (the last wins).
	`{"\u0069d":"evt_\u00e9\ud83d\ude00","id":"evt_9","type":"a\"b\\c","data":{"object":{"\u006fbject":"charge","id":"ch_\u202e"}}}`,
	`{"id":"evt_10","data":{"object":{"id":"a"}},"data":{"other":1}}`,
	`{"id":"evt_11","created":-5,"livemode":true}`,
	// Not events.
	`{"id":"ch_1","object":"charge"}`,
	`{"object":"event"}`,
	`[{"id":"evt_1"}]`,
	`null`,
	``,
	`{"id":"evt_1"} {"id":"evt_2"}`,
	`{"id":"evt_1"}x`,
	`{"id":"evt_1",}`,
	`{"id":"evt_1","created":1.5}`,
	`{"id":"evt_1","created":1e3}`,
	`{"id":"evt_1","created":99999999999999999999}`,
	`{"id":"evt_1","created":"1700000000"}`,
	`{"id":5}`,
	`{"id":"evt_1","livemode":"yes"}`,
	`{"id":"evt_1","data":[]}`,
	`{"id":"evt_1","data":{"object":{"id":7}}}`,
	`{"id":"evt_1","data":{"object":{"id":"x","amount":01}}}`,
	`{"id":"evt_1","data":{"object":{"id":"x"`,
	"{\"id\":\"evt_1\",\"data\":{\"object\":{\"name\":\"\xff\"}}}",
	`{"id":"evt_1","data":{"object":{"name":"\ud800"}}}`,
	"{\"id\":\"evt_1\",\"type\":\"a\x01b\"}",
}

func TestEventFromJSONAgainstMaps(t *testing.T) {
	for _, c := range eventJSONCases {
		checkEventFromJSON(t, []byte(c))
	}
}

func TestEventFromJSONRefusesWhatPostgreSQLWould(t *testing.T) {
	for _, body := range []string{
		"{\"id\":\"evt_1\",\"data\":{\"object\":{\"name\":\"caf\xe9\"}}}", // Latin-1, not UTF-8
		`{"id":"evt_1","data":{"object":{"name":"\udc00"}}}`,              // a lone surrogate
		`{"id":"evt_1","data":{"object":{"id":"x"}}} trailing`,
	} {
		if ev, err := EventFromJSON([]byte(body)); err == nil {
			t.Errorf("%q: accepted as %+v", body, ev)
		}
	}
}

func FuzzEventFromJSON(f *testing.F) {
	for _, c := range eventJSONCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkEventFromJSON(t, raw)
	})
}

func BenchmarkEventFromJSON(b *testing.B) {
	object := `{"id":"in_1","object":"invoice","description":"` + strings.Repeat("Consulting hours ", 40) +
		`","lines":{"data":[` + strings.Repeat(`{"id":"il_1","amount":1000,"currency":"usd","metadata":{"a":"b"}},`, 12) +
		`{"id":"il_2"}]},"metadata":{"order":"A-1"},"total":12000}`
	raw := []byte(`{"id":"evt_1","object":"event","type":"invoice.paid","api_version":"2023-10-16","created":1700000000,"livemode":false,"data":{"object":` +
		object + `},"pending_webhooks":1,"request":{"id":null,"idempotency_key":null}}`)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := EventFromJSON(raw); err != nil {
			b.Fatal(err)
		}
	}
}
