package store_test

import (
	"testing"
	"time"

	"paydesk/store/storetest"
)

func TestLoginFailures(t *testing.T) {
	st := storetest.New(t)
	since := time.Now().Add(-time.Minute)
	fail := func(email, addr string) {
		t.Helper()
		if err := st.RecordLoginFailure(ctx, email, addr); err != nil {
			t.Fatal(err)
		}
	}
	count := func(email, addr string, since time.Time) (int, int) {
		t.Helper()
		byEmail, byAddr, err := st.LoginFailures(ctx, email, addr, since)
		if err != nil {
			t.Fatal(err)
		}
		return byEmail, byAddr
	}
	if e, a := count("ada@example.com", "203.0.113.9", since); e != 0 || a != 0 {
		t.Fatalf("empty: %d, %d", e, a)
	}
	fail("Ada@Example.com", "203.0.113.9")
	fail("ada@example.com", "203.0.113.9")
	fail("ADA@example.com", "198.51.100.7")
	fail("nobody@example.com", "203.0.113.9") // unknown emails count too
	fail("bob@example.com", "198.51.100.7")

	if e, a := count("ada@EXAMPLE.com", "203.0.113.9", since); e != 3 || a != 3 {
		t.Fatalf("ada from .9: by email %d (want 3), by address %d (want 3)", e, a)
	}
	if e, a := count("bob@example.com", "198.51.100.7", since); e != 1 || a != 2 {
		t.Fatalf("bob from .7: by email %d (want 1), by address %d (want 2)", e, a)
	}
	if e, a := count("ada@example.com", "203.0.113.9", time.Now().Add(time.Minute)); e != 0 || a != 0 {
		t.Fatalf("since the future: %d, %d", e, a)
	}

	// An old failure falls out of the window.
	if _, err := st.DB().ExecContext(ctx, `UPDATE login_failures SET at = now() - interval '1 hour' WHERE remote_addr = '198.51.100.7'`); err != nil {
		t.Fatal(err)
	}
	if e, a := count("ada@example.com", "198.51.100.7", since); e != 2 || a != 0 {
		t.Fatalf("after ageing .7: by email %d (want 2), by address %d (want 0)", e, a)
	}

	if err := st.ClearLoginFailures(ctx, "ADA@example.com"); err != nil {
		t.Fatal(err)
	}
	if e, a := count("ada@example.com", "203.0.113.9", since); e != 0 || a != 1 {
		t.Fatalf("after clearing ada: by email %d (want 0), by address %d (want 1: nobody@'s)", e, a)
	}
}
