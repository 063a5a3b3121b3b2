-- +goose Up
-- The list searches (store/lists.go) read each way a search can match on
-- its own: an id prefix, an exact column (customer, charge, card last 4,
-- receipt number) and the trigram indexes of the text columns, each in the
-- list's order and with the page's limit, and merge them.
--
-- Card last 4. The index of 00001 (card_last4, created DESC) made a last-4
-- search read every matching row from the table: to order a page by
-- (created, id) and, for the totals, for the currency and amount. A common
-- last 4 ("4242", a test card) matches tens of thousands of charges. The
-- index is rebuilt under the same name with id in the key and currency and
-- amount included, so a page is the first rows of the index and the totals
-- (at most SearchTotalsLimit + 1 rows) an index-only scan. It replaces the
-- old index rather than adding one: writes keep maintaining one index on
-- card_last4, whose entries grow by the id and two small columns (about 40
-- bytes). currency and amount are INCLUDE columns of charges_created_idx
-- already, so updates that could be HOT stay HOT.
DROP INDEX charges_card_last4_idx;
CREATE INDEX charges_card_last4_idx ON charges (card_last4, created DESC, id DESC) INCLUDE (currency, amount);

-- Statistics of the searched text. The planner chooses, per search,
-- between walking the list's order index until a page of matches is found
-- (right for a common text) and a bitmap of the trigram index's matches,
-- sorted (right for a rare one); with 100 histogram entries per expression
-- it could not tell a text matching 0.1% of the rows from one matching
-- 1%, and walked 50,000 customers or charges for a name matching a hundred.
-- A target of 1,000 resolves 0.1%. This costs writes nothing; ANALYZE of
-- these tables samples 300,000 rows instead of 30,000 (about 13 s instead
-- of 1.5 s for a million charges with a cold cache, in autovacuum's
-- background), and planning a search evaluates its pattern on up to 1,000
-- more values (well under a millisecond).
ALTER INDEX customers_email_trgm_idx ALTER COLUMN 1 SET STATISTICS 1000;
ALTER INDEX customers_name_trgm_idx ALTER COLUMN 1 SET STATISTICS 1000;
ALTER INDEX invoices_customer_email_trgm_idx ALTER COLUMN 1 SET STATISTICS 1000;
ALTER INDEX invoices_customer_name_trgm_idx ALTER COLUMN 1 SET STATISTICS 1000;
ALTER INDEX charges_receipt_email_trgm_idx ALTER COLUMN 1 SET STATISTICS 1000;
ALTER INDEX charges_billing_name_trgm_idx ALTER COLUMN 1 SET STATISTICS 1000;
ANALYZE customers, invoices, charges;

-- +goose Down
ALTER INDEX charges_billing_name_trgm_idx ALTER COLUMN 1 SET STATISTICS -1;
ALTER INDEX charges_receipt_email_trgm_idx ALTER COLUMN 1 SET STATISTICS -1;
ALTER INDEX invoices_customer_name_trgm_idx ALTER COLUMN 1 SET STATISTICS -1;
ALTER INDEX invoices_customer_email_trgm_idx ALTER COLUMN 1 SET STATISTICS -1;
ALTER INDEX customers_name_trgm_idx ALTER COLUMN 1 SET STATISTICS -1;
ALTER INDEX customers_email_trgm_idx ALTER COLUMN 1 SET STATISTICS -1;
DROP INDEX charges_card_last4_idx;
CREATE INDEX charges_card_last4_idx ON charges (card_last4, created DESC);
