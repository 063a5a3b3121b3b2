package handlers

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"paydesk/store"
	"paydesk/stripeapi"
)

// Every action a form asks of Stripe (a refund, an invoice change, a
// customer edit) runs through runStripeAction:
//
//  1. the form's idempotency key is claimed in stripe_actions, so a double
//     click, a browser retry or a second tab send Stripe one request;
//  2. Stripe is called under that key, on a context the browser cannot
//     cancel (its answer must be recorded);
//  3. on success, Stripe's answer is written through to the mirror, the
//     action marked done and one audit row written, in one transaction;
//  4. on a refusal, the action is marked failed (freeing the key for a
//     retry, which Stripe answers with the original result if it had
//     acted) and one audit row records it; the mirror is not touched.
//
// Input is checked before runStripeAction: a refused form never claims a
// key, calls Stripe or writes an audit row.

const (
	// stripeCallTimeout bounds a call to Stripe made for a form.
	stripeCallTimeout = 60 * time.Second
	// pendingWait is how long a second submission of a form waits for the
	// first one's answer before saying it is still on its way.
	pendingWait = 5 * time.Second
)

// actionStore records the requests paydesk sends Stripe (store/actions.go).
type actionStore interface {
	ClaimAction(ctx context.Context, key, action, target string, actorID *int64) (store.Action, bool, error)
	ActionByKey(ctx context.Context, key string) (store.Action, error)
}

// stripeAction is one request to Stripe made for a form.
type stripeAction struct {
	// Key is the form's idempotency key; Action ("refund.create") and
	// Target ("charge:ch_123") name it in stripe_actions and the audit log.
	Key, Action, Target string
	// Params are the audit row's parameters (never secrets); the result
	// and any refusal are added to them.
	Params map[string]any
	// Refusals word the refusals the action expects, by Stripe's error
	// code (see stripeRefusal).
	Refusals map[string]string
	// Call makes the request. It returns the id of what Stripe made or
	// changed, Stripe's request id and a function that writes the answer
	// through to the mirror inside the action's transaction.
	Call func(ctx context.Context) (result, requestID string, write func(ctx context.Context, tx *store.Store) error, err error)
}

// actionOutcome is what became of a stripeAction.
type actionOutcome struct {
	// Result is the id of what Stripe made or changed, when it succeeded
	// now or under an earlier submission of the same form (Again).
	Result string
	Again  bool
	// Pending says an earlier submission of the form is still waiting for
	// Stripe's answer.
	Pending bool
	// Refusal is Stripe's refusal (now, or of the earlier submission,
	// then as text in PriorRefusal).
	Refusal      error
	PriorRefusal string
}

// runStripeAction claims a's key, calls Stripe once and records the
// outcome (see the comment at the top of this file). The error is paydesk's
// own (the database); Stripe's refusals are in the outcome.
func (s *Server) runStripeAction(r *http.Request, a stripeAction) (actionOutcome, error) {
	me, _ := currentUser(r)
	prior, claimed, err := s.actions.ClaimAction(r.Context(), a.Key, a.Action, a.Target, &me.ID)
	if err != nil {
		return actionOutcome{}, err
	}
	if !claimed {
		return s.awaitAction(r, prior)
	}
	// From here the request runs to its end even if the browser goes
	// away: Stripe's answer must be recorded.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), stripeCallTimeout)
	defer cancel()
	if a.Params == nil {
		a.Params = map[string]any{}
	}
	a.Params["idempotency_key"] = a.Key
	entry := store.AuditEntry{ActorID: &me.ID, Actor: me.Email, Action: a.Action, Target: a.Target,
		Params: a.Params, RemoteAddr: remoteHost(r)}
	result, requestID, write, callErr := a.Call(ctx)
	if callErr != nil {
		var se *stripeapi.Error
		if errors.As(callErr, &se) && requestID == "" {
			requestID = se.RequestID
		}
		msg, _ := stripeRefusal(callErr, a.Refusals)
		entry.Outcome, entry.StripeRequestID = store.AuditFailed, requestID
		a.Params["error"] = msg
		err := s.staff.InTx(ctx, func(tx *store.Store) error {
			if err := tx.FinishAction(ctx, a.Key, store.ActionFailed, "", msg); err != nil {
				return err
			}
			return tx.RecordAudit(ctx, entry)
		})
		s.log.LogAttrs(ctx, slog.LevelWarn, "Stripe refused an action", slog.String("action", a.Action),
			slog.String("target", a.Target), slog.String("stripe_request_id", requestID), slog.Any("err", callErr))
		return actionOutcome{Refusal: callErr}, err
	}
	entry.Outcome, entry.StripeRequestID = store.AuditOK, requestID
	a.Params["result"] = result
	err = s.staff.InTx(ctx, func(tx *store.Store) error {
		if write != nil {
			if err := write(ctx, tx); err != nil {
				return err
			}
		}
		if err := tx.FinishAction(ctx, a.Key, store.ActionDone, result, ""); err != nil {
			return err
		}
		return tx.RecordAudit(ctx, entry)
	})
	if err != nil {
		// Stripe acted; the action stays pending, so the same form sent
		// again after store.ActionStale asks Stripe again under the same
		// key and records the same result.
		return actionOutcome{}, &unrecordedError{result: result, err: err}
	}
	return actionOutcome{Result: result}, nil
}

// unrecordedError is a Stripe action that succeeded but could not be
// recorded.
type unrecordedError struct {
	result string
	err    error
}

func (e *unrecordedError) Error() string {
	return "Stripe made " + e.result + " but it could not be recorded: " + e.err.Error()
}
func (e *unrecordedError) Unwrap() error { return e.err }

// actionFailed answers an error of runStripeAction.
func (s *Server) actionFailed(w http.ResponseWriter, r *http.Request, err error) {
	if u, ok := errors.AsType[*unrecordedError](err); ok {
		s.logError(r, "a Stripe action succeeded but could not be recorded", err)
		s.renderError(w, r, http.StatusInternalServerError, "Stripe carried this out ("+u.result+
			"), but paydesk could not record it yet. Do not do it again: it will show once Stripe's webhook arrives.")
		return
	}
	s.serverError(w, r, "cannot record a Stripe action", err)
}

// priorAction is what became of a form sent to Stripe before under key,
// for action on target (waiting, like awaitAction, for one still on its
// way). found is false when no such form was sent, or, with retryFailed,
// when Stripe refused it and it may be sent again.
func (s *Server) priorAction(r *http.Request, key, action, target string, retryFailed bool) (out actionOutcome, found bool, err error) {
	if s.actions == nil || key == "" {
		return actionOutcome{}, false, nil
	}
	a, err := s.actions.ActionByKey(r.Context(), key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return actionOutcome{}, false, nil
	case err != nil:
		return actionOutcome{}, false, err
	case a.Action != action || a.Target != target || retryFailed && a.Status == store.ActionFailed:
		return actionOutcome{}, false, nil
	}
	out, err = s.awaitAction(r, a)
	return out, err == nil, err
}

// awaitAction is the outcome of a form sent before: it waits up to
// pendingWait for a pending submission to finish.
func (s *Server) awaitAction(r *http.Request, a store.Action) (actionOutcome, error) {
	deadline := time.Now().Add(pendingWait)
	for a.Status == store.ActionPending && time.Now().Before(deadline) {
		select {
		case <-r.Context().Done():
			return actionOutcome{}, r.Context().Err()
		case <-time.After(100 * time.Millisecond):
		}
		next, err := s.actions.ActionByKey(r.Context(), a.Key)
		if err != nil {
			return actionOutcome{}, err
		}
		a = next
	}
	switch a.Status {
	case store.ActionDone:
		return actionOutcome{Result: deref(a.ResultID), Again: true}, nil
	case store.ActionPending:
		return actionOutcome{Pending: true, Again: true}, nil
	default:
		return actionOutcome{Again: true, PriorRefusal: deref(a.Error)}, nil
	}
}

// stripeRefusal turns a failed Stripe call into a message for the form and
// the status to answer with. byCode words the refusals an action expects,
// by Stripe's error code.
func stripeRefusal(err error, byCode map[string]string) (string, int) {
	var se *stripeapi.Error
	if !errors.As(err, &se) {
		return "Stripe could not be reached, so it may or may not have carried this out. Submitting the form again is safe: " +
			"Stripe will not do it twice.", http.StatusBadGateway
	}
	if msg, ok := byCode[se.Code]; ok {
		return msg, http.StatusConflict
	}
	if se.Retryable || se.HTTPStatus >= 500 || se.HTTPStatus == 0 {
		return "Stripe did not answer properly (" + cmp.Or(se.Message, "status "+strconv.Itoa(se.HTTPStatus)) +
				"), so it may or may not have carried this out. Submitting the form again is safe: Stripe will not do it twice.",
			http.StatusBadGateway
	}
	return "Stripe refused: " + cmp.Or(se.Message, "status "+strconv.Itoa(se.HTTPStatus)) + ".", http.StatusUnprocessableEntity
}
