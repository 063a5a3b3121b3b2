-- +goose Up
-- Dual approval of large refunds: a refund above the configured amount of
-- its currency (PAYDESK_REFUND_APPROVAL_ABOVE) is not sent to Stripe when
-- it is confirmed; it becomes a request here, and is made only when a
-- different member of staff with refund rights approves it.
--
-- Life of a request:
--   pending  -> rejected  (by anyone with refund rights, the requester too)
--   pending  -> approved  (claimed by one approver, before Stripe is called:
--                          a second approver or a reject now finds it decided)
--   approved -> executed  (Stripe made the refund: refund_id)
--   approved -> failed    (Stripe refused it: error)
-- An approval whose Stripe call ended without a clear answer stays
-- approved; approving it again sends the same idempotency key, so Stripe
-- makes the refund at most once.
CREATE TABLE refund_requests (
    id              bigserial PRIMARY KEY,
    charge          text        NOT NULL,
    -- Minor units of currency, the charge's currency.
    amount          bigint      NOT NULL CHECK (amount > 0),
    currency        text        NOT NULL,
    -- The form's reason: duplicate, fraudulent, requested_by_customer or other.
    reason          text        NOT NULL,
    note            text        NOT NULL DEFAULT '',
    requested_by    bigint      NOT NULL REFERENCES users,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'approved', 'rejected', 'executed', 'failed')),
    decided_by      bigint REFERENCES users,
    decided_at      timestamptz,
    decision_note   text        NOT NULL DEFAULT '',
    -- The charge's amount_refunded when the request was approved: what the
    -- refund is checked against and added to when it is written through.
    refunded_before bigint,
    -- The refund Stripe made (executed).
    refund_id       text,
    -- Stripe's refusal, safe to show staff (failed).
    error           text,
    -- The key the refund is sent to Stripe under (stripe_actions), made
    -- when the request is; so a double click on Approve, or a retry, make
    -- one refund.
    idempotency_key text        NOT NULL UNIQUE,
    -- The refund form's key the request was made from: a second submission
    -- of the same form finds the request it made.
    form_key        text        NOT NULL,
    CHECK ((status IN ('pending')) = (decided_by IS NULL AND decided_at IS NULL))
);
-- One open request per charge: it is counted against what the charge has
-- left to refund, and approving one must not race another.
CREATE UNIQUE INDEX refund_requests_open_idx ON refund_requests (charge) WHERE status IN ('pending', 'approved');
-- The requests page: the recent decisions, newest first.
CREATE INDEX refund_requests_decided_idx ON refund_requests (decided_at DESC, id DESC) WHERE status NOT IN ('pending', 'approved');

-- +goose Down
DROP TABLE refund_requests;
