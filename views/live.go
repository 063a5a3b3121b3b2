package views

import "github.com/a-h/templ"

// Live updates. The layout connects every signed-in page to GET /live, a
// server-sent event stream fed by PostgreSQL's NOTIFY change feed (see
// handlers/live.go). For each changed mirror row it sends two events:
//
//	event: change-<id>      (the object: "change-ch_123")
//	event: change-<table>   (any row of the table: "change-charges")
//
// Stripe ids and table names cannot collide, and both are plain
// [A-Za-z0-9_], safe in an htmx trigger.
//
// The helpers below are the attributes that make an element follow those
// events: a row or a panel re-fetches itself and swaps only itself, so
// the page keeps its scroll position, filters and any half-filled form
// outside it.

// ChangeEvent is the name of the event sent when the object id changes.
func ChangeEvent(id string) string { return "change-" + id }

// TableChangeEvent is the name of the event sent when any row of table
// changes.
func TableChangeEvent(table string) string { return "change-" + table }

// LiveRow makes a table row follow its object: when id changes, the row
// is replaced by the <tr> that rowURL answers.
func LiveRow(rowURL, id string) templ.Attributes {
	return templ.Attributes{
		"hx-get":     rowURL,
		"hx-trigger": "sse:" + ChangeEvent(id),
		"hx-swap":    "outerHTML",
	}
}

// LivePanel makes an element follow its object: when id changes, the
// element (which must carry the HTML id panelID) is replaced by the
// element of the same id in the page that pageURL answers.
func LivePanel(pageURL, panelID, id string) templ.Attributes {
	return templ.Attributes{
		"hx-get":     pageURL,
		"hx-trigger": "sse:" + ChangeEvent(id),
		"hx-select":  "#" + panelID,
		"hx-target":  "this",
		"hx-swap":    "outerHTML",
	}
}
