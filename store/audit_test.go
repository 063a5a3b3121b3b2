package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/store/storetest"
)

func TestRecordAudit(t *testing.T) {
	st := storetest.New(t)
	u := addUser(t, st, "ada@example.com", store.RoleAdmin)
	err := st.RecordAudit(ctx, store.AuditEntry{
		ActorID: &u.ID, Actor: u.Email, Action: "refund.create", Target: "charge:ch_123",
		Params:  map[string]any{"amount": 1250, "currency": "jpy", "reason": "dup\x00licate " + hostile},
		Outcome: store.AuditOK, StripeRequestID: "req_abc", RemoteAddr: "203.0.113.9",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RecordAudit(ctx, store.AuditEntry{Actor: "anonymous", Action: "login", Outcome: store.AuditRefused}); err != nil {
		t.Fatal(err)
	}
	rows, err := st.AuditEntries(ctx, store.AuditFilter{})
	if err != nil || len(rows) != 2 {
		t.Fatalf("AuditEntries = %d rows, %v", len(rows), err)
	}
	anon, full := rows[0], rows[1]
	if anon.Actor != "anonymous" || anon.ActorID != nil || anon.Target != nil || string(anon.Params) != "{}" ||
		anon.StripeRequestID != nil || anon.RemoteAddr != nil || anon.Outcome != store.AuditRefused {
		t.Fatalf("anonymous row %+v", anon)
	}
	var params map[string]any
	if err := json.Unmarshal(full.Params, &params); err != nil {
		t.Fatal(err)
	}
	if full.ActorID == nil || *full.ActorID != u.ID || full.Actor != u.Email || full.Action != "refund.create" ||
		*full.Target != "charge:ch_123" || *full.StripeRequestID != "req_abc" || *full.RemoteAddr != "203.0.113.9" ||
		full.At.IsZero() || params["amount"] != 1250.0 || params["reason"] != "dup\uFFFDlicate "+hostile {
		t.Fatalf("full row %+v, params %v", full, params)
	}

	for _, bad := range []store.AuditEntry{
		{Actor: "cli", Action: "user.add", Outcome: "maybe"},
		{Actor: "", Action: "user.add", Outcome: store.AuditOK},
		{Actor: "cli", Action: "", Outcome: store.AuditOK},
	} {
		if err := st.RecordAudit(ctx, bad); err == nil {
			t.Errorf("RecordAudit(%+v) accepted", bad)
		}
	}
}

// The database itself refuses to change or remove audit rows.
func TestAuditLogIsAppendOnly(t *testing.T) {
	st := storetest.New(t)
	if err := st.RecordAudit(ctx, store.AuditEntry{Actor: "cli", Action: "user.add", Target: "user:1", Outcome: store.AuditOK}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE audit_log SET outcome = 'failed'`,
		`UPDATE audit_log SET actor = 'someone else' WHERE target = 'user:1'`,
		`DELETE FROM audit_log`,
		`DELETE FROM audit_log WHERE target = 'user:1'`,
		`TRUNCATE audit_log`,
	} {
		_, err := st.DB().ExecContext(ctx, stmt)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: error %v, want the append-only refusal", stmt, err)
		}
	}
	rows, err := st.AuditEntries(ctx, store.AuditFilter{})
	if err != nil || len(rows) != 1 || rows[0].Actor != "cli" || rows[0].Outcome != store.AuditOK {
		t.Fatalf("after the attempts: %+v, %v", rows, err)
	}
}

// An audit row written in a transaction that fails goes with the change
// it records: neither is left.
func TestAuditRollsBackWithTheChange(t *testing.T) {
	st := storetest.New(t)
	boom := errors.New("boom")
	err := st.InTx(ctx, func(tx *store.Store) error {
		u, err := tx.AddUser(ctx, "ada@example.com", "", store.RoleAdmin, fakeHash)
		if err != nil {
			return err
		}
		if err := tx.RecordAudit(ctx, store.AuditEntry{Actor: "cli", Action: "user.add", Target: fmt.Sprintf("user:%d", u.ID), Outcome: store.AuditOK}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx error %v, want boom", err)
	}
	if _, err := st.UserByEmail(ctx, "ada@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the user survived the rollback (%v)", err)
	}
	if rows, err := st.AuditEntries(ctx, store.AuditFilter{}); err != nil || len(rows) != 0 {
		t.Fatalf("the audit row survived the rollback: %+v, %v", rows, err)
	}

	// And both commit together.
	err = st.InTx(ctx, func(tx *store.Store) error {
		if _, err := tx.AddUser(ctx, "ada@example.com", "", store.RoleAdmin, fakeHash); err != nil {
			return err
		}
		return tx.RecordAudit(ctx, store.AuditEntry{Actor: "cli", Action: "user.add", Outcome: store.AuditOK})
	})
	if err != nil {
		t.Fatal(err)
	}
	if rows, err := st.AuditEntries(ctx, store.AuditFilter{}); err != nil || len(rows) != 1 {
		t.Fatalf("committed: %d audit rows, %v", len(rows), err)
	}
}

func TestAuditEntriesFiltersAndPaging(t *testing.T) {
	st := storetest.New(t)
	actors := []string{"ada@example.com", "bob@example.com", "cli"}
	actions := []string{"user.add", "user.set_role", "refund.create", "login", "user"}
	for i := range 60 {
		e := store.AuditEntry{
			Actor:   actors[i%len(actors)],
			Action:  actions[i%len(actions)],
			Target:  fmt.Sprintf("user:%d", i%4),
			Params:  map[string]any{"i": i},
			Outcome: store.AuditOK,
		}
		if err := st.RecordAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	// Spread the rows over the last 60 hours (row i at i hours ago), around
	// the trigger: only a test may rewrite history.
	if _, err := st.DB().ExecContext(ctx, `
ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete;
UPDATE audit_log SET at = now() - ((params->>'i')::int * interval '1 hour');
ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete;`); err != nil {
		t.Fatal(err)
	}

	index := func(rows []store.AuditRow) []int {
		out := make([]int, len(rows))
		for k, r := range rows {
			var p struct{ I int }
			if err := json.Unmarshal(r.Params, &p); err != nil {
				t.Fatal(err)
			}
			out[k] = p.I
		}
		return out
	}
	check := func(f store.AuditFilter, want func(i int) bool) {
		t.Helper()
		rows, err := st.AuditEntries(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var expect []int
		for i := 59; i >= 0; i-- { // newest (highest id) first
			if want(i) {
				expect = append(expect, i)
			}
		}
		if f.Limit > 0 && len(expect) > f.Limit {
			expect = expect[:f.Limit]
		}
		if got := index(rows); fmt.Sprint(got) != fmt.Sprint(expect) {
			t.Fatalf("%+v: got %v, want %v", f, got, expect)
		}
	}
	check(store.AuditFilter{}, func(i int) bool { return i >= 10 }) // default limit 50
	check(store.AuditFilter{Limit: 1000}, func(int) bool { return true })
	check(store.AuditFilter{Actor: "bob@example.com"}, func(i int) bool { return i%3 == 1 })
	check(store.AuditFilter{Action: "user.add"}, func(i int) bool { return i%5 == 0 })
	check(store.AuditFilter{Action: "user."}, func(i int) bool { return i%5 == 0 || i%5 == 1 })
	check(store.AuditFilter{Action: "user"}, func(i int) bool { return i%5 == 4 })
	check(store.AuditFilter{Action: "user%"}, func(int) bool { return false })
	check(store.AuditFilter{Target: "user:2"}, func(i int) bool { return i%4 == 2 })
	check(store.AuditFilter{Actor: "cli", Action: "user.", Target: "user:1"}, func(i int) bool {
		return i%3 == 2 && (i%5 == 0 || i%5 == 1) && i%4 == 1
	})
	now := time.Now()
	check(store.AuditFilter{From: now.Add(-10*time.Hour - 30*time.Minute)}, func(i int) bool { return i <= 10 })
	check(store.AuditFilter{To: now.Add(-49*time.Hour - 30*time.Minute)}, func(i int) bool { return i >= 50 })
	check(store.AuditFilter{From: now.Add(-20*time.Hour - 30*time.Minute), To: now.Add(-14*time.Hour - 30*time.Minute)},
		func(i int) bool { return i >= 15 && i <= 20 })

	// Keyset paging by id walks every row of a filter exactly once.
	var seen []int
	f := store.AuditFilter{Action: "user.", Limit: 7}
	for page := 0; ; page++ {
		rows, err := st.AuditEntries(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 {
			break
		}
		if page > 10 {
			t.Fatal("paging does not end")
		}
		seen = append(seen, index(rows)...)
		f.Before = rows[len(rows)-1].ID
	}
	var want []int
	for i := 59; i >= 0; i-- {
		if i%5 == 0 || i%5 == 1 {
			want = append(want, i)
		}
	}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("paged: %v, want %v", seen, want)
	}
}
