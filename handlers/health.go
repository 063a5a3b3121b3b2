package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
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

// Check is the outcome of one readiness check.
type Check struct {
	// Name says what was checked: database, migrations, workers.
	Name string
	// Problem is "" when the check passed, else a short text safe to show
	// anyone (no hosts, no error text).
	Problem string
	// Err is the cause of a problem, for the log only.
	Err error
}

// Checker is a Readiness that names its checks; /readyz lists each one.
type Checker interface {
	Checks(ctx context.Context) []Check
}

// readyAnswer is /readyz's body.
type readyAnswer struct {
	Status string        `json:"status"` // "ready" or "not ready"
	Checks []checkAnswer `json:"checks"`
}

type checkAnswer struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Problem string `json:"problem,omitempty"`
}

// readyz answers 200 when every readiness check passes, 503 otherwise,
// with a small JSON body naming each check and what is wrong.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	var checks []Check
	if c, ok := s.ready.(Checker); ok {
		checks = c.Checks(ctx)
	} else {
		checks = []Check{readinessCheck(s.ready.Ready(ctx))}
	}
	answer := readyAnswer{Status: "ready", Checks: make([]checkAnswer, len(checks))}
	status := http.StatusOK
	for i, c := range checks {
		answer.Checks[i] = checkAnswer{Name: c.Name, OK: c.Problem == "", Problem: c.Problem}
		if c.Problem != "" {
			answer.Status, status = "not ready", http.StatusServiceUnavailable
			s.log.LogAttrs(r.Context(), slog.LevelWarn, "not ready: "+c.Problem,
				slog.String("check", c.Name), slog.Any("err", c.Err))
		}
	}
	body, _ := json.Marshal(answer)
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Cache-Control"] = noStoreCache
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// readinessCheck names what a plain Readiness's error says.
func readinessCheck(err error) Check {
	switch {
	case err == nil:
		return Check{Name: "database"}
	case errors.Is(err, ErrMigrationsPending):
		return Check{Name: "migrations", Problem: "database migrations pending", Err: err}
	}
	return Check{Name: "database", Problem: "database unavailable", Err: err}
}

func writeOK(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = textType
	h["Cache-Control"] = noStoreCache
	_, _ = w.Write(okBody)
}
