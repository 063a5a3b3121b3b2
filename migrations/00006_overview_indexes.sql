-- +goose Up
-- The overview page's aggregates (store/overview.go). Each index holds
-- every column its query reads, so the period sums are index-only scans
-- over the period's range rather than heap visits to a million rows'
-- pages. They cost little on writes: status, currency and amount of a
-- charge or refund rarely change once created, and the open-invoice index
-- only holds open invoices.

-- Gross volume, payments and failed payments per currency and day.
CREATE INDEX charges_overview_idx ON charges (created) INCLUDE (status, currency, amount);

-- Succeeded refunds per currency in the period.
CREATE INDEX refunds_overview_idx ON refunds (created) INCLUDE (currency, amount) WHERE status = 'succeeded';

-- Open and past-due invoice totals per currency, whatever the period.
CREATE INDEX invoices_open_overview_idx ON invoices (currency) INCLUDE (amount_remaining, due_date)
    WHERE status = 'open' AND NOT deleted;

-- +goose Down
DROP INDEX invoices_open_overview_idx;
DROP INDEX refunds_overview_idx;
DROP INDEX charges_overview_idx;
