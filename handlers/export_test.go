package handlers

import (
	"net/http"
	"net/http/httptest"
)

// WriteSessionCookieForTest sets the session cookie a Server keyed with
// secret would set for token, so tests can present a session made directly
// in the store.
func WriteSessionCookieForTest(w http.ResponseWriter, secret []byte, token string) error {
	s := &Server{cookies: newSessionCodec(secret), absolute: DefaultAbsoluteTimeout}
	return s.setSessionCookie(w, httptest.NewRequest(http.MethodGet, "/", nil), token)
}
