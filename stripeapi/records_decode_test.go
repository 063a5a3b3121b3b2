package stripeapi

import (
	"encoding/json"
	"reflect"
	"testing"

	"paydesk/stripeapi/stripefake"
)

// TestRecordsDecodeLikeEncodingJSON: every record function gives the same
// row through unmarshal as through encoding/json's Unmarshal, which it
// replaced, for a generated account (unicode names, expanded and null
// references, long invoices) and for awkward bodies: duplicate names,
// invalid UTF-8, escapes, nulls.
func TestRecordsDecodeLikeEncodingJSON(t *testing.T) {
	templates, err := stripefake.FetchTemplates(t.Context(), mockURL)
	if err != nil {
		t.Fatal(err)
	}
	data := stripefake.Generate(templates, stripefake.Dataset{Customers: 40, Invoices: 60, LongInvoices: 5, Charges: 120, Refunds: 30, Seed: 7})
	records := map[string]func(json.RawMessage) (any, error){
		"customer": func(raw json.RawMessage) (any, error) { return CustomerRecord(raw, false, 1) },
		"invoice":  func(raw json.RawMessage) (any, error) { return InvoiceRecord(raw, false, 1) },
		"charge":   func(raw json.RawMessage) (any, error) { return ChargeRecord(raw, false, 1) },
		"refund":   func(raw json.RawMessage) (any, error) { return RefundRecord(raw, false, 1) },
	}
	bodies := map[string][]json.RawMessage{
		"customer": append(data.Customers(),
			json.RawMessage(`{"id":"cus_dup","object":"customer","name":"first","name":"second","email":null}`),
			json.RawMessage("{\"id\":\"cus_utf8\",\"object\":\"customer\",\"name\":\"caf\xe9 \xff\xfe\",\"email\":\"a\\u00e9\\ud83d\\ude00@x\"}"),
			json.RawMessage(`{"id":"cus_null","object":"customer","name":null,"balance":null,"metadata":null,"deleted":true}`)),
		"invoice": append(data.Invoices(),
			json.RawMessage(`{"id":"in_null","object":"invoice","customer":null,"charge":{"id":"ch_x"},"lines":{"data":[{"id":"il_1","price":"price_1","amount":5}],"has_more":false},"total":3000000000}`)),
		"charge": data.Charges(),
		"refund": data.Refunds(),
	}
	for kind, list := range bodies {
		for _, raw := range list {
			unmarshal = func(raw []byte, v any) error { return json.Unmarshal(raw, v) }
			want, wantErr := records[kind](raw)
			unmarshal = decodeFast
			got, err := records[kind](raw)
			if (err == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s %.80s:\n got  %+v (%v)\n want %+v (%v)", kind, raw, got, err, want, wantErr)
			}
		}
	}
}
