package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
)

// requestIDHeader carries a request's id in and out: a proxy in front may
// set it, and every answer echoes it, so a user's report, the proxy's log
// and paydesk's log lines can be matched.
const requestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds an incoming id: longer ones are replaced, so a
// client cannot fill log lines with it.
const maxRequestIDLen = 64

type requestIDKey struct{}

// RequestID returns the id of the request ctx belongs to, or "" outside
// one.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requestID is r's id: the incoming X-Request-Id when it is a short token
// (letters, digits, '-', '_', '.', ':'; at most 64 bytes), else a new
// random one. Anything else could smuggle spaces, quotes or line breaks
// into logs.
func requestID(r *http.Request) string {
	if in := r.Header[requestIDHeader]; len(in) == 1 && isToken(in[0]) {
		return in[0]
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func isToken(s string) bool {
	if s == "" || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' && c != '.' && c != ':' {
			return false
		}
	}
	return true
}

// requestIDHandler adds the request id to every log record made with a
// request's context, so each line about a request names it.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
