package handlers

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"paydesk/store"
	"paydesk/stripeapi"
)

// maxWebhookBody is the largest delivery accepted. Stripe's events are
// far smaller; the cap bounds what one request can make the server hold.
const maxWebhookBody = 1 << 20

// keepBodyBuffer is the largest body buffer returned to the pool, so one
// large delivery does not pin a megabyte for the process's lifetime.
const keepBodyBuffer = 64 << 10

var (
	bodyBuffers  = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	receivedBody = []byte(`{"received":true}`)
)

// stripeWebhook receives a Stripe delivery: read (at most 1 MiB), verify,
// store durably, acknowledge. It never calls Stripe; the intake applies
// what the event settles by itself, the event workers the rest.
func (s *Server) stripeWebhook(w http.ResponseWriter, r *http.Request) {
	s.counters.received.Add(1)
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer releaseBody(buf)
	// Sizing the buffer from Content-Length saves regrowing it, but only
	// up to what the pool keeps: a sender must not make the server
	// allocate a megabyte by announcing one.
	if n := r.ContentLength; n > 0 && n <= keepBodyBuffer-bytes.MinRead {
		buf.Grow(int(n) + bytes.MinRead) // ReadFrom wants MinRead spare to see EOF
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxWebhookBody)); err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			s.reject(w, r, rejectOversize, buf.Bytes(), err)
		} else {
			s.reject(w, r, rejectUnreadable, nil, err)
		}
		return
	}
	body := buf.Bytes()
	if len(s.secrets) == 0 {
		s.reject(w, r, rejectNoSecret, body, stripeapi.ErrWebhookNoSecret)
		return
	}
	ev, err := stripeapi.VerifyWebhook(body, r.Header.Get("Stripe-Signature"), s.secrets)
	if err != nil {
		s.reject(w, r, reasonFor(err), body, err)
		return
	}

	ctx := r.Context()
	if ev.APIVersion != stripeapi.APIVersion {
		s.counters.otherAPIVersion.Add(1)
		s.log.LogAttrs(ctx, slog.LevelWarn, "webhook event at another API version; its object will be re-fetched",
			slog.String("event", ev.ID), slog.String("type", ev.Type),
			slog.String("api_version", ev.APIVersion), slog.String("pinned", stripeapi.APIVersion))
	}
	// ev.Raw is VerifyWebhook's copy of the body, so the event owns its
	// data even though buf goes back to the pool.
	inserted, err := s.intake.EnqueueEvent(ctx, store.Event{
		ID:         ev.ID,
		Type:       ev.Type,
		APIVersion: nilIfEmpty(ev.APIVersion),
		Created:    ev.Created,
		Livemode:   ev.Livemode,
		ObjectType: nilIfEmpty(ev.ObjectType),
		ObjectID:   nilIfEmpty(ev.ObjectID),
		Data:       ev.Raw,
		Object:     ev.Object,
		Source:     store.SourceWebhook,
	})
	if err != nil {
		// Not acknowledged, so Stripe delivers it again later.
		s.counters.intakeErrors.Add(1)
		s.fail(w, r, http.StatusServiceUnavailable, "cannot store the event now; retry later", err,
			slog.String("event", ev.ID), slog.String("type", ev.Type))
		return
	}
	s.counters.accepted.Add(1)
	if !inserted {
		s.counters.duplicates.Add(1)
	}
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.LogAttrs(ctx, slog.LevelDebug, "webhook event queued",
			slog.String("event", ev.ID), slog.String("type", ev.Type), slog.Bool("duplicate", !inserted))
	}
	w.Header()["Content-Type"] = jsonType
	_, _ = w.Write(receivedBody)
}

// reject counts a refused delivery, keeps it (best effort: a failure to
// record it is logged and the answer stays the same) and answers.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, reason rejectReason, body []byte, err error) {
	s.counters.rejected[reason].Add(1)
	why := rejections[reason]
	remote := remoteHost(r)
	if why.record {
		if rerr := s.intake.RecordRejectedDelivery(r.Context(), why.name, remote, body); rerr != nil {
			s.log.LogAttrs(r.Context(), slog.LevelError, "cannot record a rejected webhook delivery",
				slog.String("reason", why.name), slog.Any("err", rerr))
		}
	}
	s.fail(w, r, why.status, why.message, err, slog.String("reason", why.name), slog.String("remote", remote))
}

// reasonFor maps a verification error to its reason.
func reasonFor(err error) rejectReason {
	switch {
	case errors.Is(err, stripeapi.ErrWebhookUnsigned):
		return rejectUnsigned
	case errors.Is(err, stripeapi.ErrWebhookMalformed):
		return rejectMalformed
	case errors.Is(err, stripeapi.ErrWebhookStale):
		return rejectStale
	case errors.Is(err, stripeapi.ErrWebhookBody):
		return rejectNotEvent
	case errors.Is(err, stripeapi.ErrWebhookNoSecret):
		return rejectNoSecret
	default:
		return rejectSignature
	}
}

func releaseBody(buf *bytes.Buffer) {
	if buf.Cap() > keepBodyBuffer {
		return
	}
	buf.Reset()
	bodyBuffers.Put(buf)
}

// remoteHost is the peer's address without its port. It is the direct
// peer: a forwarding header could be forged by the very sender being
// recorded.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
