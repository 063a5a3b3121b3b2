-- +goose Up
-- The webhook event queue. A verified delivery is stored here (unique on
-- the event id) in the transaction that precedes the 2xx answer; workers
-- in any number of `paydesk serve` processes claim queued rows with
-- FOR UPDATE SKIP LOCKED and apply them to the mirror.
CREATE TABLE events (
    id              text PRIMARY KEY,
    type            text        NOT NULL,
    api_version     text,
    created         bigint      NOT NULL,
    livemode        boolean     NOT NULL,
    object_type     text,
    object_id       text,
    -- json, not jsonb: the delivery is kept byte for byte, and neither the
    -- receiver's insert nor the worker's read pays for converting it.
    data            json        NOT NULL,
    source          text        NOT NULL CHECK (source IN ('webhook', 'catchup')),
    deliveries      integer     NOT NULL DEFAULT 1,
    status          text        NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'applied', 'ignored', 'failed')),
    note            text,
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    received_at     timestamptz NOT NULL DEFAULT now(),
    applied_at      timestamptz
);
-- The work queue: only rows still to apply are indexed, so the index stays
-- small however long the history grows.
CREATE INDEX events_queue_idx ON events (next_attempt_at, received_at) WHERE status IN ('queued', 'failed');
-- Deliberately few indexes: every one costs each delivery an insert and
-- each applied event another. The pages that list an object's events add
-- theirs when they arrive; catch-up's max(created) scans, rarely.
CREATE INDEX events_api_version_idx ON events (api_version) WHERE api_version <> '2023-10-16';

-- Deliveries refused before they became events (bad signature, stale,
-- unsigned, oversize, malformed), kept so an operator can see who sent
-- what. The body is cut to its first 4 KiB.
CREATE TABLE rejected_deliveries (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    reason      text        NOT NULL,
    remote_addr text,
    body        bytea
);
CREATE INDEX rejected_deliveries_received_idx ON rejected_deliveries (received_at DESC);

-- Large objects are TOASTed; lz4 compresses them several times faster
-- than PostgreSQL's default pglz, which matters at thousands of events a
-- second. A server built without lz4 keeps the default.
-- +goose StatementBegin
DO $$
BEGIN
    ALTER TABLE events ALTER COLUMN data SET COMPRESSION lz4;
    ALTER TABLE customers ALTER COLUMN data SET COMPRESSION lz4;
    ALTER TABLE invoices ALTER COLUMN data SET COMPRESSION lz4;
    ALTER TABLE invoice_lines ALTER COLUMN data SET COMPRESSION lz4;
    ALTER TABLE charges ALTER COLUMN data SET COMPRESSION lz4;
    ALTER TABLE refunds ALTER COLUMN data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available; keeping the default TOAST compression';
END
$$;
-- +goose StatementEnd

-- Draft invoices can be deleted on Stripe. The row stays as a tombstone so
-- a late, older update cannot bring it back.
ALTER TABLE invoices ADD COLUMN deleted boolean NOT NULL DEFAULT false;

-- A hash of an invoice's lines, so an update that leaves them as they were
-- does not rewrite them.
ALTER TABLE invoices ADD COLUMN lines_hash text;

-- +goose Down
ALTER TABLE invoices DROP COLUMN lines_hash;
ALTER TABLE invoices DROP COLUMN deleted;
DROP TABLE rejected_deliveries;
DROP TABLE events;
