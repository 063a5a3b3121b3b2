-- +goose Up
-- A rollup of OPEN invoices by due day, for the invoices list's past_due
-- totals and the overview's open and past-due figures (store/rollup.go,
-- openInvoiceFigures), which otherwise aggregate every open invoice on
-- each request.
--
-- Kept exactly like 00007's rollups: append-only delta rows written by
-- statement-level triggers with transition tables, summed by readers,
-- merged by CompactRollups, rebuilt by EnsureRollupZone. Only rows with
-- status = 'open' contribute. day is the day of due_date in the stored
-- zone (rollup_zone), NULL for invoices without a due date.
-- The advisory lock is EnsureRollupZone's and CompactRollups'
-- (store.rollupLockKey), taken before the table lock as they do, so the
-- stored zone cannot change under the seed; writers to invoices are held
-- off until the migration commits, so no row is counted twice or missed.
-- Taking the table lock first also spares the upgrade from the lighter
-- locks the statements below would take.
SELECT pg_advisory_xact_lock(8097887077312457836);
LOCK TABLE invoices IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE rollup_open_invoices (
    day              date,
    currency         text    NOT NULL,
    deleted          boolean NOT NULL,
    n                bigint  NOT NULL,
    total            bigint  NOT NULL,
    amount_remaining bigint  NOT NULL
);

-- An update that changes none of status, due_date, currency, deleted,
-- total and amount_remaining adds nothing: its old and new rows cancel.
-- +goose StatementBegin
CREATE FUNCTION rollup_open_invoices_delta() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    z text := (SELECT zone FROM rollup_zone);
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO rollup_open_invoices (day, currency, deleted, n, total, amount_remaining)
        SELECT (due_date AT TIME ZONE z)::date, currency, deleted, count(*), sum(total), sum(amount_remaining)
        FROM new_rows WHERE status = 'open' GROUP BY 1, 2, 3;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO rollup_open_invoices (day, currency, deleted, n, total, amount_remaining)
        SELECT (due_date AT TIME ZONE z)::date, currency, deleted, -count(*), -sum(total), -sum(amount_remaining)
        FROM old_rows WHERE status = 'open' GROUP BY 1, 2, 3;
    ELSE
        INSERT INTO rollup_open_invoices (day, currency, deleted, n, total, amount_remaining)
        SELECT day, currency, deleted, sum(n), sum(total), sum(amount_remaining)
        FROM (SELECT (due_date AT TIME ZONE z)::date AS day, currency, deleted, 1 AS n, total, amount_remaining
              FROM new_rows WHERE status = 'open'
              UNION ALL
              SELECT (due_date AT TIME ZONE z)::date, currency, deleted, -1, -total, -amount_remaining
              FROM old_rows WHERE status = 'open') d
        GROUP BY 1, 2, 3
        HAVING sum(n) <> 0 OR sum(total) <> 0 OR sum(amount_remaining) <> 0;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION rollup_open_invoices_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM rollup_open_invoices;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER invoices_open_rollup_insert AFTER INSERT ON invoices
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_open_invoices_delta();
CREATE TRIGGER invoices_open_rollup_update AFTER UPDATE ON invoices
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_open_invoices_delta();
CREATE TRIGGER invoices_open_rollup_delete AFTER DELETE ON invoices
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_open_invoices_delta();
CREATE TRIGGER invoices_open_rollup_truncate AFTER TRUNCATE ON invoices
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_open_invoices_truncated();

-- The readers add today's open invoices already due from the rows: a
-- range of this small index (open invoices only), read index-only.
CREATE INDEX invoices_open_due_idx ON invoices (due_date) INCLUDE (currency, total, amount_remaining)
    WHERE status = 'open' AND NOT deleted;

-- Seed from the rows already stored, in the stored zone (serve may have
-- moved it off UTC); the locks taken at the top make this exact.
INSERT INTO rollup_open_invoices (day, currency, deleted, n, total, amount_remaining)
SELECT (due_date AT TIME ZONE (SELECT zone FROM rollup_zone))::date, currency, deleted,
       count(*), sum(total), sum(amount_remaining)
FROM invoices WHERE status = 'open' GROUP BY 1, 2, 3;
ANALYZE rollup_open_invoices;

-- +goose Down
DROP INDEX invoices_open_due_idx;
DROP TRIGGER invoices_open_rollup_truncate ON invoices;
DROP TRIGGER invoices_open_rollup_delete ON invoices;
DROP TRIGGER invoices_open_rollup_update ON invoices;
DROP TRIGGER invoices_open_rollup_insert ON invoices;
DROP FUNCTION rollup_open_invoices_truncated();
DROP FUNCTION rollup_open_invoices_delta();
DROP TABLE rollup_open_invoices;
