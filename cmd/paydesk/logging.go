package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"

	"paydesk/stripeapi"
)

// defaultLogFormat is the log format when PAYDESK_LOG_FORMAT is unset:
// structured lines for a log collector. paydesk demo, run by a person at a
// terminal, asks for text instead (see main).
const defaultLogFormat = "json"

// newLogger builds the logger every command uses from PAYDESK_LOG_FORMAT
// (json or text) and PAYDESK_LOG_LEVEL (debug, info, warn, error; default
// info). Whatever the format, every record passes through redactHandler
// first, so no secret reaches w.
func newLogger(getenv func(string) string, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	switch v := strings.ToLower(strings.TrimSpace(getenv("PAYDESK_LOG_LEVEL"))); v {
	case "", "info":
		level = slog.LevelInfo
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, &configError{"PAYDESK_LOG_LEVEL", fmt.Sprintf("want debug, info, warn or error, got %q", v)}
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch v := strings.ToLower(strings.TrimSpace(getenv("PAYDESK_LOG_FORMAT"))); v {
	case "json":
		h = slog.NewJSONHandler(w, opts)
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "":
		if defaultLogFormat == "json" {
			h = slog.NewJSONHandler(w, opts)
		} else {
			h = slog.NewTextHandler(w, opts)
		}
	default:
		return nil, &configError{"PAYDESK_LOG_FORMAT", fmt.Sprintf("want json (for log collectors) or text (for people), got %q", v)}
	}
	return slog.New(redactHandler{h}), nil
}

// redactHandler keeps secrets out of log lines, whoever logs them:
//   - attributes whose key names a secret (Authorization, Cookie,
//     Stripe-Signature, password, secret, token, api_key, ...) are replaced
//     whole;
//   - in every other string, error text and message, anything shaped like
//     a Stripe key (sk_, rk_, pk_), a webhook signing secret (whsec_), a
//     signature (v1=<hex>), a bearer token, a session cookie or a password
//     in a URL is replaced;
//   - http.Header values lose their secret headers, *http.Request values
//     become their method and path, *http.Cookie values their name.
//
// An error that carries a Stripe request id adds it as stripe_request_id,
// so a line about a failed Stripe call can be matched with Stripe's logs.
type redactHandler struct{ next slog.Handler }

func (h redactHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h redactHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, scrub(r.Message), r.PC)
	var stripeIDs []string
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a, &stripeIDs))
		return true
	})
	for _, id := range stripeIDs {
		out.AddAttrs(slog.String("stripe_request_id", id))
	}
	return h.next.Handle(ctx, out)
}

func (h redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	var stripeIDs []string
	clean := make([]slog.Attr, 0, len(attrs))
	for _, a := range attrs {
		clean = append(clean, redactAttr(a, &stripeIDs))
	}
	for _, id := range stripeIDs {
		clean = append(clean, slog.String("stripe_request_id", id))
	}
	return redactHandler{h.next.WithAttrs(clean)}
}

func (h redactHandler) WithGroup(name string) slog.Handler {
	return redactHandler{h.next.WithGroup(name)}
}

const redacted = "[redacted]"

// secretKeys are attribute keys whose values are secret whatever they
// look like, compared without case, '-' and '_'.
var secretKeys = map[string]bool{
	"authorization": true, "proxyauthorization": true, "cookie": true, "setcookie": true,
	"stripesignature": true, "signature": true, "password": true, "passwd": true,
	"secret": true, "token": true, "apikey": true, "key": true, "secretkey": true,
	"sessionsecret": true, "webhooksecret": true, "databaseurl": true, "dsn": true,
}

func secretKey(key string) bool {
	k := strings.ToLower(strings.NewReplacer("-", "", "_", "", ".", "").Replace(key))
	return secretKeys[k] || strings.Contains(k, "password") || strings.Contains(k, "secret") ||
		strings.HasSuffix(k, "token") || strings.HasSuffix(k, "apikey")
}

// redactAttr returns a with secrets removed, noting the Stripe request
// ids of errors it holds.
func redactAttr(a slog.Attr, stripeIDs *[]string) slog.Attr {
	if secretKey(a.Key) {
		return slog.String(a.Key, redacted)
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, scrub(v.String()))
	case slog.KindGroup:
		group := v.Group()
		clean := make([]slog.Attr, len(group))
		for i, g := range group {
			clean[i] = redactAttr(g, stripeIDs)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(clean...)}
	case slog.KindAny:
		return slog.Attr{Key: a.Key, Value: redactAny(v.Any(), stripeIDs)}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func redactAny(x any, stripeIDs *[]string) slog.Value {
	switch x := x.(type) {
	case nil:
		return slog.AnyValue(nil)
	case error:
		var se *stripeapi.Error
		if errors.As(x, &se) && se.RequestID != "" {
			*stripeIDs = append(*stripeIDs, se.RequestID)
		}
		return slog.StringValue(scrub(x.Error()))
	case http.Header:
		clean := make([]slog.Attr, 0, len(x))
		for k, vs := range x {
			if secretKey(k) {
				clean = append(clean, slog.String(k, redacted))
			} else {
				clean = append(clean, slog.String(k, scrub(strings.Join(vs, ", "))))
			}
		}
		return slog.GroupValue(clean...)
	case *http.Request:
		if x == nil || x.URL == nil {
			return slog.AnyValue(nil)
		}
		return slog.StringValue(x.Method + " " + scrub(x.URL.Path))
	case *http.Cookie:
		if x == nil {
			return slog.AnyValue(nil)
		}
		return slog.StringValue(x.Name + "=" + redacted)
	case []byte:
		return slog.StringValue(scrub(string(x)))
	case fmt.Stringer:
		return slog.StringValue(scrub(x.String()))
	}
	// Anything else is printed by the handler with %+v; scrub that text,
	// since a struct can hold a key in any field.
	return slog.StringValue(scrub(fmt.Sprintf("%+v", x)))
}

// secretShapes match secrets inside free text. Each keeps what names the
// secret (the prefix) and drops the secret itself.
var secretShapes = []struct {
	re   *regexp.Regexp
	with string
}{
	// Stripe API keys, including the masked form Stripe echoes
	// (sk_test_****abcd), and webhook signing secrets.
	{regexp.MustCompile(`\b((?:sk|rk|pk)_(?:test|live)_|whsec_)[0-9A-Za-z*]+`), "${1}" + redacted},
	// Stripe-Signature header values: t=...,v1=<hex>,v0=<hex>.
	{regexp.MustCompile(`\b(v[01]=)[0-9a-fA-F]{16,}`), "${1}" + redacted},
	// Bearer tokens and Basic credentials.
	{regexp.MustCompile(`(?i)\b(bearer|basic)\s+[^\s,;"]+`), "${1} " + redacted},
	// Session cookies and other name=value pairs named like secrets
	// (cookies, query strings, DSNs), and "password: ..." in text.
	{regexp.MustCompile(`(?i)\b([a-z_]*(?:session|password|passwd|secret|token)[a-z_]*=)[^\s&;,"]+`), "${1}" + redacted},
	{regexp.MustCompile(`(?i)\b((?:password|passwd):\s*)[^\s&;,"]+`), "${1}" + redacted},
	// Passwords in URLs: postgres://user:password@host.
	{regexp.MustCompile(`(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s/]+@`), "${1}" + redacted + "@"},
}

// scrub removes secret-shaped parts of s. Most log text holds none of the
// markers, so it is returned as is without running the expressions.
func scrub(s string) string {
	if !mayHoldSecret(s) {
		return s
	}
	for _, shape := range secretShapes {
		s = shape.re.ReplaceAllString(s, shape.with)
	}
	return s
}

func mayHoldSecret(s string) bool {
	for _, marker := range []string{"_test_", "_live_", "whsec_", "v1=", "v0=", "earer", "asic ", "ession", "assw", "ecret", "oken", "://"} {
		if strings.Contains(s, marker) {
			return true
		}
	}
	return false
}
