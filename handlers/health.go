package handlers

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// readyTimeout bounds a readiness check, so a hung database makes /readyz
// answer 503 rather than hang the probe.
const readyTimeout = 3 * time.Second

var okBody = []byte("ok\n")

// healthz answers 200 while the process can serve at all.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeOK(w)
}

// readyz answers 200 when the database answers and its schema is current,
// 503 with a short reason otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.ready.Ready(ctx); err != nil {
		msg := "not ready: database unavailable"
		if errors.Is(err, ErrMigrationsPending) {
			msg = "not ready: database migrations pending"
		}
		s.fail(w, r, http.StatusServiceUnavailable, msg, err)
		return
	}
	writeOK(w)
}

func writeOK(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = textType
	h["Cache-Control"] = noStoreCache
	_, _ = w.Write(okBody)
}
