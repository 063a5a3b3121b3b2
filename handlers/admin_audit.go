package handlers

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"paydesk/store"
	"paydesk/views"
)

const auditPageSize = 50

// auditPage shows the audit log, newest first, filtered by actor, action,
// target and date (GET /admin/audit). Dates are days in the display time
// zone; "to" includes its whole day.
func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := views.AuditFilter{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")),
		Target: strings.TrimSpace(q.Get("target")), From: q.Get("from"), To: q.Get("to")}
	filter := store.AuditFilter{Actor: f.Actor, Action: f.Action, Target: f.Target, Limit: auditPageSize + 1}
	var problems []string
	if f.From != "" {
		day, err := time.ParseInLocation(time.DateOnly, f.From, s.loc)
		if err != nil {
			problems = append(problems, "“from” must be a date like 2026-01-31")
		}
		filter.From = day
	}
	if f.To != "" {
		day, err := time.ParseInLocation(time.DateOnly, f.To, s.loc)
		if err != nil {
			problems = append(problems, "“to” must be a date like 2026-01-31")
		}
		filter.To = day.AddDate(0, 0, 1)
	}
	if b := q.Get("before"); b != "" {
		before, err := strconv.ParseInt(b, 10, 64)
		if err != nil || before <= 0 {
			problems = append(problems, "the page link is broken; start from the newest entries")
		}
		filter.Before = before
	}
	d := views.AuditData{Filter: f}
	if len(problems) > 0 {
		d.Error = "Check the filter: " + strings.Join(problems, "; ") + "."
		s.render(w, r, http.StatusBadRequest, views.AuditPage(s.page(r, "Audit log", "/admin/audit"), d))
		return
	}
	rows, err := s.staff.AuditEntries(r.Context(), filter)
	if err != nil {
		s.serverError(w, r, "cannot read the audit log", err)
		return
	}
	if len(rows) > auditPageSize {
		rows = rows[:auditPageSize]
		next := url.Values{}
		for k, v := range map[string]string{"actor": f.Actor, "action": f.Action, "target": f.Target, "from": f.From, "to": f.To} {
			if v != "" {
				next.Set(k, v)
			}
		}
		next.Set("before", strconv.FormatInt(rows[len(rows)-1].ID, 10))
		d.NextURL = "/admin/audit?" + next.Encode()
	}
	for _, row := range rows {
		d.Rows = append(d.Rows, views.AuditRow{ID: row.ID, At: s.formatTime(row.At), Actor: row.Actor, Action: row.Action,
			Target: deref(row.Target), Params: string(row.Params), Outcome: row.Outcome,
			StripeRequestID: deref(row.StripeRequestID), RemoteAddr: deref(row.RemoteAddr)})
	}
	s.render(w, r, http.StatusOK, views.AuditPage(s.page(r, "Audit log", "/admin/audit"), d))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// formatTime shows t in the display time zone, to the second.
func (s *Server) formatTime(t time.Time) string {
	return t.In(s.loc).Format("2006-01-02 15:04:05 MST")
}
