package stripefake

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"paydesk/stripeapi/stripemock"
)

// APIVersion is the only Stripe-Version the fake (and paydesk) speaks.
const APIVersion = "2023-10-16"

// Templates holds one raw JSON object per type, as stripe-mock serves it at
// API version 2023-10-16. Generated objects are clones of these, so they
// keep exactly the fields a real 2023-10-16 object has.
type Templates struct{ Customer, Invoice, InvoiceLine, Charge, Refund json.RawMessage }

// FetchTemplates reads the fixtures from a running stripe-mock at mockURL.
// The invoice line template is the first line of the invoice fixture, since
// stripe-mock has no get route for a single line.
func FetchTemplates(ctx context.Context, mockURL string) (Templates, error) {
	base := strings.TrimRight(mockURL, "/")
	var t Templates
	for _, f := range []struct {
		path string
		dst  *json.RawMessage
	}{
		{"/v1/customers/cus_1", &t.Customer},
		{"/v1/invoices/in_1", &t.Invoice},
		{"/v1/charges/ch_1", &t.Charge},
		{"/v1/refunds/re_1", &t.Refund},
	} {
		b, err := fetch(ctx, base+f.path)
		if err != nil {
			return Templates{}, err
		}
		*f.dst = b
	}
	var inv struct {
		Lines struct {
			Data []json.RawMessage `json:"data"`
		} `json:"lines"`
	}
	if err := json.Unmarshal(t.Invoice, &inv); err != nil {
		return Templates{}, fmt.Errorf("stripefake: invoice template: %w", err)
	}
	if len(inv.Lines.Data) == 0 {
		return Templates{}, fmt.Errorf("stripefake: invoice template has no lines")
	}
	t.InvoiceLine = inv.Lines.Data[0]
	return t, nil
}

func fetch(ctx context.Context, url string) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("stripefake: %w", err)
	}
	req.Header.Set("Authorization", "Bearer sk_test_123")
	req.Header.Set("Stripe-Version", APIVersion)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("stripefake: fetch template: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("stripefake: fetch template %s: %w", url, err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("stripefake: fetch template %s: %s: %s", url, res.Status, b)
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("stripefake: fetch template %s: invalid JSON", url)
	}
	return json.RawMessage(b), nil
}

// LoadTemplates starts stripe-mock (or uses STRIPE_MOCK_URL), fetches the
// templates and stops it: what a test binary's TestMain needs before it
// generates accounts.
func LoadTemplates(ctx context.Context) (Templates, error) {
	mock, err := stripemock.Start(ctx)
	if err != nil {
		return Templates{}, err
	}
	defer mock.Close()
	return FetchTemplates(ctx, mock.URL)
}
