package handlers

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
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

// Dual approval of large refunds. A refund above the amount configured for
// its currency (Config.RefundApproval, PAYDESK_REFUND_APPROVAL_ABOVE) is
// not sent to Stripe when its form is confirmed: it becomes a refund
// request (audit refund.request), counted against what the charge has
// left to refund. Another member of staff with refund rights approves it
// on GET /refunds/requests; only then is the refund made, through
// runStripeAction under the key stored with the request, so a double click
// or two approvers at once make one refund.
//
// Audit: one row per action, none when paydesk refuses it. The request is
// refund.request; the approval and the refund it makes are one action,
// refund.approve, whose row names the approver (actor), the requester and
// the request in its params, with Stripe's request id and outcome like
// refund.create (failed when Stripe refused); a rejection or withdrawal is
// refund.reject.

const (
	refundRequestsPath  = "/refunds/requests"
	refundRequestAction = "refund.request"
	refundApproveAction = "refund.approve"
	refundRejectAction  = "refund.reject"
	// decidedShown is how many decided requests the requests page lists.
	decidedShown = 20
)

// refundRequestStore reads refund requests (store/refund_requests.go); the
// changes go through Staff.InTx with their audit rows.
type refundRequestStore interface {
	RefundRequest(ctx context.Context, id int64) (store.RefundRequest, error)
	OpenRefundRequest(ctx context.Context, charge string) (store.RefundRequest, error)
	RefundRequests(ctx context.Context, decidedLimit int) (open, decided []store.RefundRequest, err error)
	PendingRefundRequests(ctx context.Context) (int, error)
}

// ParseRefundApproval reads PAYDESK_REFUND_APPROVAL_ABOVE: comma-separated
// currency=amount pairs in major units ("usd=500.00,eur=500,jpy=50000"),
// each amount parsed exactly in its currency's decimals. It returns the
// amounts in minor units by lower-case currency; "" is no approval at all.
func ParseRefundApproval(v string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		cur, amount, ok := strings.Cut(part, "=")
		cur, amount = strings.ToLower(strings.TrimSpace(cur)), strings.TrimSpace(amount)
		if !ok || amount == "" {
			return nil, fmt.Errorf("%q: want currency=amount, like usd=500.00", part)
		}
		if len(cur) != 3 || strings.Trim(cur, "abcdefghijklmnopqrstuvwxyz") != "" {
			return nil, fmt.Errorf("%q: %q is not a three-letter currency code like usd", part, cur)
		}
		if _, dup := out[cur]; dup {
			return nil, fmt.Errorf("%s is listed twice", money.Code(cur))
		}
		n, err := money.Parse(amount, cur)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", part, err)
		}
		out[cur] = n
	}
	return out, nil
}

// approvalAboveFor is the amount above which a refund in cur needs
// approval, and whether cur has one.
func (s *Server) approvalAboveFor(cur string) (int64, bool) {
	n, ok := s.approvalAbove[strings.ToLower(cur)]
	return n, ok
}

// openRequest is the charge's open refund request, nil when it has none
// (or paydesk keeps no requests).
func (s *Server) openRequest(ctx context.Context, charge string) (*store.RefundRequest, error) {
	if s.requests == nil {
		return nil, nil
	}
	req, err := s.requests.OpenRefundRequest(ctx, charge)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &req, nil
}

// newRequestKey is the idempotency key a request's refund is sent under:
// random, so a request made after a rejected one from the same charge
// state is a new request to Stripe.
func newRequestKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "paydesk-refund-request-" + hex.EncodeToString(b)
}

// requestRefund stores a confirmed refund above the approval amount as a
// request with its audit row, and sends the requester to the requests
// page. No Stripe call.
func (s *Server) requestRefund(w http.ResponseWriter, r *http.Request, d store.ChargeDetail, f views.RefundForm, amount int64) {
	ctx := r.Context()
	me, _ := currentUser(r)
	above, _ := s.approvalAboveFor(d.Charge.Currency)
	var req store.RefundRequest
	err := s.staff.InTx(ctx, func(tx *store.Store) error {
		var err error
		req, err = tx.CreateRefundRequest(ctx, store.NewRefundRequest{Charge: d.Charge.ID, Amount: amount,
			Currency: d.Charge.Currency, Reason: f.Reason, Note: f.Note, RequestedBy: me.ID, Key: newRequestKey(), FormKey: f.Key})
		if err != nil {
			return err
		}
		return tx.RecordAudit(ctx, store.AuditEntry{ActorID: &me.ID, Actor: me.Email, Action: refundRequestAction,
			Target: "charge:" + d.Charge.ID, Outcome: store.AuditOK, RemoteAddr: remoteHost(r),
			Params: map[string]any{"request_id": req.ID, "amount": amount, "currency": d.Charge.Currency, "reason": f.Reason,
				"note": f.Note, "approval_above": above, "refunded_before": d.Charge.AmountRefunded}})
	})
	switch {
	case errors.Is(err, store.ErrRefundRequestOpen):
		open, rerr := s.openRequest(ctx, d.Charge.ID)
		if rerr != nil {
			s.serverError(w, r, "cannot read a refund request", rerr)
			return
		}
		if open != nil && open.FormKey == f.Key && open.RequestedBy == me.ID {
			// The same form sent twice at once: the first made the request.
			s.requestMade(w, r, open.ID, true)
			return
		}
		f.Errors[""] = "A refund request for this charge is already waiting for approval. It must be approved, " +
			"rejected or withdrawn before another one is made."
		f.Confirm = false
		s.renderRefund(w, r, http.StatusConflict, s.withOpenRequest(f, open))
		return
	case errors.Is(err, store.ErrRefundRequestTooLarge):
		f.Errors[""] = "This charge has less left to refund than the request asks for now. Open the refund form again."
		f.Confirm = false
		s.renderRefund(w, r, http.StatusConflict, f)
		return
	case err != nil:
		s.serverError(w, r, "cannot record a refund request", err)
		return
	}
	s.requestMade(w, r, req.ID, false)
}

// requestMade sends the requester to the requests page with a notice.
func (s *Server) requestMade(w http.ResponseWriter, r *http.Request, id int64, again bool) {
	q := url.Values{"requested": {strconv.FormatInt(id, 10)}}
	if again {
		q.Set("again", "1")
	}
	http.Redirect(w, r, refundRequestsPath+"?"+q.Encode(), http.StatusSeeOther)
}

// withOpenRequest adds the charge's open request to a refund form.
func (s *Server) withOpenRequest(f views.RefundForm, open *store.RefundRequest) views.RefundForm {
	if open != nil {
		f.Open = &views.OpenRefundRequest{ID: open.ID, Amount: money.Format(open.Amount, open.Currency),
			By: open.RequesterEmail, At: s.formatTime(open.RequestedAt), URL: refundRequestsPath + "#" + views.RefundRequestRowID(open.ID)}
	}
	return f
}

// refundRequestsPage lists the open and the recently decided refund
// requests (GET /refunds/requests).
func (s *Server) refundRequestsPage(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "Refund requests", refundRequestsPath)
	q := r.URL.Query()
	if id, err := strconv.ParseInt(q.Get("requested"), 10, 64); err == nil && id > 0 {
		p.Flash = "Refund request #" + strconv.FormatInt(id, 10) + " was sent for approval: someone else with refund rights must approve it."
		if q.Get("again") != "" {
			p.Flash = "This form's refund request was already sent: #" + strconv.FormatInt(id, 10) + ". Nothing was requested again."
		}
	}
	if id, err := strconv.ParseInt(q.Get("rejected"), 10, 64); err == nil && id > 0 {
		p.Flash = "Refund request #" + strconv.FormatInt(id, 10) + " was rejected; nothing was refunded."
	}
	s.renderRequests(w, r, http.StatusOK, p, "")
}

func (s *Server) renderRequests(w http.ResponseWriter, r *http.Request, status int, p views.Page, errMsg string) {
	if s.requests == nil {
		s.renderError(w, r, http.StatusServiceUnavailable, "Refund requests are not available here.")
		return
	}
	open, decided, err := s.requests.RefundRequests(r.Context(), decidedShown)
	if err != nil {
		s.serverError(w, r, "cannot list refund requests", err)
		return
	}
	me, _ := currentUser(r)
	d := views.RefundRequestsData{Error: errMsg}
	for _, req := range open {
		d.Open = append(d.Open, s.requestRow(req, me))
	}
	for _, req := range decided {
		d.Decided = append(d.Decided, s.requestRow(req, me))
	}
	w.Header()["Cache-Control"] = noStoreCache
	s.render(w, r, status, views.RefundRequestsPage(p, d))
}

func (s *Server) requestRow(req store.RefundRequest, me store.User) views.RefundRequestRow {
	base := refundRequestsPath + "/" + strconv.FormatInt(req.ID, 10)
	row := views.RefundRequestRow{ID: req.ID, Amount: money.Format(req.Amount, req.Currency), Currency: money.Code(req.Currency),
		ChargeID: req.Charge, ChargeURL: objectURL("charges", req.Charge),
		Customer:    cmp.Or(deref(req.CustomerName), deref(req.CustomerEmail), deref(req.Customer)),
		RequestedBy: req.RequesterEmail, Requested: s.formatTime(req.RequestedAt),
		Reason: refundReasonText(req.Reason), Note: req.Note, Status: req.Status, DecisionNote: req.DecisionNote,
		Error: deref(req.Error), ApproveURL: base + "/approve", RejectURL: base + "/reject",
		Own: req.RequestedBy == me.ID}
	if req.Customer != nil && *req.Customer != "" {
		row.CustomerURL = objectURL("customers", *req.Customer)
	}
	if req.RefundID != nil && *req.RefundID != "" {
		row.RefundID, row.RefundURL = *req.RefundID, objectURL("refunds", *req.RefundID)
	}
	if req.DecidedAt != nil {
		verb := map[string]string{store.RefundRequestApproved: "Approved", store.RefundRequestExecuted: "Approved",
			store.RefundRequestFailed: "Approved", store.RefundRequestRejected: "Rejected"}[req.Status]
		if req.Status == store.RefundRequestRejected && req.DecidedBy != nil && *req.DecidedBy == req.RequestedBy {
			verb = "Withdrawn"
		}
		row.Decision = verb + " by " + deref(req.DeciderEmail) + " on " + s.formatTime(*req.DecidedAt)
	}
	switch req.Status {
	case store.RefundRequestPending:
		row.CanReject = true
		row.CanApprove = !row.Own
	case store.RefundRequestApproved:
		row.CanRetry = req.DecidedBy != nil && *req.DecidedBy == me.ID
	}
	return row
}

// refundReasonText is a request's reason as the refund form words it.
func refundReasonText(reason string) string {
	for _, r := range views.RefundReasons {
		if r[0] == reason {
			return r[1]
		}
	}
	return reason
}

// requestOfRoute reads the request a decision route names, answering 404
// itself.
func (s *Server) requestOfRoute(w http.ResponseWriter, r *http.Request) (store.RefundRequest, bool) {
	if s.requests == nil {
		s.renderError(w, r, http.StatusServiceUnavailable, "Refund requests are not available here.")
		return store.RefundRequest{}, false
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.renderError(w, r, http.StatusNotFound, "There is no such refund request.")
		return store.RefundRequest{}, false
	}
	req, err := s.requests.RefundRequest(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		s.renderError(w, r, http.StatusNotFound, "There is no refund request #"+strconv.FormatInt(id, 10)+".")
		return store.RefundRequest{}, false
	}
	if err != nil {
		s.serverError(w, r, "cannot read a refund request", err)
		return store.RefundRequest{}, false
	}
	return req, true
}

// decidedAlready answers a decision on a request that is no longer
// pending: the viewer's own decision sent again shows its result; anyone
// else's is refused as stale (409), naming who decided and when.
func (s *Server) decidedAlready(w http.ResponseWriter, r *http.Request, req store.RefundRequest) {
	me, _ := currentUser(r)
	mine := req.DecidedBy != nil && *req.DecidedBy == me.ID
	switch {
	case mine && req.Status == store.RefundRequestExecuted && req.RefundID != nil:
		q := url.Values{"refunded": {*req.RefundID}, "again": {"1"}}
		http.Redirect(w, r, objectURL("charges", req.Charge)+"?"+q.Encode(), http.StatusSeeOther)
		return
	case mine && req.Status == store.RefundRequestRejected:
		http.Redirect(w, r, refundRequestsPath+"?rejected="+strconv.FormatInt(req.ID, 10), http.StatusSeeOther)
		return
	}
	who, when := deref(req.DeciderEmail), ""
	if req.DecidedAt != nil {
		when = " on " + s.formatTime(*req.DecidedAt)
	}
	var msg string
	switch req.Status {
	case store.RefundRequestApproved:
		msg = "Refund request #%d was already approved by %s%s; its refund is on its way to Stripe. Nothing was changed now."
	case store.RefundRequestExecuted:
		msg = "Refund request #%d was already approved by %s%s and refunded. Nothing was changed now."
	case store.RefundRequestFailed:
		msg = "Refund request #%d was already approved by %s%s, and Stripe refused the refund. Nothing was changed now."
	default:
		msg = "Refund request #%d was already rejected by %s%s. Nothing was changed now."
	}
	s.renderRequests(w, r, http.StatusConflict, s.page(r, "Refund requests", refundRequestsPath),
		fmt.Sprintf(msg, req.ID, who, when))
}

// approveRefundRequest approves a pending request and makes its refund
// (POST /refunds/requests/{id}/approve). Only someone other than the
// requester may; the amount is checked again against what the charge has
// left to refund now. The approval is recorded before Stripe is called,
// so a second approver finds it decided; the refund is made under the
// request's key, so a double click makes one.
func (s *Server) approveRefundRequest(w http.ResponseWriter, r *http.Request) {
	req, ok := s.requestOfRoute(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	me, _ := currentUser(r)
	if req.RequestedBy == me.ID {
		s.renderError(w, r, http.StatusForbidden, "You asked for this refund, so you cannot approve it: "+
			"another person with refund rights must. Nothing was changed.")
		return
	}
	if s.refunder == nil || s.actions == nil {
		s.renderError(w, r, http.StatusServiceUnavailable, "Refunds are not available: paydesk has no Stripe key configured.")
		return
	}
	switch {
	case req.Status == store.RefundRequestApproved && req.DecidedBy != nil && *req.DecidedBy == me.ID:
		// Approved by this person before, the refund not recorded: send it
		// again under the same key (Stripe makes it at most once).
	case req.Status != store.RefundRequestPending:
		s.decidedAlready(w, r, req)
		return
	default:
		d, err := s.mirror.ChargeDetail(ctx, req.Charge)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.serverError(w, r, "cannot read a charge", err)
			return
		}
		if problem := approvalProblem(req, d, err); problem != "" {
			s.renderRequests(w, r, http.StatusConflict, s.page(r, "Refund requests", refundRequestsPath), problem)
			return
		}
		err = s.staff.InTx(ctx, func(tx *store.Store) error {
			return tx.ApproveRefundRequest(ctx, req.ID, me.ID, d.Charge.AmountRefunded)
		})
		if err != nil && !errors.Is(err, store.ErrRefundRequestDecided) {
			s.serverError(w, r, "cannot approve a refund request", err)
			return
		}
		if req, ok = s.requestOfRoute(w, r); !ok {
			return
		}
		if errors.Is(err, store.ErrRefundRequestDecided) &&
			(req.Status != store.RefundRequestApproved || req.DecidedBy == nil || *req.DecidedBy != me.ID) {
			// Someone else decided it a moment ago. (This person's own
			// approval sent twice goes on: the key makes one refund.)
			s.decidedAlready(w, r, req)
			return
		}
	}
	s.executeRequest(w, r, req)
}

// approvalProblem says why paydesk refuses to approve req now, given its
// charge as the mirror holds it (or the error reading it); "" when it may.
func approvalProblem(req store.RefundRequest, d store.ChargeDetail, readErr error) string {
	id := strconv.FormatInt(req.ID, 10)
	if readErr != nil {
		return "Charge " + req.Charge + " of request #" + id + " is not in paydesk's mirror; it cannot be approved. Reject it."
	}
	c := d.Charge
	switch {
	case !strings.EqualFold(c.Currency, req.Currency):
		return "Request #" + id + " is in " + money.Code(req.Currency) + " but its charge is in " + money.Code(c.Currency) + ". Reject it."
	case c.Disputed:
		return "The charge of request #" + id + " is disputed now: Stripe does not refund a disputed charge. Reject the request."
	case c.Status != "succeeded" || !c.Captured:
		return "The charge of request #" + id + " is " + c.Status + " now and cannot be refunded. Reject the request."
	case req.Amount > store.RefundableAmount(c):
		return "Request #" + id + " asks for " + money.Format(req.Amount, req.Currency) + " but its charge has only " +
			money.Format(store.RefundableAmount(c), c.Currency) + " left to refund now (another refund was made meanwhile). " +
			"Nothing was refunded; reject the request and ask for a new one if needed."
	}
	return ""
}

// executeRequest makes the refund of an approved request through
// runStripeAction: one audit row refund.approve, and the request marked
// executed in the transaction that writes the refund through.
func (s *Server) executeRequest(w http.ResponseWriter, r *http.Request, req store.RefundRequest) {
	me, _ := currentUser(r)
	before := d0(req.RefundedBefore)
	p := stripeapi.RefundCreate{Charge: req.Charge, Amount: req.Amount, Reason: refundReason(req.Reason),
		Metadata: map[string]string{"paydesk_user": req.RequesterEmail, "paydesk_approved_by": me.Email,
			"paydesk_request": strconv.FormatInt(req.ID, 10)}}
	if req.Note != "" {
		p.Metadata["note"] = req.Note
	}
	if req.Reason == "other" {
		p.Metadata["reason"] = "other"
	}
	out, err := s.runStripeAction(r, stripeAction{Key: req.Key, Action: refundApproveAction, Target: "charge:" + req.Charge,
		Params: map[string]any{"request_id": req.ID, "amount": req.Amount, "currency": req.Currency, "reason": req.Reason,
			"note": req.Note, "requested_by": req.RequesterEmail, "requested_by_id": req.RequestedBy, "refunded_before": before},
		Refusals: refundRefusals,
		Call: func(ctx context.Context) (string, string, func(context.Context, *store.Store) error, error) {
			refund, requestID, err := s.refunder.CreateRecord(ctx, req.Key, p)
			if err != nil {
				return "", requestID, nil, err
			}
			return refund.ID, requestID, func(ctx context.Context, tx *store.Store) error {
				if err := tx.WriteThroughRefund(ctx, store.RefundWriteThrough{Refund: refund, Charge: req.Charge,
					RefundedBefore: before}); err != nil {
					return err
				}
				return tx.ExecuteRefundRequest(ctx, req.ID, refund.ID)
			}, nil
		}})
	if err != nil {
		s.actionFailed(w, r, err)
		return
	}
	page := s.page(r, "Refund requests", refundRequestsPath)
	switch {
	case out.Result != "":
		q := url.Values{"refunded": {out.Result}}
		if out.Again {
			q.Set("again", "1")
		}
		http.Redirect(w, r, objectURL("charges", req.Charge)+"?"+q.Encode(), http.StatusSeeOther)
	case out.Pending:
		s.renderRequests(w, r, http.StatusConflict, page, "The refund of request #"+strconv.FormatInt(req.ID, 10)+
			" was already sent to Stripe and its answer is still on its way. Reload this page in a moment; do not refund again.")
	case out.Refusal != nil:
		msg, status := stripeRefusal(out.Refusal, refundRefusals)
		if status != http.StatusBadGateway {
			// Stripe refused for good: the request ends failed, and a new
			// one may be asked for.
			if err := s.staff.InTx(r.Context(), func(tx *store.Store) error {
				return tx.FailRefundRequest(r.Context(), req.ID, msg)
			}); err != nil && !errors.Is(err, store.ErrRefundRequestDecided) {
				s.serverError(w, r, "cannot record a refused refund request", err)
				return
			}
			msg = "Request #" + strconv.FormatInt(req.ID, 10) + " was not refunded. " + msg
		}
		// Otherwise Stripe's answer is unknown: the request stays approved,
		// and "Send to Stripe again" repeats the same request.
		s.renderRequests(w, r, status, page, msg)
	default:
		s.renderRequests(w, r, http.StatusConflict, page, "Stripe refused the refund of request #"+
			strconv.FormatInt(req.ID, 10)+": "+out.PriorRefusal)
	}
}

func d0(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// rejectRefundRequest rejects a pending request, or withdraws it when its
// requester does (POST /refunds/requests/{id}/reject, optional note).
func (s *Server) rejectRefundRequest(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	req, ok := s.requestOfRoute(w, r)
	if !ok {
		return
	}
	note := strings.TrimSpace(r.PostForm.Get("note"))
	page := s.page(r, "Refund requests", refundRequestsPath)
	switch {
	case utf8.RuneCountInString(note) > maxRefundNote:
		s.renderRequests(w, r, http.StatusUnprocessableEntity, page, "Keep the note under "+strconv.Itoa(maxRefundNote)+" characters.")
		return
	case !utf8.ValidString(note) || strings.ContainsRune(note, 0):
		s.renderRequests(w, r, http.StatusUnprocessableEntity, page, "The note holds characters that cannot be stored.")
		return
	case req.Status != store.RefundRequestPending:
		s.decidedAlready(w, r, req)
		return
	}
	ctx := r.Context()
	me, _ := currentUser(r)
	err := s.staff.InTx(ctx, func(tx *store.Store) error {
		if err := tx.RejectRefundRequest(ctx, req.ID, me.ID, note); err != nil {
			return err
		}
		return tx.RecordAudit(ctx, store.AuditEntry{ActorID: &me.ID, Actor: me.Email, Action: refundRejectAction,
			Target: "charge:" + req.Charge, Outcome: store.AuditOK, RemoteAddr: remoteHost(r),
			Params: map[string]any{"request_id": req.ID, "amount": req.Amount, "currency": req.Currency,
				"requested_by": req.RequesterEmail, "note": note, "withdrawn": req.RequestedBy == me.ID}})
	})
	if errors.Is(err, store.ErrRefundRequestDecided) {
		if req, ok = s.requestOfRoute(w, r); ok {
			s.decidedAlready(w, r, req)
		}
		return
	}
	if err != nil {
		s.serverError(w, r, "cannot reject a refund request", err)
		return
	}
	http.Redirect(w, r, refundRequestsPath+"?rejected="+strconv.FormatInt(req.ID, 10), http.StatusSeeOther)
}

// navLabel is a menu entry's label: the refund requests' carries the
// number waiting (a count of the few open requests).
func (s *Server) navLabel(ctx context.Context, label, href string) string {
	if href != refundRequestsPath || s.requests == nil {
		return label
	}
	n, err := s.requests.PendingRefundRequests(ctx)
	if err != nil || n == 0 {
		return label
	}
	return label + " (" + strconv.Itoa(n) + ")"
}
