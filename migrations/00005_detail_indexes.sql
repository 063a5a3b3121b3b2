-- +goose NO TRANSACTION
-- +goose Up
-- The invoice page's status history: the stored events about one invoice,
-- oldest first (store/details.go, InvoiceDetail). Partial, so only invoice
-- events pay for it on the webhook insert path, and built CONCURRENTLY, so
-- a long event history keeps taking deliveries while it is built (hence
-- no transaction). Should a concurrent build fail, PostgreSQL leaves an
-- invalid index behind: drop it and migrate again.
--
-- The detail pages' other lookups use indexes 00001_mirror.sql made:
-- primary keys, invoice_lines_position_idx, invoices_customer_created_idx,
-- charges_customer_created_idx, charges_invoice_idx and
-- refunds_charge_created_idx.
CREATE INDEX CONCURRENTLY events_invoice_history_idx ON events (object_id, created)
    WHERE object_type = 'invoice';

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS events_invoice_history_idx;
