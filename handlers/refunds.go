package handlers

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"paydesk/store"
	"paydesk/store/money"
	"paydesk/stripeapi"
	"paydesk/views"
)

// Refunder makes refunds on Stripe: *stripeapi.Refunds.
type Refunder interface {
	// CreateRecord refunds a charge under an idempotency key and returns
	// Stripe's answer as a mirror row and Stripe's request id.
	CreateRecord(ctx context.Context, idempotencyKey string, p stripeapi.RefundCreate) (store.Refund, string, error)
}

// actionStore records the requests paydesk sends Stripe (store/actions.go).
type actionStore interface {
	ClaimAction(ctx context.Context, key, action, target string, actorID *int64) (store.Action, bool, error)
	ActionByKey(ctx context.Context, key string) (store.Action, error)
}

const (
	refundAction  = "refund.create"
	maxRefundNote = 500
	// stripeCallTimeout bounds a call to Stripe made for a form.
	stripeCallTimeout = 60 * time.Second
	// pendingWait is how long a second submission of a form waits for the
	// first one's answer before saying it is still on its way.
	pendingWait = 5 * time.Second
)

// refundKey is the idempotency key of a refund form: the charge and what
// was refunded of it when the form was made. Every form made from one
// state of the charge (a double click, a retried post, a second tab)
// carries the same key, so Stripe makes at most one refund for them; once
// a refund is recorded the state, and so the next form's key, changes.
// The newest refund's id keeps a key from coming back when a failed refund
// returns amount_refunded to an earlier figure.
func refundKey(d store.ChargeDetail) string {
	newest := ""
	if len(d.Refunds) > 0 {
		newest = d.Refunds[0].ID
	}
	h := sha256.Sum256([]byte(d.Charge.ID + "\x00" + strconv.FormatInt(d.Charge.AmountRefunded, 10) + "\x00" + newest))
	return "paydesk-refund-" + d.Charge.ID + "-" + hex.EncodeToString(h[:12])
}

// refundForm shows the refund form of a charge (GET /charges/{id}/refund).
func (s *Server) refundForm(w http.ResponseWriter, r *http.Request) {
	d, ok := s.refundCharge(w, r)
	if !ok {
		return
	}
	f := s.newRefundForm(d)
	f.Amount, f.Reason = money.Major(store.RefundableAmount(d.Charge), d.Charge.Currency), "requested_by_customer"
	s.renderRefund(w, r, http.StatusOK, f)
}

// createRefund reviews, confirms and makes a refund
// (POST /charges/{id}/refunds). step=review checks the form and shows the
// confirmation; step=confirm makes the refund; step=edit goes back to the
// form with its values.
func (s *Server) createRefund(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	d, ok := s.refundCharge(w, r)
	if !ok {
		return
	}
	form := r.PostForm
	key := strings.TrimSpace(form.Get("key"))
	f := s.newRefundForm(d)
	f.Amount, f.Reason, f.Note = strings.TrimSpace(form.Get("amount")), form.Get("reason"), strings.TrimSpace(form.Get("note"))
	step := form.Get("step")
	if step != "review" && step != "confirm" && step != "edit" {
		s.renderError(w, r, http.StatusBadRequest, "The form could not be read; open the refund form again.")
		return
	}

	// A form already sent to Stripe is answered with what became of it,
	// whatever the charge looks like now.
	if s.actions != nil && key != "" && key != f.Key {
		if a, err := s.actions.ActionByKey(r.Context(), key); err == nil && a.Action == refundAction && a.Target == "charge:"+d.Charge.ID {
			s.refundAlreadySent(w, r, d, a)
			return
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.serverError(w, r, "cannot read a refund request", err)
			return
		}
	}
	if f.Unavailable != "" {
		s.renderRefund(w, r, http.StatusConflict, f)
		return
	}
	if key != f.Key {
		// Made from an older state of the charge: its figures are not
		// today's. The form shows the current ones and the same values.
		f.Errors[""] = "This charge has changed since the form was opened (" + f.Refunded + " is refunded now, " +
			f.Refundable + " is left). Check the amount and submit again."
		s.renderRefund(w, r, http.StatusConflict, f)
		return
	}
	amount, full := s.checkRefund(&f, d)
	if step == "edit" || len(f.Errors) > 0 {
		status := http.StatusOK
		if len(f.Errors) > 0 {
			status = http.StatusUnprocessableEntity
		}
		s.renderRefund(w, r, status, f)
		return
	}
	f.AmountFormatted, f.Full = money.Format(amount, d.Charge.Currency), full
	if step == "review" {
		f.Confirm = true
		s.renderRefund(w, r, http.StatusOK, f)
		return
	}
	s.makeRefund(w, r, d, f, amount)
}

// refundCharge reads the charge of a refund route, answering 404 itself.
func (s *Server) refundCharge(w http.ResponseWriter, r *http.Request) (store.ChargeDetail, bool) {
	id, ok := s.detailID(w, r, "charge")
	if !ok {
		return store.ChargeDetail{}, false
	}
	d, err := s.mirror.ChargeDetail(r.Context(), id)
	if !s.detailFound(w, r, "charge", id, err) {
		return store.ChargeDetail{}, false
	}
	return d, true
}

func (s *Server) newRefundForm(d store.ChargeDetail) views.RefundForm {
	c, cur := d.Charge, d.Charge.Currency
	f := views.RefundForm{ChargeID: c.ID, ChargeURL: objectURL("charges", c.ID), Action: objectURL("charges", c.ID) + "/refunds",
		Customer: cmp.Or(deref(d.CustomerName), deref(d.CustomerEmail), deref(c.Customer)),
		Currency: money.Code(cur), Decimals: money.Exponent(cur),
		Captured: money.Format(c.AmountCaptured, cur), Refunded: money.Format(c.AmountRefunded, cur),
		Refundable: money.Format(store.RefundableAmount(c), cur), Key: refundKey(d), Errors: map[string]string{}}
	switch {
	case s.refunder == nil || s.actions == nil:
		f.Unavailable = "Refunds are not available: paydesk has no Stripe key configured."
	case c.Status != "succeeded" || !c.Captured:
		f.Unavailable = "Only a succeeded, captured charge can be refunded; this one is " + c.Status + "."
	case c.Disputed:
		f.Unavailable = "This charge is disputed: Stripe does not refund a disputed charge. Respond to the dispute in Stripe instead."
	case store.RefundableAmount(c) == 0:
		f.Unavailable = "Nothing is left to refund on this charge."
	}
	return f
}

// checkRefund checks the typed values against the charge, recording each
// problem on its field, and returns the amount in minor units and whether
// it is everything still refundable.
func (s *Server) checkRefund(f *views.RefundForm, d store.ChargeDetail) (int64, bool) {
	cur, refundable := d.Charge.Currency, store.RefundableAmount(d.Charge)
	amount, err := money.Parse(f.Amount, cur)
	switch {
	case f.Amount == "":
		f.Errors["amount"] = "Enter the amount to refund."
	case errors.Is(err, money.ErrTooManyPlaces):
		if f.Decimals == 0 {
			f.Errors["amount"] = f.Currency + " has no decimals: enter a whole amount."
		} else {
			f.Errors["amount"] = f.Currency + " has " + strconv.Itoa(f.Decimals) + " decimal places: enter at most that many."
		}
	case err != nil:
		f.Errors["amount"] = "Enter the amount as a number, like " + money.Major(refundable, cur) + "."
	case amount <= 0:
		f.Errors["amount"] = "The amount must be more than zero."
	case amount > refundable:
		f.Errors["amount"] = "At most " + f.Refundable + " can be refunded."
	}
	if refundReason(f.Reason) == "" && f.Reason != "other" {
		f.Errors["reason"] = "Choose one of the reasons."
	}
	switch {
	case f.Reason == "other" && f.Note == "":
		f.Errors["note"] = "Say why: the note is required when the reason is Other."
	case utf8.RuneCountInString(f.Note) > maxRefundNote:
		f.Errors["note"] = "Keep the note under " + strconv.Itoa(maxRefundNote) + " characters."
	case !utf8.ValidString(f.Note) || strings.ContainsRune(f.Note, 0):
		f.Errors["note"] = "The note holds characters that cannot be stored."
	}
	return amount, amount == refundable
}

// refundReason is Stripe's reason for a form's reason; "" for other (and
// anything unknown).
func refundReason(reason string) string {
	switch reason {
	case "duplicate", "fraudulent", "requested_by_customer":
		return reason
	}
	return ""
}

// makeRefund sends a checked refund to Stripe once and writes Stripe's
// answer, the action's outcome and the audit row in one transaction.
func (s *Server) makeRefund(w http.ResponseWriter, r *http.Request, d store.ChargeDetail, f views.RefundForm, amount int64) {
	me, _ := currentUser(r)
	target := "charge:" + d.Charge.ID
	a, claimed, err := s.actions.ClaimAction(r.Context(), f.Key, refundAction, target, &me.ID)
	if err != nil {
		s.serverError(w, r, "cannot claim a refund request", err)
		return
	}
	if !claimed {
		s.refundAlreadySent(w, r, d, a)
		return
	}
	// From here the request runs to its end even if the browser goes
	// away: Stripe's answer must be recorded.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), stripeCallTimeout)
	defer cancel()
	p := stripeapi.RefundCreate{Charge: d.Charge.ID, Amount: amount, Reason: refundReason(f.Reason),
		Metadata: map[string]string{"paydesk_user": me.Email}}
	if f.Note != "" {
		p.Metadata["note"] = f.Note
	}
	if f.Reason == "other" {
		p.Metadata["reason"] = "other"
	}
	params := map[string]any{"amount": amount, "currency": d.Charge.Currency, "reason": f.Reason, "note": f.Note,
		"idempotency_key": f.Key, "refunded_before": d.Charge.AmountRefunded}
	entry := store.AuditEntry{ActorID: &me.ID, Actor: me.Email, Action: refundAction, Target: target,
		Params: params, RemoteAddr: remoteHost(r)}

	refund, requestID, callErr := s.refunder.CreateRecord(ctx, f.Key, p)
	if callErr != nil {
		var se *stripeapi.Error
		if errors.As(callErr, &se) {
			requestID = se.RequestID
		}
		msg, status := refundRefusal(callErr)
		entry.Outcome, entry.StripeRequestID = store.AuditFailed, requestID
		params["error"] = msg
		err := s.staff.InTx(ctx, func(tx *store.Store) error {
			if err := tx.FinishAction(ctx, f.Key, store.ActionFailed, "", msg); err != nil {
				return err
			}
			return tx.RecordAudit(ctx, entry)
		})
		if err != nil {
			s.logError(r, "cannot record a refused refund", err)
		}
		s.log.LogAttrs(ctx, slog.LevelWarn, "Stripe refused a refund", slog.String("charge", d.Charge.ID),
			slog.String("stripe_request_id", requestID), slog.Any("err", callErr))
		f.Errors[""] = msg
		f.Confirm = true
		s.renderRefund(w, r, status, f)
		return
	}
	entry.Outcome, entry.StripeRequestID = store.AuditOK, requestID
	params["refund"] = refund.ID
	err = s.staff.InTx(ctx, func(tx *store.Store) error {
		if err := tx.WriteThroughRefund(ctx, store.RefundWriteThrough{Refund: refund, Charge: d.Charge.ID,
			RefundedBefore: d.Charge.AmountRefunded}); err != nil {
			return err
		}
		if err := tx.FinishAction(ctx, f.Key, store.ActionDone, refund.ID, ""); err != nil {
			return err
		}
		return tx.RecordAudit(ctx, entry)
	})
	if err != nil {
		// Stripe made the refund; the action stays pending, so a retry of
		// this form after store.ActionStale asks Stripe again under the
		// same key and records the same refund.
		s.logError(r, "Stripe made refund "+refund.ID+" but it could not be recorded", err)
		s.renderError(w, r, http.StatusInternalServerError, "Stripe made the refund ("+refund.ID+
			"), but paydesk could not record it yet. Do not refund again: it will show once Stripe's webhook arrives.")
		return
	}
	http.Redirect(w, r, objectURL("charges", d.Charge.ID)+"?"+url.Values{"refunded": {refund.ID}}.Encode(), http.StatusSeeOther)
}

// refundAlreadySent answers a second submission of a form whose refund was
// sent already: with the refund once it is made, else with a notice.
func (s *Server) refundAlreadySent(w http.ResponseWriter, r *http.Request, d store.ChargeDetail, a store.Action) {
	deadline := time.Now().Add(pendingWait)
	for a.Status == store.ActionPending && time.Now().Before(deadline) {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
		next, err := s.actions.ActionByKey(r.Context(), a.Key)
		if err != nil {
			s.serverError(w, r, "cannot read a refund request", err)
			return
		}
		a = next
	}
	switch a.Status {
	case store.ActionDone:
		http.Redirect(w, r, objectURL("charges", d.Charge.ID)+"?"+url.Values{"refunded": {deref(a.ResultID)}, "again": {"1"}}.Encode(),
			http.StatusSeeOther)
	case store.ActionPending:
		s.renderError(w, r, http.StatusConflict, "This refund was already sent to Stripe and its answer is still on its way. "+
			"Open the charge again in a moment; do not refund again.")
	default:
		// Failed: the form may be sent again (the key is free); show it.
		f := s.newRefundForm(d)
		f.Key = a.Key
		f.Errors[""] = "Stripe refused this refund: " + deref(a.Error)
		s.renderRefund(w, r, http.StatusConflict, f)
	}
}

// refundRefusal turns a failed Stripe call into a message for the form and
// the status to answer with.
func refundRefusal(err error) (string, int) {
	var se *stripeapi.Error
	if !errors.As(err, &se) {
		return "Stripe could not be reached, so it may or may not have made the refund. Submitting this form again is safe: " +
			"Stripe will not refund twice.", http.StatusBadGateway
	}
	switch se.Code {
	case "charge_already_refunded":
		return "Stripe says this charge is already fully refunded. Nothing was refunded now.", http.StatusConflict
	case "charge_disputed":
		return "Stripe does not refund a disputed charge. Respond to the dispute in Stripe instead.", http.StatusConflict
	case "balance_insufficient", "insufficient_funds":
		return "Stripe refused: the account's balance is too low to cover this refund. Add funds in Stripe, then try again.", http.StatusConflict
	case "amount_too_large":
		return "Stripe refused: the amount is more than what is left to refund on the charge.", http.StatusConflict
	}
	if se.Retryable || se.HTTPStatus >= 500 || se.HTTPStatus == 0 {
		return "Stripe did not answer properly (" + cmp.Or(se.Message, "status "+strconv.Itoa(se.HTTPStatus)) +
				"), so it may or may not have made the refund. Submitting this form again is safe: Stripe will not refund twice.",
			http.StatusBadGateway
	}
	return "Stripe refused the refund: " + cmp.Or(se.Message, "status "+strconv.Itoa(se.HTTPStatus)) + ".", http.StatusUnprocessableEntity
}

func (s *Server) renderRefund(w http.ResponseWriter, r *http.Request, status int, f views.RefundForm) {
	w.Header()["Cache-Control"] = noStoreCache
	s.render(w, r, status, views.RefundPage(s.page(r, "Refund "+f.ChargeID, "/charges"), f))
}
