package handlers

import (
	"net/http"

	"paydesk/store"
	"paydesk/views"
)

// home is the signed-in landing page (GET /): what the mirror holds and,
// for admins, the state of the event queue.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	o, err := s.staff.Overview(r.Context())
	if err != nil {
		s.serverError(w, r, "cannot read the overview", err)
		return
	}
	user, _ := currentUser(r)
	s.render(w, r, http.StatusOK, views.HomePage(s.page(r, "Overview", "/"), views.HomeData{
		Customers: o.Customers, Invoices: o.Invoices, Charges: o.Charges, Refunds: o.Refunds,
		QueuedEvents: o.QueuedEvents, FailedEvents: o.FailedEvents, OtherAPIVersionEvents: o.OtherAPIVersionEvents,
		ShowEvents: user.Role.AtLeast(store.RoleAdmin),
	}))
}
