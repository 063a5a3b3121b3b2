package stripeapi

import (
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// keyPattern matches Stripe API keys, including the masked form Stripe
// echoes in its 401 message (sk_test_****abcd).
var keyPattern = regexp.MustCompile(`\b(?:sk|rk|pk)_(?:test|live)_[0-9A-Za-z*]+`)

// redactKeys removes key, and anything shaped like a Stripe key, from s.
func redactKeys(s, key string) string {
	if key != "" {
		s = strings.ReplaceAll(s, key, "[redacted]")
	}
	return keyPattern.ReplaceAllString(s, "[redacted]")
}

// stripeLogger adapts slog to stripe-go's LeveledLoggerInterface.
type stripeLogger struct {
	log *slog.Logger
	key string
}

// Debugf drops stripe-go's debug lines: they hold whole response bodies,
// and customer data has no place in logs.
func (l *stripeLogger) Debugf(string, ...any) {}

// Infof drops stripe-go's per-request lines; Stats counts requests instead.
func (l *stripeLogger) Infof(string, ...any) {}

// Warnf passes retries stripe-go makes on to the logger.
func (l *stripeLogger) Warnf(format string, v ...any) {
	l.log.Warn(redactKeys(fmt.Sprintf(format, v...), l.key), "source", "stripe-go")
}

// Errorf logs at warn level: every such error is also returned to the
// caller, which decides whether it is an error worth alerting on (a
// declined card is not).
func (l *stripeLogger) Errorf(format string, v ...any) {
	l.log.Warn(redactKeys(fmt.Sprintf(format, v...), l.key), "source", "stripe-go")
}
