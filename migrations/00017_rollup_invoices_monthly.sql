-- +goose Up
-- A monthly level over the invoices' daily rollup (00007), as 00009 made
-- for the charges: the invoices list's totals, on its default tab and on
-- every status tab with no date range, otherwise sum every daily row
-- (about 14,000 for two years of 300,000 invoices, 3.5 ms) on each
-- request. store/rollup.go reads the whole months inside a range from this
-- table and only the days at its ends from rollup_invoices.
--
-- month is the first day of the month of rollup_invoices.day (so in the
-- stored zone, like day). Its rows are append-only deltas like the daily
-- ones, written by statement-level triggers on rollup_invoices itself:
-- every row added to or removed from the daily rollup (trigger deltas,
-- CompactRollups' merges, EnsureRollupZone's rebuild) adds its month's
-- +/- delta here in the same statement, so the month's sum always equals
-- the sum of its days. CompactRollups merges them as it merges the others.
--
-- The advisory lock is EnsureRollupZone's and CompactRollups'
-- (store.rollupLockKey); the table lock holds off writers to the daily
-- rollup (and so to invoices) until this commits, so the seed below is
-- exact.
SELECT pg_advisory_xact_lock(8097887077312457836);
LOCK TABLE rollup_invoices IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE rollup_invoices_monthly (
    month    date    NOT NULL,
    currency text    NOT NULL,
    status   text,
    deleted  boolean NOT NULL,
    n        bigint  NOT NULL,
    amount   bigint  NOT NULL
);
CREATE INDEX rollup_invoices_monthly_month_idx ON rollup_invoices_monthly (month);

-- date_trunc on a timestamp without time zone: no session zone involved.
-- +goose StatementBegin
CREATE FUNCTION rollup_invoices_monthly_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO rollup_invoices_monthly (month, currency, status, deleted, n, amount)
        SELECT date_trunc('month', day::timestamp)::date, currency, status, deleted, sum(n), sum(amount)
        FROM new_rows GROUP BY 1, 2, 3, 4
        HAVING sum(n) <> 0 OR sum(amount) <> 0;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO rollup_invoices_monthly (month, currency, status, deleted, n, amount)
        SELECT date_trunc('month', day::timestamp)::date, currency, status, deleted, -sum(n), -sum(amount)
        FROM old_rows GROUP BY 1, 2, 3, 4
        HAVING sum(n) <> 0 OR sum(amount) <> 0;
    ELSE
        INSERT INTO rollup_invoices_monthly (month, currency, status, deleted, n, amount)
        SELECT month, currency, status, deleted, sum(n), sum(amount)
        FROM (SELECT date_trunc('month', day::timestamp)::date AS month, currency, status, deleted, n, amount
              FROM new_rows
              UNION ALL
              SELECT date_trunc('month', day::timestamp)::date, currency, status, deleted, -n, -amount
              FROM old_rows) d
        GROUP BY 1, 2, 3, 4
        HAVING sum(n) <> 0 OR sum(amount) <> 0;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION rollup_invoices_monthly_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM rollup_invoices_monthly;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER rollup_invoices_monthly_insert AFTER INSERT ON rollup_invoices
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_invoices_monthly_delta();
CREATE TRIGGER rollup_invoices_monthly_update AFTER UPDATE ON rollup_invoices
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_invoices_monthly_delta();
CREATE TRIGGER rollup_invoices_monthly_delete AFTER DELETE ON rollup_invoices
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_invoices_monthly_delta();
CREATE TRIGGER rollup_invoices_monthly_truncate AFTER TRUNCATE ON rollup_invoices
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_invoices_monthly_truncated();

INSERT INTO rollup_invoices_monthly (month, currency, status, deleted, n, amount)
SELECT date_trunc('month', day::timestamp)::date, currency, status, deleted, sum(n), sum(amount)
FROM rollup_invoices GROUP BY 1, 2, 3, 4
HAVING sum(n) <> 0 OR sum(amount) <> 0;
ANALYZE rollup_invoices_monthly;

-- +goose Down
DROP TRIGGER rollup_invoices_monthly_truncate ON rollup_invoices;
DROP TRIGGER rollup_invoices_monthly_delete ON rollup_invoices;
DROP TRIGGER rollup_invoices_monthly_update ON rollup_invoices;
DROP TRIGGER rollup_invoices_monthly_insert ON rollup_invoices;
DROP FUNCTION rollup_invoices_monthly_truncated();
DROP FUNCTION rollup_invoices_monthly_delta();
DROP TABLE rollup_invoices_monthly;
