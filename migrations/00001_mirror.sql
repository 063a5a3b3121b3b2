-- +goose Up
-- The mirror of a Stripe account. Every table is keyed by the Stripe id and
-- carries the full object as jsonb beside typed columns (named after Stripe's
-- fields) for what is filtered, sorted and shown. Money is bigint minor units
-- beside its currency.
--
-- The mirror tables leave 15% of each page free (fillfactor 85) so that an
-- update that changes no indexed column -- most webhook updates: a new
-- amount_refunded, metadata, a paid flag -- can be a HOT update, written
-- beside the old row without touching any index.
--
-- version is the ordering marker: the Unix time, in seconds, that the stored
-- state is known to be current as of (an event's created, or the moment an
-- object was fetched). Upserts only apply a version that is not older than
-- the stored one; see store/upsert.go.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE customers (
    id          text PRIMARY KEY,
    livemode    boolean     NOT NULL,
    email       text,
    name        text,
    phone       text,
    description text,
    currency    text,
    balance     bigint      NOT NULL DEFAULT 0,
    delinquent  boolean     NOT NULL DEFAULT false,
    deleted     boolean     NOT NULL DEFAULT false,
    created     timestamptz NOT NULL,
    data        jsonb       NOT NULL,
    version     bigint      NOT NULL,
    synced_at   timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 85);
CREATE INDEX customers_created_idx ON customers (created DESC, id DESC);
CREATE INDEX customers_email_trgm_idx ON customers USING gin (lower(email) gin_trgm_ops);
CREATE INDEX customers_name_trgm_idx ON customers USING gin (lower(name) gin_trgm_ops);

CREATE TABLE invoices (
    id                 text PRIMARY KEY,
    livemode           boolean     NOT NULL,
    customer           text,
    customer_email     text,
    customer_name      text,
    number             text,
    status             text,
    collection_method  text,
    currency           text        NOT NULL,
    subtotal           bigint      NOT NULL DEFAULT 0,
    tax                bigint,
    total              bigint      NOT NULL DEFAULT 0,
    amount_due         bigint      NOT NULL DEFAULT 0,
    amount_paid        bigint      NOT NULL DEFAULT 0,
    amount_remaining   bigint      NOT NULL DEFAULT 0,
    due_date           timestamptz,
    created            timestamptz NOT NULL,
    hosted_invoice_url text,
    invoice_pdf        text,
    charge             text,
    payment_intent     text,
    lines_total_count  bigint      NOT NULL DEFAULT 0,
    data               jsonb       NOT NULL,
    version            bigint      NOT NULL,
    synced_at          timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 85);
CREATE INDEX invoices_created_idx ON invoices (created DESC, id DESC);
CREATE INDEX invoices_status_created_idx ON invoices (status, created DESC, id DESC);
CREATE INDEX invoices_customer_created_idx ON invoices (customer, created DESC, id DESC);
CREATE INDEX invoices_due_date_idx ON invoices (due_date) WHERE status = 'open';
CREATE INDEX invoices_number_trgm_idx ON invoices USING gin (lower(number) gin_trgm_ops);

-- Every line of an invoice, in Stripe's order (position). Lines belong to the
-- invoice version they were stored with: replacing an invoice replaces its
-- lines in the same transaction.
CREATE TABLE invoice_lines (
    invoice      text        NOT NULL,
    id           text        NOT NULL,
    position     integer     NOT NULL,
    type         text,
    description  text,
    quantity     bigint,
    unit_amount  bigint,
    amount       bigint      NOT NULL,
    currency     text        NOT NULL,
    period_start timestamptz,
    period_end   timestamptz,
    data         jsonb       NOT NULL,
    PRIMARY KEY (invoice, id)
);
CREATE INDEX invoice_lines_position_idx ON invoice_lines (invoice, position);

CREATE TABLE charges (
    id              text PRIMARY KEY,
    livemode        boolean     NOT NULL,
    customer        text,
    invoice         text,
    payment_intent  text,
    amount          bigint      NOT NULL,
    amount_captured bigint      NOT NULL DEFAULT 0,
    amount_refunded bigint      NOT NULL DEFAULT 0,
    currency        text        NOT NULL,
    status          text        NOT NULL,
    paid            boolean     NOT NULL DEFAULT false,
    captured        boolean     NOT NULL DEFAULT false,
    refunded        boolean     NOT NULL DEFAULT false,
    disputed        boolean     NOT NULL DEFAULT false,
    failure_code    text,
    failure_message text,
    description     text,
    receipt_email   text,
    receipt_number  text,
    billing_name    text,
    card_brand      text,
    card_last4      text,
    created         timestamptz NOT NULL,
    data            jsonb       NOT NULL,
    version         bigint      NOT NULL,
    synced_at       timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 85);
CREATE INDEX charges_created_idx ON charges (created DESC, id DESC);
CREATE INDEX charges_status_created_idx ON charges (status, created DESC, id DESC);
CREATE INDEX charges_customer_created_idx ON charges (customer, created DESC, id DESC);
CREATE INDEX charges_invoice_idx ON charges (invoice) WHERE invoice IS NOT NULL;
CREATE INDEX charges_card_last4_idx ON charges (card_last4, created DESC);
CREATE INDEX charges_receipt_number_idx ON charges (receipt_number) WHERE receipt_number IS NOT NULL;

CREATE TABLE refunds (
    id             text PRIMARY KEY,
    livemode       boolean     NOT NULL,
    charge         text,
    payment_intent text,
    amount         bigint      NOT NULL,
    currency       text        NOT NULL,
    status         text,
    reason         text,
    receipt_number text,
    failure_reason text,
    created        timestamptz NOT NULL,
    data           jsonb       NOT NULL,
    version        bigint      NOT NULL,
    synced_at      timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 85);
CREATE INDEX refunds_created_idx ON refunds (created DESC, id DESC);
CREATE INDEX refunds_status_created_idx ON refunds (status, created DESC, id DESC);
CREATE INDEX refunds_charge_created_idx ON refunds (charge, created DESC, id DESC);

-- Resumable backfill. A sync run covers some object types; its work is a set
-- of created-windows (lo <= created < hi) per type, each with the cursor of
-- the last object stored. A window's cursor moves in the same transaction
-- that stores the page it came from, so a killed run resumes exactly there.
CREATE TABLE sync_runs (
    id          bigserial PRIMARY KEY,
    livemode    boolean     NOT NULL,
    objects     text[]      NOT NULL,
    since       timestamptz,
    until       timestamptz NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    resumed_at  timestamptz,
    finished_at timestamptz,
    status      text        NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'done', 'abandoned'))
);
CREATE UNIQUE INDEX sync_runs_one_running_idx ON sync_runs (livemode) WHERE status = 'running';

CREATE TABLE sync_windows (
    id       bigserial PRIMARY KEY,
    run_id   bigint      NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    object   text        NOT NULL,
    lo       bigint      NOT NULL,
    hi       bigint      NOT NULL,
    cursor   text,
    fetched  bigint      NOT NULL DEFAULT 0,
    pages    bigint      NOT NULL DEFAULT 0,
    done     boolean     NOT NULL DEFAULT false,
    CHECK (lo < hi)
);
CREATE INDEX sync_windows_run_idx ON sync_windows (run_id, object) WHERE NOT done;

-- +goose Down
DROP TABLE sync_windows;
DROP TABLE sync_runs;
DROP TABLE refunds;
DROP TABLE charges;
DROP TABLE invoice_lines;
DROP TABLE invoices;
DROP TABLE customers;
