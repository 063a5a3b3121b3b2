package stripeapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/stripe/stripe-go/v76"
)

// Fixed messages for failures whose own text is unsafe or useless to a user.
const (
	msgBadKey      = "Stripe rejected the API key: check STRIPE_TEST_SECRET_KEY / STRIPE_LIVE_SECRET_KEY"
	msgNetwork     = "Could not reach Stripe"
	msgCanceled    = "The request to Stripe was canceled"
	msgServer      = "Stripe had a problem, try again"
	msgRateLimited = "Stripe is receiving too many requests, try again shortly"
	msgRejected    = "Stripe rejected the request"
)

// ErrIdempotencyKeyRequired is returned, before any request, by a write
// called without an idempotency key.
var ErrIdempotencyKeyRequired = errors.New("stripeapi: an idempotency key is required for every write")

// Error is a failed Stripe call. Message is safe to show a user; the other
// fields are for logs, metrics and deciding what to do next.
type Error struct {
	// Message is Stripe's message for card and invalid-request errors, or a
	// fixed text where Stripe's own could leak the key (401, 403) or would
	// mean nothing to a user (network failures, 5xx).
	Message string
	// Type is Stripe's error type (api_error, card_error,
	// invalid_request_error, idempotency_error, ...) or "network_error".
	Type string
	// Code is Stripe's error code, e.g. resource_missing.
	Code        string
	DeclineCode string
	Param       string
	RequestID   string
	// HTTPStatus is 0 when no answer arrived.
	HTTPStatus int
	// Retryable says whether sending the same request again (with the same
	// idempotency key) may succeed.
	Retryable bool

	cause error // network and context errors, for errors.Is and logs
}

// Error describes the failure for logs, e.g.
// `stripe: 400 invalid_request_error parameter_unknown (param "foo",
// request req_123): Received unknown parameter: foo`. It never holds the
// secret key.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("stripe:")
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " %d", e.HTTPStatus)
	}
	if e.Type != "" {
		b.WriteString(" " + e.Type)
	}
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	var details []string
	if e.DeclineCode != "" {
		details = append(details, "decline "+strconv.Quote(e.DeclineCode))
	}
	if e.Param != "" {
		details = append(details, "param "+strconv.Quote(e.Param))
	}
	if e.RequestID != "" {
		details = append(details, "request "+e.RequestID)
	}
	if len(details) > 0 {
		b.WriteString(" (" + strings.Join(details, ", ") + ")")
	}
	b.WriteString(": " + e.Message)
	if e.cause != nil {
		b.WriteString(": " + e.cause.Error())
	}
	return redactKeys(b.String(), "")
}

// Unwrap exposes the network or context error beneath, so
// errors.Is(err, context.Canceled) works.
func (e *Error) Unwrap() error { return e.cause }

// IsNotFound reports whether err says the object does not exist.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Code == string(stripe.ErrorCodeResourceMissing) || e.HTTPStatus == http.StatusNotFound)
}

// asError maps what stripe-go returns to *Error: decoded Stripe errors,
// network failures and context ends. Anything else (a local refusal from
// stripe-go, an undecodable success body) keeps its text, minus any key.
func asError(err error) error {
	if err == nil {
		return nil
	}
	var own *Error
	if errors.As(err, &own) {
		return own
	}
	var se *stripe.Error
	if errors.As(err, &se) {
		return fromStripe(se)
	}
	switch {
	case errors.Is(err, context.Canceled):
		return &Error{Message: msgCanceled, Type: "network_error", cause: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Message: msgNetwork, Type: "network_error", Retryable: true, cause: err}
	}
	var urlErr *url.Error
	var netErr net.Error
	if errors.As(err, &urlErr) || errors.As(err, &netErr) {
		return &Error{Message: msgNetwork, Type: "network_error", Retryable: true, cause: err}
	}
	return fmt.Errorf("stripeapi: %s", redactKeys(err.Error(), ""))
}

// fail maps the error a call ended with. When stripe-go could not decode an
// error body (a proxy's HTML 502, say) it returns a plain error; the status
// the transport saw still makes it an *Error.
func (st *call) fail(err error) error {
	mapped := asError(err)
	var e *Error
	if mapped == nil || errors.As(mapped, &e) || st.status < 400 {
		return mapped
	}
	return &Error{
		Message:    messageFor(st.status, ""),
		Type:       "api_error",
		HTTPStatus: st.status,
		Retryable:  retryableStatus(st.status),
		cause:      err,
	}
}

// fromStripe copies what is safe from a decoded Stripe error. The cause is
// deliberately not kept: its text holds Stripe's raw message, which for a
// 401 echoes part of the key.
func fromStripe(se *stripe.Error) *Error {
	e := &Error{
		Message:     messageFor(se.HTTPStatusCode, se.Msg),
		Type:        string(se.Type),
		Code:        string(se.Code),
		DeclineCode: string(se.DeclineCode),
		Param:       se.Param,
		RequestID:   se.RequestID,
		HTTPStatus:  se.HTTPStatusCode,
		Retryable:   retryableStatus(se.HTTPStatusCode) || se.Code == stripe.ErrorCodeLockTimeout,
	}
	if se.LastResponse != nil {
		if e.RequestID == "" {
			e.RequestID = se.LastResponse.RequestID
		}
		// Stripe may say outright whether a retry can help.
		switch se.LastResponse.Header.Get("Stripe-Should-Retry") {
		case "true":
			e.Retryable = true
		case "false":
			e.Retryable = false
		}
	}
	return e
}

// messageFor picks the user-facing message for an answer with this status.
func messageFor(status int, stripeMsg string) string {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return msgBadKey
	case status == http.StatusTooManyRequests:
		return msgRateLimited
	case status >= 500:
		return msgServer
	case stripeMsg != "":
		return redactKeys(stripeMsg, "")
	}
	return msgRejected
}

// retryableStatus: conflicts, rate limits and server errors may pass on a
// second try; other 4xx answers will fail the same way again.
func retryableStatus(status int) bool {
	return status == http.StatusConflict || status == http.StatusTooManyRequests || status >= 500
}
