package stripeapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"
)

// WebhookTolerance is how far a delivery's signature timestamp may lie in
// the past: Stripe's own default, which bounds replays of a captured
// delivery.
const WebhookTolerance = 300 * time.Second

// Reasons a webhook delivery is refused. Every one answers 400: the
// delivery did not come from Stripe as it is.
var (
	ErrWebhookUnsigned  = errors.New("webhook: no Stripe-Signature header")
	ErrWebhookMalformed = errors.New("webhook: malformed Stripe-Signature header")
	ErrWebhookSignature = errors.New("webhook: no signature matches a configured secret")
	ErrWebhookStale     = errors.New("webhook: signature timestamp is older than the tolerance")
	ErrWebhookBody      = errors.New("webhook: body is not a Stripe event")
	// ErrWebhookNoSecret means the receiver has no signing secret: it
	// refuses every delivery rather than trust an unsigned one.
	ErrWebhookNoSecret = errors.New("webhook: no signing secret configured")
)

// VerifyWebhook checks the Stripe-Signature header of payload against each
// secret (several during a rotation) and returns the event it carries,
// with Raw and Object (copies: payload may be reused). An event at another API
// version than APIVersion is returned all the same; the caller must not
// trust its object's shape (see Event.APIVersion).
func VerifyWebhook(payload []byte, header string, secrets []string) (Event, error) {
	if len(secrets) == 0 {
		return Event{}, ErrWebhookNoSecret
	}
	err := ErrWebhookSignature
	for _, secret := range secrets {
		switch e := webhook.ValidatePayloadWithTolerance(payload, header, secret, WebhookTolerance); {
		case e == nil:
			ev, perr := EventFromJSON(payload)
			if perr != nil {
				return Event{}, fmt.Errorf("%w: %v", ErrWebhookBody, perr)
			}
			return ev, nil
		case errors.Is(e, webhook.ErrNotSigned):
			return Event{}, ErrWebhookUnsigned
		case errors.Is(e, webhook.ErrInvalidHeader):
			return Event{}, ErrWebhookMalformed
		case errors.Is(e, webhook.ErrTooOld):
			// The timestamp check does not depend on the secret.
			return Event{}, ErrWebhookStale
		}
	}
	return Event{}, err
}

// SignWebhook returns a Stripe-Signature header for payload signed with
// secret at t, as Stripe computes it. The demo and tests use it to deliver
// events through the real receiver.
func SignWebhook(payload []byte, secret string, t time.Time) string {
	mac := hmac.New(sha256.New, []byte(secret))
	ts := strconv.FormatInt(t.Unix(), 10)
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(payload)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}
