package handlers

import (
	"net/http"
	"sync/atomic"
)

// rejectReason is why the webhook receiver refused a delivery.
type rejectReason int

const (
	rejectOversize rejectReason = iota
	rejectNoSecret
	rejectUnsigned
	rejectMalformed
	rejectSignature
	rejectStale
	rejectNotEvent
	rejectUnreadable
	numRejectReasons
)

// rejections describes each reason: the name stored in
// rejected_deliveries and used as the counter's key, the answer, and
// whether the delivery is kept (an unreadable body is usually a client
// that went away, with nothing worth keeping).
var rejections = [numRejectReasons]struct {
	name    string
	status  int
	message string
	record  bool
}{
	rejectOversize:   {"oversize", http.StatusRequestEntityTooLarge, "body larger than 1 MiB", true},
	rejectNoSecret:   {"no_secret", http.StatusServiceUnavailable, "webhook signing secret not configured: set STRIPE_WEBHOOK_SECRET", true},
	rejectUnsigned:   {"unsigned", http.StatusBadRequest, "missing Stripe-Signature header", true},
	rejectMalformed:  {"malformed", http.StatusBadRequest, "malformed Stripe-Signature header", true},
	rejectSignature:  {"signature", http.StatusBadRequest, "signature does not match", true},
	rejectStale:      {"stale", http.StatusBadRequest, "signature timestamp too old", true},
	rejectNotEvent:   {"not_event", http.StatusBadRequest, "body is not a Stripe event", true},
	rejectUnreadable: {"unreadable", http.StatusBadRequest, "cannot read the body", false},
}

// counters are the webhook receiver's running totals.
type counters struct {
	received, accepted, duplicates, otherAPIVersion, intakeErrors atomic.Int64
	rejected                                                      [numRejectReasons]atomic.Int64
}

// Counters is a snapshot of the webhook receiver's totals since start.
// Received = Accepted + IntakeErrors + the sum of Rejected.
type Counters struct {
	// Received counts every POST to a webhook route.
	Received int64
	// Accepted counts deliveries answered 200: new events and duplicates.
	Accepted int64
	// Duplicates counts deliveries of an event already stored.
	Duplicates int64
	// Rejected counts refused deliveries by reason, every reason present:
	// oversize, no_secret, unsigned, malformed, signature, stale,
	// not_event, unreadable.
	Rejected map[string]int64
	// OtherAPIVersion counts accepted deliveries whose api_version is not
	// the pinned one (the worker re-fetches their objects).
	OtherAPIVersion int64
	// IntakeErrors counts verified deliveries the database did not take
	// (answered 503, so Stripe retries them).
	IntakeErrors int64
}

// Counters returns the webhook receiver's totals.
func (s *Server) Counters() Counters {
	c := Counters{
		Received:        s.counters.received.Load(),
		Accepted:        s.counters.accepted.Load(),
		Duplicates:      s.counters.duplicates.Load(),
		OtherAPIVersion: s.counters.otherAPIVersion.Load(),
		IntakeErrors:    s.counters.intakeErrors.Load(),
		Rejected:        make(map[string]int64, numRejectReasons),
	}
	for reason := range numRejectReasons {
		c.Rejected[rejections[reason].name] = s.counters.rejected[reason].Load()
	}
	return c
}
