package stripeapi

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const whEvent = `{"id":"evt_1","object":"event","api_version":"2023-10-16","created":1700000000,"livemode":false,"type":"customer.updated","data":{"object":{"id":"cus_1","object":"customer","name":"Zoë"}}}`

func TestVerifyWebhook(t *testing.T) {
	now := time.Now()
	body := []byte(whEvent)
	secrets := []string{"whsec_old", "whsec_new"}
	cases := []struct {
		name    string
		body    []byte
		header  string
		secrets []string
		want    error
	}{
		{"valid", body, SignWebhook(body, "whsec_old", now), secrets, nil},
		{"second of two rotated secrets", body, SignWebhook(body, "whsec_new", now), secrets, nil},
		{"forged", body, SignWebhook(body, "whsec_attacker", now), secrets, ErrWebhookSignature},
		{"tampered", []byte(strings.Replace(whEvent, "Zoë", "Eve", 1)), SignWebhook(body, "whsec_old", now), secrets, ErrWebhookSignature},
		{"stale", body, SignWebhook(body, "whsec_old", now.Add(-WebhookTolerance-time.Minute)), secrets, ErrWebhookStale},
		{"unsigned", body, "", secrets, ErrWebhookUnsigned},
		{"malformed header", body, "t=abc,v1=", secrets, ErrWebhookMalformed},
		{"no secret configured", body, SignWebhook(body, "whsec_old", now), nil, ErrWebhookNoSecret},
		{"signed garbage", []byte(`[1,2]`), SignWebhook([]byte(`[1,2]`), "whsec_old", now), secrets, ErrWebhookBody},
	}
	for _, tc := range cases {
		ev, err := VerifyWebhook(tc.body, tc.header, tc.secrets)
		if tc.want == nil {
			if err != nil || ev.ID != "evt_1" || ev.ObjectID != "cus_1" || ev.ObjectType != "customer" || ev.APIVersion != "2023-10-16" {
				t.Errorf("%s: %+v, %v", tc.name, ev, err)
			}
			continue
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}
