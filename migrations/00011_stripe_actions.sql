-- +goose Up
-- Actions paydesk asks Stripe to carry out (a refund, an invoice change),
-- one row per idempotency key. A form carries its key; the handler claims
-- the row before calling Stripe, so a double click, a browser retry or the
-- same form in two tabs reach Stripe once: the second submission finds the
-- row and is shown the first one's result. A claim whose request died
-- (pending too long) or failed may be taken over and retried under the same
-- key, which Stripe answers with the original result if it had acted.
CREATE TABLE stripe_actions (
    idempotency_key text PRIMARY KEY,
    action          text        NOT NULL,
    target          text        NOT NULL,
    actor_id        bigint REFERENCES users,
    status          text        NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    -- The Stripe object the action made or changed (re_..., in_...).
    result_id       text,
    -- For failed: Stripe's refusal, safe to show staff.
    error           text,
    attempts        integer     NOT NULL DEFAULT 1,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX stripe_actions_target_idx ON stripe_actions (target, started_at DESC);

-- +goose Down
DROP TABLE stripe_actions;
