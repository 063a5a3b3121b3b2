package handlers

import (
	"net/http"

	"paydesk/static"
	"paydesk/store"
)

// route is one entry of the route table: a method pattern, who may use it
// and its handler.
type route struct {
	pattern string
	access  access
	handler http.HandlerFunc
}

// routeTable is paydesk's one route table: every route with its method and
// the role it needs. Access is checked in one place, guard; a route cannot
// be registered without saying who may use it.
func (s *Server) routeTable() []route {
	return []route{
		{"GET /healthz", publicRoute, s.healthz},
		{"GET /readyz", publicRoute, s.readyz},
		// Admins, or a scraper with the metrics token (metrics.go).
		{"GET /metrics", metricsRoute, s.metrics},
		// Stripe signs its deliveries; the signature is the check.
		{"POST /webhooks/stripe", publicRoute, s.stripeWebhook},
		// The seed's path, so an endpoint registered with it keeps working.
		// {$} keeps the trailing slash from matching every path below it.
		{"POST /api/finances/stripe/webhook/{$}", publicRoute, s.stripeWebhook},
		{"GET /static/", publicRoute, staticFiles()},

		{"GET /login", publicRoute, s.loginPage},
		{"POST /login", publicRoute, s.login},
		{"POST /logout", viewerRoute, s.logout},

		{"GET /{$}", viewerRoute, s.home},

		// The lists, their CSV exports and one row of each for live
		// updates (lists.go).
		{"GET /customers", viewerRoute, s.customersPage},
		{"GET /customers.csv", viewerRoute, s.customersCSV},
		{"GET /customers/{id}/row", viewerRoute, s.customerRow},
		{"GET /invoices", viewerRoute, s.invoicesPage},
		{"GET /invoices.csv", viewerRoute, s.invoicesCSV},
		{"GET /invoices/{id}/row", viewerRoute, s.invoiceRow},
		{"GET /charges", viewerRoute, s.chargesPage},
		{"GET /charges.csv", viewerRoute, s.chargesCSV},
		{"GET /charges/{id}/row", viewerRoute, s.chargeRow},
		{"GET /refunds", viewerRoute, s.refundsPage},
		{"GET /refunds.csv", viewerRoute, s.refundsCSV},
		{"GET /refunds/{id}/row", viewerRoute, s.refundRow},

		{"GET /customers/{id}", viewerRoute, s.customerPage},
		{"GET /invoices/{id}", viewerRoute, s.invoicePage},
		{"GET /charges/{id}", viewerRoute, s.chargePage},
		{"GET /refunds/{id}", viewerRoute, s.refundPage},

		// Customers (customer_actions.go): created and edited by billing.
		{"GET /customers/new", billingRoute, s.newCustomerForm},
		{"POST /customers", billingRoute, s.createCustomer},
		{"GET /customers/{id}/edit", billingRoute, s.editCustomerForm},
		{"POST /customers/{id}", billingRoute, s.updateCustomer},

		// Actions (refunds.go): each form posts under the object it acts on.
		{"GET /charges/{id}/refund", supportRoute, s.refundForm},
		{"POST /charges/{id}/refunds", supportRoute, s.createRefund},
		// Dual approval of large refunds (approvals.go).
		{"GET /refunds/requests", supportRoute, s.refundRequestsPage},
		{"POST /refunds/requests/{id}/approve", supportRoute, s.approveRefundRequest},
		{"POST /refunds/requests/{id}/reject", supportRoute, s.rejectRefundRequest},
		// Invoices (invoice_actions.go): drafts made for a customer, and
		// the state changes Stripe allows, each under the invoice.
		{"GET /customers/{id}/invoices/new", billingRoute, s.invoiceForm},
		{"POST /customers/{id}/invoices", billingRoute, s.createInvoice},
		{"POST /invoices/{id}/finalize", billingRoute, s.invoiceActionHandler("finalize")},
		{"POST /invoices/{id}/send", billingRoute, s.invoiceActionHandler("send")},
		{"POST /invoices/{id}/void", billingRoute, s.invoiceActionHandler("void")},
		{"POST /invoices/{id}/mark-uncollectible", billingRoute, s.invoiceActionHandler("mark-uncollectible")},
		{"POST /invoices/{id}/pay", billingRoute, s.invoiceActionHandler("pay")},
		{"POST /invoices/{id}/delete", billingRoute, s.invoiceActionHandler("delete")},
		// The live-update stream of every signed-in page (live.go).
		{"GET /live", viewerRoute, s.liveStream},

		{"GET /admin/users", adminRoute, s.usersPage},
		{"POST /admin/users", adminRoute, s.addUser},
		{"POST /admin/users/{id}/role", adminRoute, s.setUserRole},
		{"POST /admin/users/{id}/disable", adminRoute, s.disableUser},
		{"POST /admin/users/{id}/enable", adminRoute, s.enableUser},
		{"POST /admin/users/{id}/password", adminRoute, s.resetPassword},
		{"GET /admin/audit", adminRoute, s.auditPage},
		{"GET /admin/tokens", adminRoute, s.tokensPage},
		{"POST /admin/tokens", adminRoute, s.createToken},
		{"POST /admin/tokens/{id}/revoke", adminRoute, s.revokeToken},

		// The purchase intake (orders.go): shops, with an API token.
		{"POST /api/v1/orders", apiTokenRoute, s.createOrder},
	}
}

// webhookPatterns are exempt from cross-origin protection: Stripe is not a
// browser, and each delivery carries its own signature.
var webhookPatterns = []string{"POST /webhooks/stripe", "POST /api/finances/stripe/webhook/{$}"}

// buildHandler registers the route table behind the access guard and
// cross-origin protection: a state-changing request (POST and the like)
// that a browser sends from another origin, or even another port of the
// same host, is refused with 403 before any handler runs.
func (s *Server) buildHandler() http.Handler {
	mux := http.NewServeMux()
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		mux.HandleFunc(rt.pattern, s.withMetricsToken(rt.pattern, s.guard(rt.access, rt.handler)))
	}
	cop := http.NewCrossOriginProtection()
	for _, p := range webhookPatterns {
		cop.AddInsecureBypassPattern(p)
	}
	// API-token routes are called by servers, not browsers, and carry
	// their own credential, which a browser never attaches by itself.
	for _, rt := range s.routes {
		if rt.access.token {
			cop.AddInsecureBypassPattern(rt.pattern)
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusForbidden, "cross-origin request refused: submit the form from paydesk's own pages", nil)
	}))
	return cop.Handler(mux)
}

// staticFiles serves the embedded stylesheet and scripts. They change only
// with the binary, so browsers may keep them for an hour.
func staticFiles() http.HandlerFunc {
	files := http.StripPrefix("/static/", http.FileServerFS(static.FS))
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	}
}

// RouteInfo describes who may use a route.
type RouteInfo struct {
	Pattern string
	Public  bool
	MinRole store.Role // for routes that are not public
	API     bool       // anonymous callers get 401 rather than a redirect
	// APIToken routes take an API token only, never a session.
	APIToken bool
}

// Routes lists every registered route with its access, for the route ×
// role test and for operators.
func (s *Server) Routes() []RouteInfo {
	out := make([]RouteInfo, len(s.routes))
	for i, rt := range s.routes {
		out[i] = RouteInfo{Pattern: rt.pattern, Public: rt.access.public, MinRole: rt.access.min, API: rt.access.api,
			APIToken: rt.access.token}
	}
	return out
}
