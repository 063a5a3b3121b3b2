package handlers

import (
	"bytes"
	"log/slog"
	"net/http"

	"github.com/a-h/templ"

	"paydesk/store"
	"paydesk/views"
)

// navigation lists the pages in the main menu with the role each needs.
var navigation = []struct {
	label, href string
	min         store.Role
}{
	{"Overview", "/", store.RoleViewer},
	{"Customers", "/customers", store.RoleViewer},
	{"Invoices", "/invoices", store.RoleViewer},
	{"Charges", "/charges", store.RoleViewer},
	{"Refunds", "/refunds", store.RoleViewer},
	{"Refund requests", refundRequestsPath, store.RoleSupport},
	{"Users", "/admin/users", store.RoleAdmin},
	{"Audit log", "/admin/audit", store.RoleAdmin},
	{"API tokens", "/admin/tokens", store.RoleAdmin},
}

// page is the layout's data for a page titled title whose menu entry is
// current (a href, or "").
func (s *Server) page(r *http.Request, title, current string) views.Page {
	p := views.Page{Title: title, Live: s.live}
	user, ok := currentUser(r)
	if !ok {
		return p
	}
	p.User = &views.Viewer{Email: user.Email, Name: user.Name, Role: string(user.Role)}
	p.Status = s.mirrorStatus(r.Context())
	for _, n := range navigation {
		if user.Role.AtLeast(n.min) {
			p.Nav = append(p.Nav, views.NavItem{Label: s.navLabel(r.Context(), n.label, n.href), Href: n.href, Current: n.href == current})
		}
	}
	return p
}

var (
	htmlType = []string{"text/html; charset=utf-8"}
	varyHTMX = []string{"HX-Request, HX-Boosted, HX-History-Restore-Request"}
)

// render writes a page with status: the whole document for a normal or
// boosted request, only the page's content for an htmx request. It renders
// into a buffer first, so a failure half-way answers 500 instead of half a
// page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	ctx := r.Context()
	if views.WantsFragment(r.Header) {
		ctx = views.WithFragment(ctx)
	}
	w.Header()["Vary"] = varyHTMX
	var buf bytes.Buffer
	if err := c.Render(ctx, &buf); err != nil {
		s.logError(r, "cannot render a page", err)
		s.fail(w, r, http.StatusInternalServerError, "internal error", nil)
		return
	}
	h := w.Header()
	h["Content-Type"] = htmlType
	if st := serverTiming(r); st != "" {
		h.Set("Server-Timing", st)
	}
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// renderError answers status with an error page carrying msg, which must
// be safe to show.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h := w.Header()
	h["Cache-Control"] = noStoreCache
	s.render(w, r, status, views.ErrorPage(s.page(r, http.StatusText(status), ""), status, msg))
}

// serverError logs err and answers 500 with a page that says only that
// something went wrong.
func (s *Server) serverError(w http.ResponseWriter, r *http.Request, what string, err error) {
	s.logError(r, what, err)
	s.renderError(w, r, http.StatusInternalServerError, "Something went wrong on our side. Try again; if it persists, tell your administrator.")
}

func (s *Server) logError(r *http.Request, msg string, err error) {
	s.log.LogAttrs(r.Context(), slog.LevelError, msg, slog.String("method", r.Method),
		slog.String("route", r.Pattern), slog.Any("err", err))
}
