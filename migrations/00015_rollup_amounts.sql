-- +goose Up
-- Rollups of charges and invoices by AMOUNT BUCKET, for the lists' totals
-- with an amount range (store/rollup_amounts.go): "usd, $100 to $500"
-- otherwise aggregates every matching row (about 150,000 of a million
-- charges) on each request.
--
-- bucket is rollup_amount_bucket(amount): the floor of the amount in minor
-- units divided by 100 (a $1 bucket for USD, ¥100 for JPY, 0.1 for BHD).
-- Floor division, not truncation, so that negative amounts are bucketed
-- like positive ones and the buckets tile the number line: bucket b holds
-- exactly the amounts b*100 .. b*100+99 (-1 holds -100 .. -1, 0 holds
-- 0 .. 99). A reader sums the buckets entirely inside its range from here
-- and reads the rows of the partial buckets at its ends from the mirror.
--
-- Kept exactly like 00007's rollups: append-only delta rows (+count,
-- +sum for new rows, -count, -sum for old ones) written by statement-level
-- triggers with transition tables in the writing transaction, summed by
-- readers, merged by CompactRollups; TRUNCATE of the mirror table clears
-- its rollup. An update that changes none of the keys and the amount adds
-- nothing (its old and new rows cancel). The buckets do not depend on the
-- rollup zone, so EnsureRollupZone leaves these alone.
--
-- The advisory lock is EnsureRollupZone's and CompactRollups'
-- (store.rollupLockKey); the table lock holds off writers to charges and
-- invoices until this commits, so the seed below is exact.
SELECT pg_advisory_xact_lock(8097887077312457836);
LOCK TABLE invoices, charges IN SHARE ROW EXCLUSIVE MODE;

-- Floor division by 100 without overflow at either end of bigint. A plain
-- SQL expression (not STRICT), so the planner inlines it.
CREATE FUNCTION rollup_amount_bucket(amount bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS 'SELECT CASE WHEN amount >= 0 THEN amount / 100 ELSE (amount + 1) / 100 - 1 END';

CREATE TABLE rollup_charges_amount (
    currency           text    NOT NULL,
    status             text    NOT NULL,
    refunded           boolean NOT NULL,
    -- amount_refunded > 0 AND NOT refunded
    partially_refunded boolean NOT NULL,
    disputed           boolean NOT NULL,
    bucket             bigint  NOT NULL,
    n                  bigint  NOT NULL,
    amount             bigint  NOT NULL
);
CREATE INDEX rollup_charges_amount_bucket_idx ON rollup_charges_amount (currency, bucket);

-- total is the invoices' total (the column the list's amount range reads).
CREATE TABLE rollup_invoices_amount (
    currency text    NOT NULL,
    status   text,
    deleted  boolean NOT NULL,
    bucket   bigint  NOT NULL,
    n        bigint  NOT NULL,
    total    bigint  NOT NULL
);
CREATE INDEX rollup_invoices_amount_bucket_idx ON rollup_invoices_amount (currency, bucket);

-- +goose StatementBegin
CREATE FUNCTION rollup_charges_amount_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO rollup_charges_amount (currency, status, refunded, partially_refunded, disputed, bucket, n, amount)
        SELECT currency, status, refunded, amount_refunded > 0 AND NOT refunded, disputed,
               rollup_amount_bucket(amount), count(*), sum(amount)
        FROM new_rows GROUP BY 1, 2, 3, 4, 5, 6;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO rollup_charges_amount (currency, status, refunded, partially_refunded, disputed, bucket, n, amount)
        SELECT currency, status, refunded, amount_refunded > 0 AND NOT refunded, disputed,
               rollup_amount_bucket(amount), -count(*), -sum(amount)
        FROM old_rows GROUP BY 1, 2, 3, 4, 5, 6;
    ELSE
        INSERT INTO rollup_charges_amount (currency, status, refunded, partially_refunded, disputed, bucket, n, amount)
        SELECT currency, status, refunded, partially_refunded, disputed, bucket, sum(n), sum(amount)
        FROM (SELECT currency, status, refunded, amount_refunded > 0 AND NOT refunded AS partially_refunded,
                     disputed, rollup_amount_bucket(amount) AS bucket, 1 AS n, amount
              FROM new_rows
              UNION ALL
              SELECT currency, status, refunded, amount_refunded > 0 AND NOT refunded, disputed,
                     rollup_amount_bucket(amount), -1, -amount
              FROM old_rows) d
        GROUP BY 1, 2, 3, 4, 5, 6
        HAVING sum(n) <> 0 OR sum(amount) <> 0;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION rollup_invoices_amount_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO rollup_invoices_amount (currency, status, deleted, bucket, n, total)
        SELECT currency, status, deleted, rollup_amount_bucket(total), count(*), sum(total)
        FROM new_rows GROUP BY 1, 2, 3, 4;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO rollup_invoices_amount (currency, status, deleted, bucket, n, total)
        SELECT currency, status, deleted, rollup_amount_bucket(total), -count(*), -sum(total)
        FROM old_rows GROUP BY 1, 2, 3, 4;
    ELSE
        INSERT INTO rollup_invoices_amount (currency, status, deleted, bucket, n, total)
        SELECT currency, status, deleted, bucket, sum(n), sum(total)
        FROM (SELECT currency, status, deleted, rollup_amount_bucket(total) AS bucket, 1 AS n, total
              FROM new_rows
              UNION ALL
              SELECT currency, status, deleted, rollup_amount_bucket(total), -1, -total
              FROM old_rows) d
        GROUP BY 1, 2, 3, 4
        HAVING sum(n) <> 0 OR sum(total) <> 0;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- TRUNCATE of charges or invoices empties it, so its amount rollup too.
-- +goose StatementBegin
CREATE FUNCTION rollup_amount_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DELETE FROM %I', 'rollup_' || TG_TABLE_NAME || '_amount');
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER charges_amount_rollup_insert AFTER INSERT ON charges
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_charges_amount_delta();
CREATE TRIGGER charges_amount_rollup_update AFTER UPDATE ON charges
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_charges_amount_delta();
CREATE TRIGGER charges_amount_rollup_delete AFTER DELETE ON charges
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_charges_amount_delta();
CREATE TRIGGER charges_amount_rollup_truncate AFTER TRUNCATE ON charges
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_amount_truncated();

CREATE TRIGGER invoices_amount_rollup_insert AFTER INSERT ON invoices
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_invoices_amount_delta();
CREATE TRIGGER invoices_amount_rollup_update AFTER UPDATE ON invoices
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_invoices_amount_delta();
CREATE TRIGGER invoices_amount_rollup_delete AFTER DELETE ON invoices
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_invoices_amount_delta();
CREATE TRIGGER invoices_amount_rollup_truncate AFTER TRUNCATE ON invoices
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_amount_truncated();

-- Seed from the rows already stored; the locks taken at the top make this
-- exact.
INSERT INTO rollup_charges_amount (currency, status, refunded, partially_refunded, disputed, bucket, n, amount)
SELECT currency, status, refunded, amount_refunded > 0 AND NOT refunded, disputed,
       rollup_amount_bucket(amount), count(*), sum(amount)
FROM charges GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO rollup_invoices_amount (currency, status, deleted, bucket, n, total)
SELECT currency, status, deleted, rollup_amount_bucket(total), count(*), sum(total)
FROM invoices GROUP BY 1, 2, 3, 4;
ANALYZE rollup_charges_amount, rollup_invoices_amount;

-- +goose Down
DROP TRIGGER invoices_amount_rollup_truncate ON invoices;
DROP TRIGGER invoices_amount_rollup_delete ON invoices;
DROP TRIGGER invoices_amount_rollup_update ON invoices;
DROP TRIGGER invoices_amount_rollup_insert ON invoices;
DROP TRIGGER charges_amount_rollup_truncate ON charges;
DROP TRIGGER charges_amount_rollup_delete ON charges;
DROP TRIGGER charges_amount_rollup_update ON charges;
DROP TRIGGER charges_amount_rollup_insert ON charges;
DROP FUNCTION rollup_amount_truncated();
DROP FUNCTION rollup_invoices_amount_delta();
DROP FUNCTION rollup_charges_amount_delta();
DROP TABLE rollup_invoices_amount;
DROP TABLE rollup_charges_amount;
DROP FUNCTION rollup_amount_bucket(bigint);
