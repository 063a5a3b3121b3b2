package store_test

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"paydesk/store"
	"paydesk/store/storetest"
)

func TestAPITokens(t *testing.T) {
	st := storetest.New(t)
	admin, err := st.AddUser(ctx, "admin@example.com", "", store.RoleAdmin, "x")
	if err != nil {
		t.Fatal(err)
	}
	tok, plain, err := st.CreateAPIToken(ctx, "Webshop", admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(plain, store.APITokenPrefix) || len(plain) != len(store.APITokenPrefix)+43 ||
		tok.Prefix != plain[:12] || tok.Revoked() || tok.LastUsedAt != nil || *tok.CreatedBy != admin.ID {
		t.Fatalf("created %+v, token %q", tok, plain)
	}
	// Only the hash is kept.
	var stored []byte
	if err := st.DB().GetContext(ctx, &stored, `SELECT token_hash FROM api_tokens WHERE id = $1`, tok.ID); err != nil {
		t.Fatal(err)
	}
	if h := sha256.Sum256([]byte(plain)); string(stored) != string(h[:]) {
		t.Errorf("stored %x, want sha256 of the token", stored)
	}
	// Names are unique, whatever their case.
	if _, _, err := st.CreateAPIToken(ctx, "WEBSHOP", admin.ID); !errors.Is(err, store.ErrTokenNameTaken) {
		t.Errorf("a second Webshop: %v", err)
	}
	// Looking it up notes its use; a wrong token is not found.
	got, err := st.APITokenByToken(ctx, plain)
	if err != nil || got.ID != tok.ID || got.LastUsedAt == nil {
		t.Fatalf("lookup: %+v %v", got, err)
	}
	if _, err := st.APITokenByToken(ctx, plain+"x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a wrong token: %v", err)
	}
	// Revoked: found by id, not by token; a second revocation keeps the first.
	revoked, err := st.RevokeAPIToken(ctx, tok.ID, admin.ID)
	if err != nil || !revoked.Revoked() || *revoked.RevokedBy != admin.ID {
		t.Fatalf("revoke: %+v %v", revoked, err)
	}
	again, err := st.RevokeAPIToken(ctx, tok.ID, admin.ID)
	if err != nil || !again.RevokedAt.Equal(*revoked.RevokedAt) {
		t.Errorf("second revoke moved the time: %v %v", again.RevokedAt, err)
	}
	if _, err := st.APITokenByToken(ctx, plain); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a revoked token: %v", err)
	}
	if _, err := st.RevokeAPIToken(ctx, 9999, admin.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoke of no token: %v", err)
	}
	// The name stays taken after revocation (the audit log names tokens).
	if _, _, err := st.CreateAPIToken(ctx, "webshop", admin.ID); !errors.Is(err, store.ErrTokenNameTaken) {
		t.Errorf("a revoked token's name reused: %v", err)
	}
	list, err := st.APITokens(ctx)
	if err != nil || len(list) != 1 || list[0].ID != tok.ID {
		t.Errorf("list: %+v %v", list, err)
	}
}
