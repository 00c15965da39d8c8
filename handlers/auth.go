package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/hxoidc/hxoidc/auth"
	"github.com/hxoidc/hxoidc/views"
)

// login starts a sign-in: GET /auth/login?return_to=<path>[&popup=1].
func (s *server) login(c echo.Context) error {
	returnTo := returnPath(c.QueryParam("return_to"))
	popup := c.QueryParam("popup") == "1"
	self := loginURL(returnTo)
	if popup {
		self += "&popup=1"
	}
	setRetry(c, self)
	if isHTMX(c) {
		// fetch would follow the redirect to the provider and fail on CORS: make the browser navigate here.
		return s.redirect(c, local(self))
	}
	if s.Sessions.IsStub(c.Request().Context()) {
		// This request still carries the token another tab's sign-in just renewed (it was on its way
		// before the new cookie arrived). A sign-in saved here would be lost, and answering with a cookie
		// would sign the browser out: ask again, with whatever cookie the browser holds now.
		if c.QueryParam("again") == "" {
			return s.redirect(c, local(self+"&again=1"))
		}
		// Asked again and still the old token: this browser never got the new one. Start afresh.
		if err := s.Sessions.Unstub(c.Request().Context()); err != nil {
			return storeError(err)
		}
	}
	p, authURL, err := s.Auth.AuthCodeURL(c.Request().Context(), returnTo, popup)
	if err != nil {
		return err
	}
	s.Sessions.AddPending(c.Request().Context(), p)
	return s.redirect(c, providerURL(authURL))
}

// callback completes a sign-in: GET /auth/callback?code&state[&iss] or ?error&state. The checks run in
// order: the provider's error, the state, then (in auth.Client.Exchange) iss, the code exchange, the ID
// token and userinfo. A failure leaves the existing session as it was, less the spent state.
func (s *server) callback(c echo.Context) error {
	ctx := c.Request().Context()
	q := c.QueryParams()
	state := q.Get("state")
	setRetry(c, loginURL("/"))

	if code := q.Get("error"); code != "" {
		if p, err := s.Sessions.TakePending(ctx, state); err == nil {
			setRetry(c, retryLogin(p))
		}
		// An error response from another provider (mix-up, RFC 9207) is not shown as this one's.
		if err := s.Auth.CheckIssuer(ctx, q); err != nil {
			return err
		}
		return providerError(code, q.Get("error_description"))
	}
	p, err := s.Sessions.TakePending(ctx, state)
	if err != nil {
		return err
	}
	setRetry(c, retryLogin(p))

	xctx, cancel := context.WithTimeout(ctx, s.CallbackTimeout)
	defer cancel()
	id, err := s.Auth.Exchange(xctx, p, q)
	if err != nil {
		return err
	}
	if err := s.Sessions.SignIn(ctx, id, p.State); err != nil {
		return storeError(err)
	}
	s.Logger.Info("signed in", "request_id", requestID(c), "sub", id.User.Subject, "sid", id.User.SessionID, "popup", p.Popup)
	if p.Popup {
		return s.render(c, http.StatusOK, views.PopupDone("signed-in", p.ReturnTo), nil)
	}
	return s.redirect(c, local(p.ReturnTo))
}

func retryLogin(p auth.Pending) string {
	u := loginURL(p.ReturnTo)
	if p.Popup {
		u += "&popup=1"
	}
	return u
}

// providerError maps the authorization response's error parameter (RFC 6749 §4.1.2.1, Core §3.1.2.6)
// to a page. The description is the provider's text: shortened and stripped of control characters.
func providerError(code, description string) error {
	status, title, msg := http.StatusBadRequest, "Sign-in was not completed", "The provider could not sign you in."
	switch code {
	case "access_denied":
		status, title, msg = http.StatusForbidden, "Sign-in was cancelled", "You declined the sign-in at the provider, or it refused access."
	case "login_required", "interaction_required", "consent_required", "account_selection_required":
		msg = "The provider needs you to sign in again."
	case "temporarily_unavailable":
		status, title, msg = http.StatusServiceUnavailable, "Sign-in provider unavailable", "The provider is temporarily unavailable."
	case "server_error":
		status, msg = http.StatusBadGateway, "The provider had an internal error."
	case "invalid_request", "unauthorized_client", "unsupported_response_type", "invalid_scope", "invalid_request_uri", "invalid_request_object":
		status, msg = http.StatusBadGateway, "The provider refused this application's sign-in request ("+code+"); the administrator should check the client registration."
	}
	return &auth.Error{Status: status, Title: title, Message: msg + " You can try again.",
		Err: fmt.Errorf("%w: error=%q description=%q", auth.ErrProviderError, clean(code, 64), clean(description, 300))}
}

// clean keeps provider text safe for a log line: printable characters only, bounded length.
func clean(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, s)
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// logout ends the session: POST /auth/logout with the session's CSRF token. The browser then goes to the
// provider's end-session endpoint (RP-Initiated Logout) and comes back to the post-logout URL, where the
// state sent along is recognised; without an end-session endpoint the sign-out is local and the page
// says the provider session may still be active.
func (s *server) logout(c echo.Context) error {
	ctx := c.Request().Context()
	if _, signedIn := s.Sessions.User(ctx); !signedIn {
		// Nothing to end here (already signed out, or the session expired): not an error.
		return s.redirect(c, local(views.PathHome))
	}
	if !s.Sessions.CheckCSRF(ctx, c.FormValue("csrf_token")) {
		setRetry(c, views.PathHome)
		return &auth.Error{Status: http.StatusForbidden, Title: "Sign-out refused",
			Message: "This sign-out request did not come from this site's Sign out button, so you are still signed in. Reload the page and use Sign out.",
			Err:     errors.New("handlers: logout: missing or wrong CSRF token")}
	}
	ls := &auth.LogoutState{State: randomState(), Popup: c.FormValue("popup") == "1", At: s.now()}
	u, _ := s.Sessions.User(ctx)
	tokens, _ := s.Sessions.Tokens(ctx)
	endURL := s.Auth.EndSessionURL(ctx, tokens.IDToken, ls.State)
	ls.Local = endURL == ""
	if _, err := s.Sessions.SignOut(ctx, ls); err != nil {
		return storeError(err)
	}
	s.Logger.Info("signed out", "request_id", requestID(c), "sub", u.Subject, "provider_logout", !ls.Local)
	triggerAuthChanged(c)
	if ls.Local {
		return s.redirect(c, local(views.PathSignedOut+"?state="+ls.State))
	}
	return s.redirect(c, providerURL(endURL))
}

// backchannelLogout is POST /auth/backchannel-logout (OpenID Connect Back-Channel Logout 1.0): the
// provider says a session ended. A valid, unseen logout token ends every session of its sid (or of its
// sub without sid): 200. Anything else: 400 and no session touched.
func (s *server) backchannelLogout(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	ctx := c.Request().Context()
	fail := func(status int, reason string, err error) error {
		s.Logger.Warn("back-channel logout refused", "request_id", requestID(c), "reason", reason, "err", err)
		return c.JSON(status, map[string]string{"error": "invalid_request", "error_description": reason})
	}
	// The token comes in the POST body only (Back-Channel Logout 1.0 §2.5), never the query string.
	raw := c.Request().PostFormValue("logout_token")
	if raw == "" {
		return fail(http.StatusBadRequest, "missing logout_token", nil)
	}
	lt, err := s.Auth.VerifyLogout(ctx, raw)
	if err != nil {
		return fail(http.StatusBadRequest, "invalid logout token", err)
	}
	// Remembered for as long as a token with this iat is accepted at all.
	n, err := s.Sessions.EndSessionsOnce(ctx, lt.TokenID, s.now().Add(auth.LogoutTokenMaxAge+2*auth.ClockSkew), lt.Issuer, lt.SessionID, lt.Subject)
	switch {
	case errors.Is(err, auth.ErrReplayed):
		return fail(http.StatusBadRequest, "logout token replayed", err)
	case err != nil:
		// Back-Channel Logout 1.0 §2.8: any failure is a 400; the provider may retry.
		return fail(http.StatusBadRequest, "session store unavailable", err)
	}
	s.Logger.Info("back-channel logout", "request_id", requestID(c), "sub", lt.Subject, "sid", lt.SessionID, "sessions_ended", n)
	return c.NoContent(http.StatusOK)
}
