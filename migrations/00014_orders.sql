-- +goose Up
-- Purchases received on POST /api/v1/orders, one row per order id: the
-- idempotency anchor. The row is claimed (pending) before Stripe is
-- called, so retries and concurrent duplicates of one order make one
-- invoice; request_hash tells a retry (same body) from a reuse of the
-- order id for another purchase (refused). response is the answer given,
-- repeated to every retry.
CREATE TABLE orders (
    order_id     text PRIMARY KEY,
    token_id     bigint      NOT NULL REFERENCES api_tokens,
    request_hash bytea       NOT NULL,
    status       text        NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    invoice_id   text,
    customer_id  text,
    response     jsonb,
    -- For failed: Stripe's refusal, safe to show the caller.
    error        text,
    attempts     integer     NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
CREATE INDEX orders_invoice_id_idx ON orders (invoice_id);

-- +goose Down
DROP TABLE orders;
