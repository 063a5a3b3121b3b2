-- +goose Up
-- Indexes for the list pages (store/lists.go). Each list orders by a sort
-- key and then id, and pages by keyset, so every sort has an index on
-- (key, id) that a page can be read from without sorting. Filters that
-- select a small part of a table have an index in the default order
-- (created DESC, id DESC) of their own.
--
-- The per-currency totals above each list aggregate every matching row.
-- The indexes the common filters use carry currency and amount as INCLUDE
-- columns, so the totals are index-only scans over a narrow index instead
-- of reads of the wide rows (whose jsonb copy of the object makes them
-- several hundred bytes each). The indexes of 00001 that gain INCLUDE
-- columns are rebuilt under the same names with the same keys.
--
-- Substring search uses trigram indexes on lower(column); id search is by
-- prefix, with text_pattern_ops indexes so that LIKE 'prefix%' is an
-- index range whatever the database's collation.

-- customers
DROP INDEX customers_created_idx;
CREATE INDEX customers_created_idx ON customers (created DESC, id DESC) INCLUDE (currency, balance, deleted);
CREATE INDEX customers_name_sort_idx ON customers (lower(coalesce(name, '')), id);
CREATE INDEX customers_email_sort_idx ON customers (lower(coalesce(email, '')), id);
CREATE INDEX customers_balance_idx ON customers (balance, id);
CREATE INDEX customers_currency_created_idx ON customers (currency, created DESC, id DESC) INCLUDE (balance, deleted);
CREATE INDEX customers_id_prefix_idx ON customers (id text_pattern_ops);

-- invoices
DROP INDEX invoices_created_idx;
CREATE INDEX invoices_created_idx ON invoices (created DESC, id DESC) INCLUDE (currency, total, deleted);
DROP INDEX invoices_status_created_idx;
CREATE INDEX invoices_status_created_idx ON invoices (status, created DESC, id DESC) INCLUDE (currency, total, deleted, due_date);
DROP INDEX invoices_customer_created_idx;
CREATE INDEX invoices_customer_created_idx ON invoices (customer, created DESC, id DESC) INCLUDE (currency, total, deleted);
CREATE INDEX invoices_currency_created_idx ON invoices (currency, created DESC, id DESC) INCLUDE (total, deleted);
CREATE INDEX invoices_currency_total_idx ON invoices (currency, total, id) INCLUDE (deleted);
CREATE INDEX invoices_number_sort_idx ON invoices (coalesce(number, ''), id);
CREATE INDEX invoices_total_idx ON invoices (total, id);
CREATE INDEX invoices_amount_due_idx ON invoices (amount_due, id);
CREATE INDEX invoices_due_sort_idx ON invoices (coalesce(due_date, '9999-12-31 00:00:00+00'::timestamptz), id);
CREATE INDEX invoices_due_range_idx ON invoices (due_date, id) INCLUDE (currency, total, deleted, status) WHERE due_date IS NOT NULL;
CREATE INDEX invoices_id_prefix_idx ON invoices (id text_pattern_ops);
CREATE INDEX invoices_customer_email_trgm_idx ON invoices USING gin (lower(customer_email) gin_trgm_ops);
CREATE INDEX invoices_customer_name_trgm_idx ON invoices USING gin (lower(customer_name) gin_trgm_ops);

-- charges
DROP INDEX charges_created_idx;
CREATE INDEX charges_created_idx ON charges (created DESC, id DESC) INCLUDE (currency, amount);
DROP INDEX charges_status_created_idx;
CREATE INDEX charges_status_created_idx ON charges (status, created DESC, id DESC) INCLUDE (currency, amount);
DROP INDEX charges_customer_created_idx;
CREATE INDEX charges_customer_created_idx ON charges (customer, created DESC, id DESC) INCLUDE (currency, amount);
CREATE INDEX charges_currency_created_idx ON charges (currency, created DESC, id DESC) INCLUDE (amount);
CREATE INDEX charges_currency_amount_idx ON charges (currency, amount, id);
CREATE INDEX charges_amount_idx ON charges (amount, id);
CREATE INDEX charges_refunded_created_idx ON charges (created DESC, id DESC) INCLUDE (currency, amount) WHERE refunded;
CREATE INDEX charges_partially_refunded_created_idx ON charges (created DESC, id DESC) INCLUDE (currency, amount)
    WHERE amount_refunded > 0 AND NOT refunded;
CREATE INDEX charges_disputed_created_idx ON charges (created DESC, id DESC) INCLUDE (currency, amount) WHERE disputed;
CREATE INDEX charges_id_prefix_idx ON charges (id text_pattern_ops);
CREATE INDEX charges_receipt_email_trgm_idx ON charges USING gin (lower(receipt_email) gin_trgm_ops);
CREATE INDEX charges_billing_name_trgm_idx ON charges USING gin (lower(billing_name) gin_trgm_ops);

-- refunds
DROP INDEX refunds_created_idx;
CREATE INDEX refunds_created_idx ON refunds (created DESC, id DESC) INCLUDE (currency, amount);
DROP INDEX refunds_status_created_idx;
CREATE INDEX refunds_status_created_idx ON refunds (status, created DESC, id DESC) INCLUDE (currency, amount);
CREATE INDEX refunds_currency_created_idx ON refunds (currency, created DESC, id DESC) INCLUDE (amount);
CREATE INDEX refunds_currency_amount_idx ON refunds (currency, amount, id);
CREATE INDEX refunds_amount_idx ON refunds (amount, id);
CREATE INDEX refunds_id_prefix_idx ON refunds (id text_pattern_ops);
CREATE INDEX refunds_receipt_number_idx ON refunds (receipt_number) WHERE receipt_number IS NOT NULL;

-- +goose Down
DROP INDEX refunds_receipt_number_idx;
DROP INDEX refunds_id_prefix_idx;
DROP INDEX refunds_amount_idx;
DROP INDEX refunds_currency_amount_idx;
DROP INDEX refunds_currency_created_idx;
DROP INDEX refunds_status_created_idx;
CREATE INDEX refunds_status_created_idx ON refunds (status, created DESC, id DESC);
DROP INDEX refunds_created_idx;
CREATE INDEX refunds_created_idx ON refunds (created DESC, id DESC);

DROP INDEX charges_billing_name_trgm_idx;
DROP INDEX charges_receipt_email_trgm_idx;
DROP INDEX charges_id_prefix_idx;
DROP INDEX charges_disputed_created_idx;
DROP INDEX charges_partially_refunded_created_idx;
DROP INDEX charges_refunded_created_idx;
DROP INDEX charges_amount_idx;
DROP INDEX charges_currency_amount_idx;
DROP INDEX charges_currency_created_idx;
DROP INDEX charges_customer_created_idx;
CREATE INDEX charges_customer_created_idx ON charges (customer, created DESC, id DESC);
DROP INDEX charges_status_created_idx;
CREATE INDEX charges_status_created_idx ON charges (status, created DESC, id DESC);
DROP INDEX charges_created_idx;
CREATE INDEX charges_created_idx ON charges (created DESC, id DESC);

DROP INDEX invoices_customer_name_trgm_idx;
DROP INDEX invoices_customer_email_trgm_idx;
DROP INDEX invoices_id_prefix_idx;
DROP INDEX invoices_due_range_idx;
DROP INDEX invoices_due_sort_idx;
DROP INDEX invoices_amount_due_idx;
DROP INDEX invoices_total_idx;
DROP INDEX invoices_number_sort_idx;
DROP INDEX invoices_currency_total_idx;
DROP INDEX invoices_currency_created_idx;
DROP INDEX invoices_customer_created_idx;
CREATE INDEX invoices_customer_created_idx ON invoices (customer, created DESC, id DESC);
DROP INDEX invoices_status_created_idx;
CREATE INDEX invoices_status_created_idx ON invoices (status, created DESC, id DESC);
DROP INDEX invoices_created_idx;
CREATE INDEX invoices_created_idx ON invoices (created DESC, id DESC);

DROP INDEX customers_id_prefix_idx;
DROP INDEX customers_currency_created_idx;
DROP INDEX customers_balance_idx;
DROP INDEX customers_email_sort_idx;
DROP INDEX customers_name_sort_idx;
DROP INDEX customers_created_idx;
CREATE INDEX customers_created_idx ON customers (created DESC, id DESC);
