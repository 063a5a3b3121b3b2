package handlers

import "net/http"

// routes is paydesk's one route table: every route with its method.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("POST /webhooks/stripe", s.stripeWebhook)
	// The seed's path, so an endpoint registered with it keeps working.
	// {$} keeps the trailing slash from matching every path below it.
	mux.HandleFunc("POST /api/finances/stripe/webhook/{$}", s.stripeWebhook)
	return mux
}
