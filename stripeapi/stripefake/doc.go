// Package stripefake is a stateful, in-test fake of the parts of the Stripe
// API that paydesk's backfill reads: the customer, invoice, invoice line,
// charge, refund and event lists and gets, at API version 2023-10-16.
//
// stripe-mock validates requests against Stripe's OpenAPI spec but keeps no
// state and answers every list with one fixture, so it cannot test paging,
// created windows, rate limits or resuming. This fake can: it serves objects
// cloned from stripe-mock's own fixtures (see FetchTemplates), so their shape
// stays Stripe's, with Stripe's pagination semantics over a generated or
// hand-built data set.
//
// # Ordering
//
// Top-level lists are newest first: created descending, then id descending
// as a tiebreak. Stripe's real tiebreak between objects created in the same
// second is internal, but it is also a stable total order, and that is the
// property a pager relies on: starting_after and ending_before name a
// position in that order, so a page boundary may fall inside a burst of
// objects sharing one created second without losing or repeating any.
// Invoice lines are the exception: they are listed in their stored order,
// first line first, as Stripe does.
//
// Filters (created ranges, customer, status, charge, event type) apply
// before the cursor, and a cursor object that does not match the filters
// still marks a position, as on Stripe.
//
// The fake is read-only over HTTP: tests change the data between runs with
// Data.Put and Data.AddEvent.
package stripefake
