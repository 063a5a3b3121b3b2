package store

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

func TestHashPassword(t *testing.T) {
	const pw = "correct horse battery"
	h1, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(h1, pw) {
		t.Fatalf("hash %q", h1)
	}
	h2, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if h1 == h2 {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	for _, h := range []string{h1, h2} {
		if !CheckPassword(h, pw) {
			t.Fatal("the right password does not match")
		}
	}
	for _, wrong := range []string{"", "correct horse battery ", "Correct horse battery", "correct horse batter"} {
		if CheckPassword(h1, wrong) {
			t.Fatalf("%q matches", wrong)
		}
	}

	if _, err := HashPassword("elevenchars"); !errors.Is(err, ErrPasswordTooShort) {
		t.Fatalf("11 characters: %v, want ErrPasswordTooShort", err)
	}
	// Characters, not bytes: twelve two-byte letters are long enough, six
	// of them (twelve bytes) are not.
	if _, err := HashPassword(strings.Repeat("é", 12)); err != nil {
		t.Fatalf("12 characters: %v", err)
	}
	if _, err := HashPassword(strings.Repeat("é", 6)); !errors.Is(err, ErrPasswordTooShort) {
		t.Fatalf("6 characters in 12 bytes: %v, want ErrPasswordTooShort", err)
	}
	if _, err := HashPassword(strings.Repeat("x", 1025)); !errors.Is(err, ErrPasswordTooLong) {
		t.Fatalf("1025 bytes: %v, want ErrPasswordTooLong", err)
	}
	if CheckPassword(h1, strings.Repeat("x", 1025)) {
		t.Fatal("an over-long password matched")
	}
}

func TestCheckPasswordMalformed(t *testing.T) {
	const pw = "correct horse battery"
	good, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$") // "", argon2id, v=19, params, salt, key
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	for _, h := range []string{
		"", "$", "plaintext", pw, good + "$", strings.TrimPrefix(good, "$"),
		with(1, "argon2i"), with(1, "bcrypt"), with(2, "v=16"),
		with(3, "m=19456,t=2"), with(3, "m=19456,t=2,p=1,x=3"), with(3, "m=abc,t=2,p=1"), with(3, "m=19456,t=0,p=1"),
		with(3, "m=19456,t=2,p=0"), with(3, "m=4194304,t=2,p=1"), with(3, "m=19456,t=1000,p=1"), with(3, "m=19456;t=2;p=1"),
		with(4, "!!!"), with(4, ""), with(5, "!!!"), with(5, ""), with(5, parts[5][:10]),
	} {
		if CheckPassword(h, pw) {
			t.Errorf("malformed hash %q matched", h)
		}
	}
}

// Stored hashes keep their own parameters: one made with other settings
// still verifies after the defaults change.
func TestCheckPasswordReadsParameters(t *testing.T) {
	const pw = "correct horse battery"
	salt := []byte("0123456789abcdef")
	p := argonParams{memoryKiB: 8 * 1024, time: 3, threads: 2}
	key := argon2.IDKey([]byte(pw), salt, p.time, p.memoryKiB, p.threads, 24)
	h := encodeHash(p, salt, key)
	if !strings.Contains(h, "$m=8192,t=3,p=2$") || !CheckPassword(h, pw) || CheckPassword(h, pw+"!") {
		t.Fatalf("hash with other parameters %q does not verify as it should", h)
	}
}

// CheckNoPassword must cost what CheckPassword costs on a real hash, so
// its dummy hash must use the current parameters.
func TestDummyHashParameters(t *testing.T) {
	p, salt, key, ok := decodeHash(dummyHash)
	if !ok || p != (argonParams{argonMemoryKiB, argonTime, argonThreads}) || len(salt) != argonSaltLen || len(key) != argonKeyLen {
		t.Fatalf("dummy hash %q does not use the current parameters", dummyHash)
	}
	CheckNoPassword("anything at all") // must not panic
}

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		pw := GeneratePassword()
		if len(pw) != 20 || seen[pw] {
			t.Fatalf("password %q: want 20 characters, each password new", pw)
		}
		seen[pw] = true
		for _, c := range pw {
			if !strings.ContainsRune(passwordAlphabet, c) || strings.ContainsRune("01lIOo", c) {
				t.Fatalf("password %q has %q", pw, c)
			}
		}
	}
	if _, err := HashPassword(GeneratePassword()); err != nil {
		t.Fatalf("a generated password is refused: %v", err)
	}
}
