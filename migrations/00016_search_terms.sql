-- +goose Up
-- The list searches' text (store/lists.go) through a dictionary of the
-- distinct emails and names, instead of trigram indexes on the mirror.
--
-- A search for part of an email or a name ("amelia.johnson") asked the
-- trigram GIN indexes of the mirror's text columns for every row
-- containing it: each of the term's trigrams is a posting list over the
-- whole table (a million charges), about 1,000 index pages per search,
-- 15 to 25 ms per index and two indexes per list (make bench-pages: p95 of
-- 225 ms for charges, 77 for invoices, 56 for customers under eight
-- clients). The same million charges carry 64,000 distinct emails and 841
-- distinct names. search_terms holds each distinct value once, as its
-- search key; its trigram indexes are that much smaller, and a search
-- becomes: the terms containing the text (a few pages), then the rows with
-- those terms from a btree on the mirror's search key in the list's order,
-- read from the index alone (about 3 ms for a text matching 365 emails and
-- 5,756 charges).
--
-- The search key of a text is its first 200 characters, lower-cased
-- (search_key): a btree entry must stay under a third of a page, and
-- Stripe's emails and names are far shorter. Each searched column has its
-- key as a stored generated column (search_email, search_name), which
-- costs a few dozen bytes a row: with the key only as an index expression,
-- PostgreSQL reads every matching row from the table (it cannot tell that
-- the expression is all a query needs), 7 µs a row against well under one
-- from the index. A value longer than its key is still found by text past
-- its 200th character: the lists read such rows through a small partial
-- index of them (*_long_search_idx) and match their whole text.
--
-- The btrees cost writes less than the GIN indexes they replace (one
-- entry per row instead of one per trigram, no pending list to merge),
-- which the webhook apply path feels on every charge and invoice.
--
-- Completeness: every key of the mirror's search_email and search_name has
-- its term here, written by the triggers below in the writing transaction
-- (a statement trigger for inserts, so a COPY of a million rows adds its
-- terms in one statement; a row trigger for updates that change a key).
-- Terms are never removed: a term no row has any more costs a few bytes
-- and finds nothing, whereas removing one safely would need to lock out
-- every writer. A term is not unique: a writer adds the terms it does not
-- see, so two transactions adding the same new term at once both add it.
-- With a unique key the second would wait for the first to commit, and two
-- webhook workers adding each other's new terms in turn deadlocked (a
-- second lost to deadlock detection, then a retry); readers take each term
-- once (store/lists.go).
--
-- Adding the generated columns rewrites the three tables (about 30 s for a
-- million charges) under an exclusive lock. The advisory lock is the
-- rollups' (store.rollupLockKey), as in 00015.
SELECT pg_advisory_xact_lock(8097887077312457836);
LOCK TABLE customers, invoices, charges IN ACCESS EXCLUSIVE MODE;

CREATE FUNCTION search_key(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS 'SELECT left(lower(value), 200)';

DROP INDEX customers_email_trgm_idx, customers_name_trgm_idx,
    invoices_customer_email_trgm_idx, invoices_customer_name_trgm_idx,
    charges_receipt_email_trgm_idx, charges_billing_name_trgm_idx;

ALTER TABLE customers
    ADD COLUMN search_email text GENERATED ALWAYS AS (search_key(email)) STORED,
    ADD COLUMN search_name text GENERATED ALWAYS AS (search_key(name)) STORED;
ALTER TABLE invoices
    ADD COLUMN search_email text GENERATED ALWAYS AS (search_key(customer_email)) STORED,
    ADD COLUMN search_name text GENERATED ALWAYS AS (search_key(customer_name)) STORED;
ALTER TABLE charges
    ADD COLUMN search_email text GENERATED ALWAYS AS (search_key(receipt_email)) STORED,
    ADD COLUMN search_name text GENERATED ALWAYS AS (search_key(billing_name)) STORED;

CREATE TABLE search_terms (
    kind text NOT NULL CHECK (kind IN ('email', 'name')),
    term text NOT NULL
);
ALTER TABLE search_terms ALTER COLUMN term SET STATISTICS 1000;

-- +goose StatementBegin
CREATE FUNCTION search_terms_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The probe is a scalar subquery, so it stays an index lookup for each
    -- distinct term: NOT EXISTS became an anti-join whose plan, cached
    -- for transition tables of any size, could read every term.
    INSERT INTO search_terms (kind, term)
    SELECT kind, term FROM (
        SELECT DISTINCT kind, term FROM (
            SELECT 'email' AS kind, search_email AS term FROM new_rows
            UNION ALL SELECT 'name', search_name FROM new_rows) t
        WHERE term <> '') d
    WHERE (SELECT true FROM search_terms s WHERE s.kind = d.kind AND s.term = d.term LIMIT 1) IS NULL;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION search_terms_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_terms (kind, term)
    SELECT kind, term FROM (VALUES ('email', NEW.search_email), ('name', NEW.search_name)) t (kind, term)
    WHERE term <> ''
      AND (SELECT true FROM search_terms s WHERE s.kind = t.kind AND s.term = t.term LIMIT 1) IS NULL;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER customers_search_terms_insert AFTER INSERT ON customers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION search_terms_inserted();
CREATE TRIGGER customers_search_terms_update AFTER UPDATE ON customers FOR EACH ROW
    WHEN (OLD.search_email IS DISTINCT FROM NEW.search_email OR OLD.search_name IS DISTINCT FROM NEW.search_name)
    EXECUTE FUNCTION search_terms_updated();
CREATE TRIGGER invoices_search_terms_insert AFTER INSERT ON invoices
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION search_terms_inserted();
CREATE TRIGGER invoices_search_terms_update AFTER UPDATE ON invoices FOR EACH ROW
    WHEN (OLD.search_email IS DISTINCT FROM NEW.search_email OR OLD.search_name IS DISTINCT FROM NEW.search_name)
    EXECUTE FUNCTION search_terms_updated();
CREATE TRIGGER charges_search_terms_insert AFTER INSERT ON charges
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION search_terms_inserted();
CREATE TRIGGER charges_search_terms_update AFTER UPDATE ON charges FOR EACH ROW
    WHEN (OLD.search_email IS DISTINCT FROM NEW.search_email OR OLD.search_name IS DISTINCT FROM NEW.search_name)
    EXECUTE FUNCTION search_terms_updated();

INSERT INTO search_terms (kind, term)
SELECT DISTINCT kind, term FROM (
    SELECT 'email' AS kind, search_email AS term FROM customers
    UNION ALL SELECT 'name', search_name FROM customers
    UNION ALL SELECT 'email', search_email FROM invoices
    UNION ALL SELECT 'name', search_name FROM invoices
    UNION ALL SELECT 'email', search_email FROM charges
    UNION ALL SELECT 'name', search_name FROM charges) t
WHERE term <> '';
CREATE INDEX search_terms_kind_term_idx ON search_terms (kind, term);
CREATE INDEX search_terms_email_trgm_idx ON search_terms USING gin (term gin_trgm_ops) WHERE kind = 'email';
CREATE INDEX search_terms_name_trgm_idx ON search_terms USING gin (term gin_trgm_ops) WHERE kind = 'name';

-- The mirror's side: each key in the list's order, with what the totals
-- add up, so a search's page and its totals read the index alone.
CREATE INDEX customers_search_email_idx ON customers (search_email, created DESC, id DESC)
    INCLUDE (currency, balance, deleted);
CREATE INDEX customers_search_name_idx ON customers (search_name, created DESC, id DESC)
    INCLUDE (currency, balance, deleted);
CREATE INDEX invoices_search_email_idx ON invoices (search_email, created DESC, id DESC)
    INCLUDE (currency, total, deleted);
CREATE INDEX invoices_search_name_idx ON invoices (search_name, created DESC, id DESC)
    INCLUDE (currency, total, deleted);
CREATE INDEX charges_search_email_idx ON charges (search_email, created DESC, id DESC)
    INCLUDE (currency, amount);
CREATE INDEX charges_search_name_idx ON charges (search_name, created DESC, id DESC)
    INCLUDE (currency, amount);
-- A common text (a surname in two thousand emails) is found by walking
-- the list's order and checking each row's key against the terms: the
-- customers' created index carries the keys, so that walk reads the index
-- alone (3 ms instead of 5 for a page). Not for invoices and charges,
-- whose created indexes would grow by the keys of every row for a walk
-- that, with ten times the rows a term, ends sooner.
DROP INDEX customers_created_idx;
CREATE INDEX customers_created_idx ON customers (created DESC, id DESC)
    INCLUDE (currency, balance, deleted, search_email, search_name);
-- Statistics of the keys as 00010 had them for the trigram indexes: the
-- planner's estimate of a term's rows (a busy customer's email against a
-- guest's) decides between joining the terms to their rows and walking the
-- list's order.
ALTER TABLE customers ALTER COLUMN search_email SET STATISTICS 1000, ALTER COLUMN search_name SET STATISTICS 1000;
ALTER TABLE invoices ALTER COLUMN search_email SET STATISTICS 1000, ALTER COLUMN search_name SET STATISTICS 1000;
ALTER TABLE charges ALTER COLUMN search_email SET STATISTICS 1000, ALTER COLUMN search_name SET STATISTICS 1000;

-- The rows whose text is longer than its key, matched on their whole text
-- through these nearly empty indexes. The statistics tell the planner how
-- few they are: without them it guessed a third of the table and walked
-- the created index through a million charges rather than read an empty
-- index.
CREATE INDEX customers_long_search_idx ON customers (created DESC, id DESC)
    WHERE greatest(length(email), length(name)) > 200;
CREATE STATISTICS customers_long_search_stat ON (greatest(length(email), length(name))) FROM customers;
CREATE INDEX invoices_long_search_idx ON invoices (created DESC, id DESC)
    WHERE greatest(length(customer_email), length(customer_name)) > 200;
CREATE STATISTICS invoices_long_search_stat ON (greatest(length(customer_email), length(customer_name))) FROM invoices;
CREATE INDEX charges_long_search_idx ON charges (created DESC, id DESC)
    WHERE greatest(length(receipt_email), length(billing_name)) > 200;
CREATE STATISTICS charges_long_search_stat ON (greatest(length(receipt_email), length(billing_name))) FROM charges;

-- The rewrite left the tables without a visibility map, which the lists'
-- index-only scans rely on; VACUUM cannot run in a migration's
-- transaction, and autovacuum would come only after enough writes, so
-- store.Migrate vacuums the tables a migration rewrote once it is applied.
ANALYZE search_terms, customers, invoices, charges;

-- +goose Down
DROP STATISTICS customers_long_search_stat, invoices_long_search_stat, charges_long_search_stat;
DROP INDEX customers_long_search_idx, invoices_long_search_idx, charges_long_search_idx;
DROP TRIGGER customers_search_terms_insert ON customers;
DROP TRIGGER customers_search_terms_update ON customers;
DROP TRIGGER invoices_search_terms_insert ON invoices;
DROP TRIGGER invoices_search_terms_update ON invoices;
DROP TRIGGER charges_search_terms_insert ON charges;
DROP TRIGGER charges_search_terms_update ON charges;
DROP FUNCTION search_terms_inserted(), search_terms_updated();
DROP TABLE search_terms;
DROP INDEX customers_created_idx;
ALTER TABLE customers DROP COLUMN search_email, DROP COLUMN search_name;
CREATE INDEX customers_created_idx ON customers (created DESC, id DESC) INCLUDE (currency, balance, deleted);
ALTER TABLE invoices DROP COLUMN search_email, DROP COLUMN search_name;
ALTER TABLE charges DROP COLUMN search_email, DROP COLUMN search_name;
DROP FUNCTION search_key(text);
CREATE INDEX customers_email_trgm_idx ON customers USING gin (lower(email) gin_trgm_ops);
CREATE INDEX customers_name_trgm_idx ON customers USING gin (lower(name) gin_trgm_ops);
CREATE INDEX invoices_customer_email_trgm_idx ON invoices USING gin (lower(customer_email) gin_trgm_ops);
CREATE INDEX invoices_customer_name_trgm_idx ON invoices USING gin (lower(customer_name) gin_trgm_ops);
CREATE INDEX charges_receipt_email_trgm_idx ON charges USING gin (lower(receipt_email) gin_trgm_ops);
CREATE INDEX charges_billing_name_trgm_idx ON charges USING gin (lower(billing_name) gin_trgm_ops);
ALTER INDEX customers_email_trgm_idx ALTER COLUMN 1 SET STATISTICS 1000;
ALTER INDEX customers_name_trgm_idx ALTER COLUMN 1 SET STATISTICS 1000;
ALTER INDEX invoices_customer_email_trgm_idx ALTER COLUMN 1 SET STATISTICS 1000;
ALTER INDEX invoices_customer_name_trgm_idx ALTER COLUMN 1 SET STATISTICS 1000;
ALTER INDEX charges_receipt_email_trgm_idx ALTER COLUMN 1 SET STATISTICS 1000;
ALTER INDEX charges_billing_name_trgm_idx ALTER COLUMN 1 SET STATISTICS 1000;
