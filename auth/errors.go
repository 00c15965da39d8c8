package auth

import (
	"errors"
	"net/http"
)

// Error is a failure of the sign-in or sign-out flow with what a person should see: the HTTP status, a
// title and a message. Err keeps the technical reason for the log line; it is never shown.
type Error struct {
	Status  int
	Title   string
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Title
	}
	return e.Title + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

func newError(status int, title, message string, err error) *Error {
	return &Error{Status: status, Title: title, Message: message, Err: err}
}

// The failures handlers and tests compare against with errors.Is.
var (
	// ErrProviderUnavailable: discovery has not succeeded yet (provider down, DNS, TLS, issuer mismatch).
	ErrProviderUnavailable = errors.New("provider metadata not loaded")
	// ErrUnknownState: the callback's state matches no pending sign-in of this browser (forged, replayed,
	// from another browser, or the session expired).
	ErrUnknownState = errors.New("unknown state")
	// ErrExpiredState: the pending sign-in is older than PendingTTL.
	ErrExpiredState = errors.New("expired state")
	// ErrIssuerMismatch: the authorization response's iss differs from the issuer (RFC 9207 mix-up defence).
	ErrIssuerMismatch = errors.New("authorization response iss mismatch")
	// ErrProviderError: the provider answered the authorization request with an error parameter.
	ErrProviderError = errors.New("provider returned an error")
	// ErrTokenEndpoint: the token endpoint refused the code or failed.
	ErrTokenEndpoint = errors.New("token endpoint error")
	// ErrInvalidIDToken: the ID token failed verification (signature, iss, aud, azp, exp, iat, nonce, at_hash).
	ErrInvalidIDToken = errors.New("invalid ID token")
	// ErrUserinfo: the userinfo endpoint failed or answered for another subject.
	ErrUserinfo = errors.New("userinfo error")
	// ErrTimeout: the provider did not answer in time.
	ErrTimeout = errors.New("provider timeout")
	// ErrSessionStore: the session store failed.
	ErrSessionStore = errors.New("session store error")
	// ErrBadLogoutToken: a back-channel logout token failed validation.
	ErrBadLogoutToken = errors.New("invalid logout token")
)

func errUnavailable(err error) *Error {
	return newError(http.StatusServiceUnavailable, "Sign-in provider unavailable",
		"The sign-in provider cannot be reached right now. Please try again in a moment.",
		errors.Join(ErrProviderUnavailable, err))
}
