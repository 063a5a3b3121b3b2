-- +goose Up
-- Daily rollups of the mirror tables: exact per-currency counts and sums
-- for the lists' totals and the overview, without aggregating a million
-- rows per request (store/rollup.go says who reads them and how).
--
-- Each rollup table is keyed by the day of created in one stored zone
-- (rollup_zone) and by the columns the status tabs and filters use, and
-- holds a row count and an amount sum. Its rows are append-only DELTAS:
-- statement-level triggers on the mirror table add one row per distinct
-- key of the statement's new rows (+count, +sum) and old rows (-count,
-- -sum). There is no unique key, so concurrent writers never wait on one
-- another's rollup rows. The true figure of a key is the sum of its rows;
-- CompactRollups merges them now and then. Readers always sum.
--
-- An INSERT ... ON CONFLICT DO UPDATE fires the INSERT trigger with the
-- inserted rows and the UPDATE trigger with the updated ones; COPY fires
-- the INSERT trigger. TRUNCATE of a mirror table clears its rollup.

-- The zone the rollups' days are in. One row; EnsureRollupZone changes it
-- and rebuilds the rollups in the same transaction.
CREATE TABLE rollup_zone (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    zone text    NOT NULL
);
INSERT INTO rollup_zone (zone) VALUES ('UTC');

CREATE TABLE rollup_charges (
    day                date    NOT NULL,
    currency           text    NOT NULL,
    status             text    NOT NULL,
    refunded           boolean NOT NULL,
    -- amount_refunded > 0 AND NOT refunded
    partially_refunded boolean NOT NULL,
    disputed           boolean NOT NULL,
    n                  bigint  NOT NULL,
    amount             bigint  NOT NULL
);
CREATE INDEX rollup_charges_day_idx ON rollup_charges (day);

CREATE TABLE rollup_refunds (
    day      date   NOT NULL,
    currency text   NOT NULL,
    status   text,
    n        bigint NOT NULL,
    amount   bigint NOT NULL
);
CREATE INDEX rollup_refunds_day_idx ON rollup_refunds (day);

-- amount is the invoices' total.
CREATE TABLE rollup_invoices (
    day      date    NOT NULL,
    currency text    NOT NULL,
    status   text,
    deleted  boolean NOT NULL,
    n        bigint  NOT NULL,
    amount   bigint  NOT NULL
);
CREATE INDEX rollup_invoices_day_idx ON rollup_invoices (day);

-- currency is coalesce(currency, ''), amount the balance.
CREATE TABLE rollup_customers (
    day      date    NOT NULL,
    currency text    NOT NULL,
    deleted  boolean NOT NULL,
    n        bigint  NOT NULL,
    amount   bigint  NOT NULL
);
CREATE INDEX rollup_customers_day_idx ON rollup_customers (day);

-- Each function serves its table's INSERT, UPDATE and DELETE triggers
-- (transition tables new_rows and old_rows). An update that changes no
-- key column and no amount -- most webhook updates -- adds nothing.

-- +goose StatementBegin
CREATE FUNCTION rollup_charges_delta() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    z text := (SELECT zone FROM rollup_zone);
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO rollup_charges (day, currency, status, refunded, partially_refunded, disputed, n, amount)
        SELECT (created AT TIME ZONE z)::date, currency, status, refunded,
               amount_refunded > 0 AND NOT refunded, disputed, count(*), sum(amount)
        FROM new_rows GROUP BY 1, 2, 3, 4, 5, 6;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO rollup_charges (day, currency, status, refunded, partially_refunded, disputed, n, amount)
        SELECT (created AT TIME ZONE z)::date, currency, status, refunded,
               amount_refunded > 0 AND NOT refunded, disputed, -count(*), -sum(amount)
        FROM old_rows GROUP BY 1, 2, 3, 4, 5, 6;
    ELSE
        INSERT INTO rollup_charges (day, currency, status, refunded, partially_refunded, disputed, n, amount)
        SELECT day, currency, status, refunded, partially_refunded, disputed, sum(n), sum(amount)
        FROM (SELECT (created AT TIME ZONE z)::date AS day, currency, status, refunded,
                     amount_refunded > 0 AND NOT refunded AS partially_refunded, disputed, 1 AS n, amount
              FROM new_rows
              UNION ALL
              SELECT (created AT TIME ZONE z)::date, currency, status, refunded,
                     amount_refunded > 0 AND NOT refunded, disputed, -1, -amount
              FROM old_rows) d
        GROUP BY 1, 2, 3, 4, 5, 6
        HAVING sum(n) <> 0 OR sum(amount) <> 0;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION rollup_refunds_delta() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    z text := (SELECT zone FROM rollup_zone);
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO rollup_refunds (day, currency, status, n, amount)
        SELECT (created AT TIME ZONE z)::date, currency, status, count(*), sum(amount)
        FROM new_rows GROUP BY 1, 2, 3;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO rollup_refunds (day, currency, status, n, amount)
        SELECT (created AT TIME ZONE z)::date, currency, status, -count(*), -sum(amount)
        FROM old_rows GROUP BY 1, 2, 3;
    ELSE
        INSERT INTO rollup_refunds (day, currency, status, n, amount)
        SELECT day, currency, status, sum(n), sum(amount)
        FROM (SELECT (created AT TIME ZONE z)::date AS day, currency, status, 1 AS n, amount FROM new_rows
              UNION ALL
              SELECT (created AT TIME ZONE z)::date, currency, status, -1, -amount FROM old_rows) d
        GROUP BY 1, 2, 3
        HAVING sum(n) <> 0 OR sum(amount) <> 0;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION rollup_invoices_delta() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    z text := (SELECT zone FROM rollup_zone);
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO rollup_invoices (day, currency, status, deleted, n, amount)
        SELECT (created AT TIME ZONE z)::date, currency, status, deleted, count(*), sum(total)
        FROM new_rows GROUP BY 1, 2, 3, 4;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO rollup_invoices (day, currency, status, deleted, n, amount)
        SELECT (created AT TIME ZONE z)::date, currency, status, deleted, -count(*), -sum(total)
        FROM old_rows GROUP BY 1, 2, 3, 4;
    ELSE
        INSERT INTO rollup_invoices (day, currency, status, deleted, n, amount)
        SELECT day, currency, status, deleted, sum(n), sum(amount)
        FROM (SELECT (created AT TIME ZONE z)::date AS day, currency, status, deleted, 1 AS n, total AS amount
              FROM new_rows
              UNION ALL
              SELECT (created AT TIME ZONE z)::date, currency, status, deleted, -1, -total FROM old_rows) d
        GROUP BY 1, 2, 3, 4
        HAVING sum(n) <> 0 OR sum(amount) <> 0;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION rollup_customers_delta() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    z text := (SELECT zone FROM rollup_zone);
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO rollup_customers (day, currency, deleted, n, amount)
        SELECT (created AT TIME ZONE z)::date, coalesce(currency, ''), deleted, count(*), sum(balance)
        FROM new_rows GROUP BY 1, 2, 3;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO rollup_customers (day, currency, deleted, n, amount)
        SELECT (created AT TIME ZONE z)::date, coalesce(currency, ''), deleted, -count(*), -sum(balance)
        FROM old_rows GROUP BY 1, 2, 3;
    ELSE
        INSERT INTO rollup_customers (day, currency, deleted, n, amount)
        SELECT day, currency, deleted, sum(n), sum(amount)
        FROM (SELECT (created AT TIME ZONE z)::date AS day, coalesce(currency, '') AS currency, deleted,
                     1 AS n, balance AS amount
              FROM new_rows
              UNION ALL
              SELECT (created AT TIME ZONE z)::date, coalesce(currency, ''), deleted, -1, -balance
              FROM old_rows) d
        GROUP BY 1, 2, 3
        HAVING sum(n) <> 0 OR sum(amount) <> 0;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- TRUNCATE of a mirror table empties it, so its rollup is empty too.
-- +goose StatementBegin
CREATE FUNCTION rollup_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DELETE FROM %I', 'rollup_' || TG_TABLE_NAME);
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER charges_rollup_insert AFTER INSERT ON charges
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_charges_delta();
CREATE TRIGGER charges_rollup_update AFTER UPDATE ON charges
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_charges_delta();
CREATE TRIGGER charges_rollup_delete AFTER DELETE ON charges
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_charges_delta();
CREATE TRIGGER charges_rollup_truncate AFTER TRUNCATE ON charges
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_truncated();

CREATE TRIGGER refunds_rollup_insert AFTER INSERT ON refunds
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_refunds_delta();
CREATE TRIGGER refunds_rollup_update AFTER UPDATE ON refunds
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_refunds_delta();
CREATE TRIGGER refunds_rollup_delete AFTER DELETE ON refunds
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_refunds_delta();
CREATE TRIGGER refunds_rollup_truncate AFTER TRUNCATE ON refunds
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_truncated();

CREATE TRIGGER invoices_rollup_insert AFTER INSERT ON invoices
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_invoices_delta();
CREATE TRIGGER invoices_rollup_update AFTER UPDATE ON invoices
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_invoices_delta();
CREATE TRIGGER invoices_rollup_delete AFTER DELETE ON invoices
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_invoices_delta();
CREATE TRIGGER invoices_rollup_truncate AFTER TRUNCATE ON invoices
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_truncated();

CREATE TRIGGER customers_rollup_insert AFTER INSERT ON customers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_customers_delta();
CREATE TRIGGER customers_rollup_update AFTER UPDATE ON customers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_customers_delta();
CREATE TRIGGER customers_rollup_delete AFTER DELETE ON customers
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_customers_delta();
CREATE TRIGGER customers_rollup_truncate AFTER TRUNCATE ON customers
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_truncated();

-- Seed the rollups from the rows already stored, in UTC days. Writers are
-- held off for the duration, so no row is counted twice or missed.
LOCK TABLE customers, invoices, charges, refunds IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO rollup_charges (day, currency, status, refunded, partially_refunded, disputed, n, amount)
SELECT (created AT TIME ZONE 'UTC')::date, currency, status, refunded, amount_refunded > 0 AND NOT refunded,
       disputed, count(*), sum(amount)
FROM charges GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO rollup_refunds (day, currency, status, n, amount)
SELECT (created AT TIME ZONE 'UTC')::date, currency, status, count(*), sum(amount)
FROM refunds GROUP BY 1, 2, 3;
INSERT INTO rollup_invoices (day, currency, status, deleted, n, amount)
SELECT (created AT TIME ZONE 'UTC')::date, currency, status, deleted, count(*), sum(total)
FROM invoices GROUP BY 1, 2, 3, 4;
INSERT INTO rollup_customers (day, currency, deleted, n, amount)
SELECT (created AT TIME ZONE 'UTC')::date, coalesce(currency, ''), deleted, count(*), sum(balance)
FROM customers GROUP BY 1, 2, 3;
ANALYZE rollup_zone, rollup_charges, rollup_refunds, rollup_invoices, rollup_customers;

-- +goose Down
DROP TRIGGER customers_rollup_truncate ON customers;
DROP TRIGGER customers_rollup_delete ON customers;
DROP TRIGGER customers_rollup_update ON customers;
DROP TRIGGER customers_rollup_insert ON customers;
DROP TRIGGER invoices_rollup_truncate ON invoices;
DROP TRIGGER invoices_rollup_delete ON invoices;
DROP TRIGGER invoices_rollup_update ON invoices;
DROP TRIGGER invoices_rollup_insert ON invoices;
DROP TRIGGER refunds_rollup_truncate ON refunds;
DROP TRIGGER refunds_rollup_delete ON refunds;
DROP TRIGGER refunds_rollup_update ON refunds;
DROP TRIGGER refunds_rollup_insert ON refunds;
DROP TRIGGER charges_rollup_truncate ON charges;
DROP TRIGGER charges_rollup_delete ON charges;
DROP TRIGGER charges_rollup_update ON charges;
DROP TRIGGER charges_rollup_insert ON charges;
DROP FUNCTION rollup_truncated();
DROP FUNCTION rollup_customers_delta();
DROP FUNCTION rollup_invoices_delta();
DROP FUNCTION rollup_refunds_delta();
DROP FUNCTION rollup_charges_delta();
DROP TABLE rollup_customers;
DROP TABLE rollup_invoices;
DROP TABLE rollup_refunds;
DROP TABLE rollup_charges;
DROP TABLE rollup_zone;
