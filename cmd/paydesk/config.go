package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"paydesk/handlers"
)

// secret is a configuration value that must never be printed or logged.
type secret string

func (secret) String() string                 { return "[redacted]" }
func (secret) GoString() string               { return "[redacted]" }
func (secret) LogValue() slog.Value           { return slog.StringValue("[redacted]") }
func (s secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// config is paydesk's whole configuration, read once from the environment.
type config struct {
	DatabaseURL    secret // holds the password when there is one
	TestKey        secret
	LiveKey        secret
	LiveMode       bool
	WebhookSecrets []secret
	APIBase        string
	SessionSecret  secret
	Addr           string
	// HTTPS: "auto" (Secure cookies and HSTS when the request came over
	// TLS), "on" (behind a TLS-terminating proxy) or "off".
	HTTPS       string
	SessionIdle time.Duration
	SessionMax  time.Duration
	// Location is the display time zone (PAYDESK_TIMEZONE, default UTC),
	// used for dates on pages and for date filters.
	Location *time.Location
	// RefundApproval is PAYDESK_REFUND_APPROVAL_ABOVE: by lower-case
	// currency, the amount in minor units above which a refund needs a
	// second person's approval.
	RefundApproval map[string]int64
}

// configError names the variable at fault; its text never holds a secret.
type configError struct{ name, problem string }

func (e *configError) Error() string { return e.name + ": " + e.problem }

// loadConfig reads and validates every variable, the combinations too, and
// returns the first problem found. getenv is os.Getenv outside tests.
func loadConfig(getenv func(string) string) (config, error) {
	var c config
	var errs []error
	fail := func(name, format string, args ...any) {
		errs = append(errs, &configError{name, fmt.Sprintf(format, args...)})
	}
	read := func(name string) string {
		v, err := readSecret(getenv, name)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}

	if v := read("DATABASE_URL"); v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			fail("DATABASE_URL", "want a URL like postgres://user:password@host:5432/paydesk")
		}
		c.DatabaseURL = secret(v)
	}
	c.TestKey = secret(read("STRIPE_TEST_SECRET_KEY"))
	c.LiveKey = secret(read("STRIPE_LIVE_SECRET_KEY"))
	checkKey := func(name string, key secret, mode string) {
		if key == "" {
			return
		}
		k := string(key)
		if !strings.HasPrefix(k, "sk_"+mode+"_") && !strings.HasPrefix(k, "rk_"+mode+"_") {
			fail(name, "want a %s-mode secret or restricted key (sk_%s_... or rk_%s_...)", mode, mode, mode)
		}
	}
	checkKey("STRIPE_TEST_SECRET_KEY", c.TestKey, "test")
	checkKey("STRIPE_LIVE_SECRET_KEY", c.LiveKey, "live")

	if v := strings.TrimSpace(getenv("STRIPE_LIVE_MODE")); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			fail("STRIPE_LIVE_MODE", "want true or false, got %q", v)
		}
		c.LiveMode = b
	}
	if c.LiveMode && c.LiveKey == "" {
		fail("STRIPE_LIVE_SECRET_KEY", "required when STRIPE_LIVE_MODE=true")
	}

	// Several signing secrets are accepted while one is being rotated out.
	for _, s := range strings.Split(read("STRIPE_WEBHOOK_SECRET"), ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !strings.HasPrefix(s, "whsec_") {
			fail("STRIPE_WEBHOOK_SECRET", "want signing secrets starting whsec_, comma-separated")
			break
		}
		c.WebhookSecrets = append(c.WebhookSecrets, secret(s))
	}

	if v := strings.TrimSpace(getenv("STRIPE_API_BASE")); v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			fail("STRIPE_API_BASE", "want an http(s) URL like http://localhost:12111, got %q", v)
		}
		c.APIBase = strings.TrimRight(v, "/")
	}

	c.SessionSecret = secret(read("SESSION_SECRET"))
	if c.SessionSecret != "" && len(c.SessionSecret) < 32 {
		fail("SESSION_SECRET", "want at least 32 characters of random key material")
	}

	c.HTTPS = "auto"
	if v := strings.ToLower(strings.TrimSpace(getenv("PAYDESK_HTTPS"))); v != "" {
		if v != "auto" && v != "on" && v != "off" {
			fail("PAYDESK_HTTPS", "want auto, on (behind a TLS-terminating proxy) or off, got %q", v)
		}
		c.HTTPS = v
	}
	duration := func(name string, def, least time.Duration) time.Duration {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < least {
			fail(name, "want a duration of at least %s like 30m or 8h, got %q", least, v)
		}
		return d
	}
	c.SessionIdle = duration("PAYDESK_SESSION_IDLE", 30*time.Minute, time.Minute)
	c.SessionMax = duration("PAYDESK_SESSION_MAX", 12*time.Hour, time.Minute)
	if c.SessionIdle > c.SessionMax {
		fail("PAYDESK_SESSION_IDLE", "must not be longer than PAYDESK_SESSION_MAX")
	}
	c.Location = time.UTC
	if v := strings.TrimSpace(getenv("PAYDESK_TIMEZONE")); v != "" {
		loc, err := time.LoadLocation(v)
		if err != nil || v == "Local" {
			fail("PAYDESK_TIMEZONE", "want an IANA time zone like Europe/Berlin or America/New_York, got %q", v)
		} else {
			c.Location = loc
		}
	}

	if v := strings.TrimSpace(getenv("PAYDESK_REFUND_APPROVAL_ABOVE")); v != "" {
		m, err := handlers.ParseRefundApproval(v)
		if err != nil {
			fail("PAYDESK_REFUND_APPROVAL_ABOVE", "want currency=amount pairs in major units like usd=500.00,jpy=50000: %v", err)
		}
		c.RefundApproval = m
	}

	c.Addr = ":8080"
	if v := strings.TrimSpace(getenv("PAYDESK_ADDR")); v != "" {
		if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
			fail("PAYDESK_ADDR", "want host:port or :port, got %q", v)
		}
		c.Addr = v
	}
	return c, joinOneLine(errs)
}

// joinOneLine reports every problem on one line, so a bad start is one
// line of output however many variables are wrong.
func joinOneLine(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, err := range errs {
		msgs[i] = err.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}

// readSecret reads NAME, or the file named by NAME_FILE (trailing newline
// dropped), so secrets can come from mounted files rather than the
// environment. Setting both is an error.
func readSecret(getenv func(string) string, name string) (string, error) {
	direct, file := getenv(name), getenv(name+"_FILE")
	switch {
	case direct != "" && file != "":
		return "", &configError{name, "set either " + name + " or " + name + "_FILE, not both"}
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", &configError{name + "_FILE", "cannot read the file it names"}
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return strings.TrimSpace(direct), nil
}

// stripeKey returns the key for the configured mode and the variable it
// came from.
func (c config) stripeKey() (secret, string) {
	if c.LiveMode {
		return c.LiveKey, "STRIPE_LIVE_SECRET_KEY"
	}
	return c.TestKey, "STRIPE_TEST_SECRET_KEY"
}

// needDatabase and needStripe check what a subcommand uses; their errors
// are usage errors naming the variable.
func (c config) needDatabase() error {
	if c.DatabaseURL == "" {
		return &exitError{2, fmt.Errorf("configuration: %w", &configError{"DATABASE_URL", "required (a postgres:// URL)"})}
	}
	return nil
}

func (c config) needStripe() error {
	if key, name := c.stripeKey(); key == "" {
		return &exitError{2, fmt.Errorf("configuration: %w", &configError{name, "required for this command"})}
	}
	return nil
}
