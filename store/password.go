package store

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Password hashing parameters: argon2id with OWASP's recommended minimum
// (19 MiB, two passes, one lane), about 30 ms a hash on a server core.
// Stored hashes carry their own parameters, so raising these later only
// affects new hashes; old ones still verify.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonSaltLen   = 16
	argonKeyLen    = 32

	minPasswordChars = 12
	// maxPasswordBytes bounds what a login form can make the server hash.
	maxPasswordBytes = 1024
)

// ErrPasswordTooShort is returned by HashPassword for a password under 12
// characters.
var ErrPasswordTooShort = errors.New("store: password must be at least 12 characters")

// ErrPasswordTooLong is returned by HashPassword for a password over 1024
// bytes.
var ErrPasswordTooLong = errors.New("store: password must be at most 1024 bytes")

// HashPassword returns the argon2id hash of password as a PHC string:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>, base64 without padding.
func HashPassword(password string) (string, error) {
	if utf8.RuneCountInString(password) < minPasswordChars {
		return "", ErrPasswordTooShort
	}
	if len(password) > maxPasswordBytes {
		return "", ErrPasswordTooLong
	}
	salt := make([]byte, argonSaltLen)
	rand.Read(salt) // never fails: crypto/rand aborts the process instead
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	return encodeHash(argonParams{argonMemoryKiB, argonTime, argonThreads}, salt, key), nil
}

type argonParams struct {
	memoryKiB, time uint32
	threads         uint8
}

func encodeHash(p argonParams, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.memoryKiB, p.time, p.threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// CheckPassword reports whether password matches hash, comparing in
// constant time with the parameters the hash names. A malformed hash
// matches nothing.
func CheckPassword(hash, password string) bool {
	p, salt, want, ok := decodeHash(hash)
	if !ok || len(password) > maxPasswordBytes {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, p.time, p.memoryKiB, p.threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is the hash of a password nobody knows, made with the current
// parameters (TestDummyHashParameters keeps it so).
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$46aGeC4P4S9dB9iNOIu6fA$6whLpujfw9qjoIs1zfIkh7bsgCSm2aVFjPLjjH81kXQ"

// CheckNoPassword does the work of CheckPassword against a hash no
// password matches. Call it when the email names no account, so that a
// login for an unknown email takes as long as a wrong password and timing
// does not reveal which accounts exist.
func CheckNoPassword(password string) {
	CheckPassword(dummyHash, password)
}

// decodeHash parses a PHC argon2id string. The bounds keep a corrupt or
// planted hash from making a login allocate gigabytes or run for minutes.
func decodeHash(hash string) (p argonParams, salt, key []byte, ok bool) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, false
	}
	seen := map[string]uint64{}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, found := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !found || err != nil {
			return p, nil, nil, false
		}
		seen[k] = n
	}
	m, mOK := seen["m"]
	t, tOK := seen["t"]
	threads, pOK := seen["p"]
	if len(seen) != 3 || !mOK || !tOK || !pOK ||
		threads < 1 || threads > 16 || t < 1 || t > 16 || m < 8*threads || m > 1<<20 {
		return p, nil, nil, false
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return p, nil, nil, false
	}
	key, err = base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 128 {
		return p, nil, nil, false
	}
	return argonParams{uint32(m), uint32(t), uint8(threads)}, salt, key, true
}

// passwordAlphabet leaves out characters easily misread or mistyped
// (0/O/o, 1/l/I/i).
const passwordAlphabet = "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"

// GeneratePassword returns 20 random characters from an unambiguous
// alphabet (about 115 bits), for accounts made without a password and for
// resets.
func GeneratePassword() string {
	const n = 20
	// Bytes at or above the largest multiple of the alphabet's size are
	// dropped, so every character is equally likely.
	limit := byte(256 - 256%len(passwordAlphabet))
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		rand.Read(buf)
		for _, b := range buf {
			if b < limit && len(out) < n {
				out = append(out, passwordAlphabet[int(b)%len(passwordAlphabet)])
			}
		}
	}
	return string(out)
}
