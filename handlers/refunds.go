package handlers

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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

const (
	refundAction  = "refund.create"
	maxRefundNote = 500
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
	d, open, ok := s.refundCharge(w, r)
	if !ok {
		return
	}
	f := s.newRefundForm(d, open)
	f.Amount, f.Reason = money.Major(refundableNow(d.Charge, open), d.Charge.Currency), "requested_by_customer"
	s.renderRefund(w, r, http.StatusOK, f)
}

// createRefund reviews, confirms and makes a refund
// (POST /charges/{id}/refunds). step=review checks the form and shows the
// confirmation; step=confirm makes the refund; step=edit goes back to the
// form with its values. A refund above the approval amount of its
// currency is not made on confirm but requested (approvals.go).
func (s *Server) createRefund(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	d, open, ok := s.refundCharge(w, r)
	if !ok {
		return
	}
	form := r.PostForm
	key := strings.TrimSpace(form.Get("key"))
	f := s.newRefundForm(d, open)
	f.Amount, f.Reason, f.Note = strings.TrimSpace(form.Get("amount")), form.Get("reason"), strings.TrimSpace(form.Get("note"))
	step := form.Get("step")
	if step != "review" && step != "confirm" && step != "edit" {
		s.renderError(w, r, http.StatusBadRequest, "The form could not be read; open the refund form again.")
		return
	}

	// A form already sent to Stripe is answered with what became of it,
	// whatever the charge looks like now.
	if key != f.Key {
		out, found, err := s.priorAction(r, key, refundAction, "charge:"+d.Charge.ID, false)
		if err != nil {
			s.serverError(w, r, "cannot read a refund request", err)
			return
		}
		if found {
			s.refundOutcome(w, r, d, f, out)
			return
		}
	}
	// A refund request this form made already (a double click, a retry):
	// answered with that request.
	if me, _ := currentUser(r); open != nil && key != "" && open.FormKey == key && open.RequestedBy == me.ID && step == "confirm" {
		s.requestMade(w, r, open.ID, true)
		return
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
	amount, full := s.checkRefund(&f, d, refundableNow(d.Charge, open))
	if step == "edit" || len(f.Errors) > 0 {
		status := http.StatusOK
		if len(f.Errors) > 0 {
			status = http.StatusUnprocessableEntity
		}
		s.renderRefund(w, r, status, f)
		return
	}
	f.AmountFormatted, f.Full = money.Format(amount, d.Charge.Currency), full
	if above, ok := s.approvalAboveFor(d.Charge.Currency); ok && amount > above {
		f.NeedsApproval = true
	}
	if step == "review" {
		f.Confirm = true
		s.renderRefund(w, r, http.StatusOK, f)
		return
	}
	if f.NeedsApproval {
		s.requestRefund(w, r, d, f, amount)
		return
	}
	s.makeRefund(w, r, d, f, amount)
}

// refundCharge reads the charge of a refund route and its open refund
// request (nil when none), answering 404 itself.
func (s *Server) refundCharge(w http.ResponseWriter, r *http.Request) (store.ChargeDetail, *store.RefundRequest, bool) {
	id, ok := s.detailID(w, r, "charge")
	if !ok {
		return store.ChargeDetail{}, nil, false
	}
	d, err := s.mirror.ChargeDetail(r.Context(), id)
	if !s.detailFound(w, r, "charge", id, err) {
		return store.ChargeDetail{}, nil, false
	}
	open, err := s.openRequest(r.Context(), id)
	if err != nil {
		s.serverError(w, r, "cannot read a refund request", err)
		return store.ChargeDetail{}, nil, false
	}
	return d, open, true
}

// refundableNow is what a refund form may still refund of charge c: what
// Stripe would refund, less the amount of its refund request waiting for
// approval.
func refundableNow(c store.Charge, open *store.RefundRequest) int64 {
	n := store.RefundableAmount(c)
	if open != nil {
		n -= open.Amount
	}
	return max(n, 0)
}

func (s *Server) newRefundForm(d store.ChargeDetail, open *store.RefundRequest) views.RefundForm {
	c, cur := d.Charge, d.Charge.Currency
	f := views.RefundForm{ChargeID: c.ID, ChargeURL: objectURL("charges", c.ID), Action: objectURL("charges", c.ID) + "/refunds",
		Customer: cmp.Or(deref(d.CustomerName), deref(d.CustomerEmail), deref(c.Customer)),
		Currency: money.Code(cur), Decimals: money.Exponent(cur),
		Captured: money.Format(c.AmountCaptured, cur), Refunded: money.Format(c.AmountRefunded, cur),
		Refundable: money.Format(refundableNow(c, open), cur), Key: refundKey(d), Errors: map[string]string{}}
	if above, ok := s.approvalAboveFor(cur); ok {
		f.ApprovalAbove = money.Format(above, cur)
	}
	f = s.withOpenRequest(f, open)
	switch {
	case s.refunder == nil || s.actions == nil:
		f.Unavailable = "Refunds are not available: paydesk has no Stripe key configured."
	case c.Status != "succeeded" || !c.Captured:
		f.Unavailable = "Only a succeeded, captured charge can be refunded; this one is " + c.Status + "."
	case c.Disputed:
		f.Unavailable = "This charge is disputed: Stripe does not refund a disputed charge. Respond to the dispute in Stripe instead."
	case store.RefundableAmount(c) == 0:
		f.Unavailable = "Nothing is left to refund on this charge."
	case refundableNow(c, open) == 0:
		f.Unavailable = "What is left of this charge is held by the refund request waiting for approval."
	}
	return f
}

// checkRefund checks the typed values against the charge, of which
// refundable may still be refunded, recording each problem on its field,
// and returns the amount in minor units and whether it is everything still
// refundable.
func (s *Server) checkRefund(f *views.RefundForm, d store.ChargeDetail, refundable int64) (int64, bool) {
	cur := d.Charge.Currency
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

// refundRefusals word Stripe's refusals of a refund.
var refundRefusals = map[string]string{
	"charge_already_refunded": "Stripe says this charge is already fully refunded. Nothing was refunded now.",
	"charge_disputed":         "Stripe does not refund a disputed charge. Respond to the dispute in Stripe instead.",
	"balance_insufficient":    "Stripe refused: the account's balance is too low to cover this refund. Add funds in Stripe, then try again.",
	"insufficient_funds":      "Stripe refused: the account's balance is too low to cover this refund. Add funds in Stripe, then try again.",
	"amount_too_large":        "Stripe refused: the amount is more than what is left to refund on the charge.",
}

// makeRefund sends a checked refund to Stripe once (runStripeAction) and
// answers with what became of it.
func (s *Server) makeRefund(w http.ResponseWriter, r *http.Request, d store.ChargeDetail, f views.RefundForm, amount int64) {
	me, _ := currentUser(r)
	p := stripeapi.RefundCreate{Charge: d.Charge.ID, Amount: amount, Reason: refundReason(f.Reason),
		Metadata: map[string]string{"paydesk_user": me.Email}}
	if f.Note != "" {
		p.Metadata["note"] = f.Note
	}
	if f.Reason == "other" {
		p.Metadata["reason"] = "other"
	}
	out, err := s.runStripeAction(r, stripeAction{Key: f.Key, Action: refundAction, Target: "charge:" + d.Charge.ID,
		Params: map[string]any{"amount": amount, "currency": d.Charge.Currency, "reason": f.Reason, "note": f.Note,
			"refunded_before": d.Charge.AmountRefunded},
		Refusals: refundRefusals,
		Call: func(ctx context.Context) (string, string, func(context.Context, *store.Store) error, error) {
			refund, requestID, err := s.refunder.CreateRecord(ctx, f.Key, p)
			if err != nil {
				return "", requestID, nil, err
			}
			return refund.ID, requestID, func(ctx context.Context, tx *store.Store) error {
				return tx.WriteThroughRefund(ctx, store.RefundWriteThrough{Refund: refund, Charge: d.Charge.ID,
					RefundedBefore: d.Charge.AmountRefunded})
			}, nil
		}})
	if err != nil {
		s.actionFailed(w, r, err)
		return
	}
	s.refundOutcome(w, r, d, f, out)
}

// refundOutcome answers with what became of a refund form: the charge page
// once the refund is made (now or by an earlier submission of the form),
// else the form with Stripe's refusal or a notice.
func (s *Server) refundOutcome(w http.ResponseWriter, r *http.Request, d store.ChargeDetail, f views.RefundForm, out actionOutcome) {
	q := url.Values{}
	switch {
	case out.Result != "":
		q.Set("refunded", out.Result)
		if out.Again {
			q.Set("again", "1")
		}
		http.Redirect(w, r, objectURL("charges", d.Charge.ID)+"?"+q.Encode(), http.StatusSeeOther)
	case out.Pending:
		s.renderError(w, r, http.StatusConflict, "This refund was already sent to Stripe and its answer is still on its way. "+
			"Open the charge again in a moment; do not refund again.")
	case out.Refusal != nil:
		msg, status := stripeRefusal(out.Refusal, refundRefusals)
		f.Errors[""], f.Confirm = msg, true
		s.renderRefund(w, r, status, f)
	default:
		// Refused under an earlier submission: the key is free again, and
		// the form can be sent once more.
		f.Errors[""] = "Stripe refused this refund: " + out.PriorRefusal
		s.renderRefund(w, r, http.StatusConflict, f)
	}
}

func (s *Server) renderRefund(w http.ResponseWriter, r *http.Request, status int, f views.RefundForm) {
	w.Header()["Cache-Control"] = noStoreCache
	s.render(w, r, status, views.RefundPage(s.page(r, "Refund "+f.ChargeID, "/charges"), f))
}
