package handlers

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/hxoidc/hxoidc/auth"
	"github.com/hxoidc/hxoidc/views"
)

const (
	ctxSessionLoaded    = "hxoidc.session.loaded"
	ctxSessionCommitted = "hxoidc.session.committed"
	ctxRetryURL         = "hxoidc.retry"
)

// loadSession is scs's LoadAndSave made to fit Echo: the session is loaded before the handler and
// committed by render/redirect before the first byte, so a store failure becomes a 503 page instead of
// scs's plain-text 500 written on top of a response that already started.
func (s *server) loadSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		var token string
		if ck, err := r.Cookie(s.Sessions.CookieName()); err == nil {
			token = ck.Value
		}
		ctx, err := s.Sessions.Manager.Load(r.Context(), token)
		if err != nil {
			return storeError(fmt.Errorf("handlers: load session: %w", err))
		}
		c.SetRequest(r.WithContext(ctx))
		c.Set(ctxSessionLoaded, s.Sessions.Snapshot(ctx))
		c.Response().Header().Add("Vary", "Cookie")
		// A safety net for responses not written by render or redirect.
		c.Response().Before(func() {
			if err := s.commitSession(c); err != nil {
				s.Logger.Error("session commit failed after the response started", "request_id", requestID(c), "err", err)
			}
		})
		return next(c)
	}
}

// commitSession saves the session and sets or clears the cookie, once per request.
func (s *server) commitSession(c echo.Context) error {
	snap, loaded := c.Get(ctxSessionLoaded).(auth.Snapshot)
	if !loaded || c.Get(ctxSessionCommitted) != nil {
		return nil
	}
	c.Set(ctxSessionCommitted, true)
	if err := s.Sessions.Save(c.Request().Context(), c.Response(), snap); err != nil {
		return storeError(fmt.Errorf("handlers: save session: %w", err))
	}
	return nil
}

func storeError(err error) error {
	return &auth.Error{Status: http.StatusServiceUnavailable, Title: "Temporarily unavailable",
		Message: "Sessions cannot be read or saved right now. Please try again in a moment.",
		Err:     fmt.Errorf("%w: %w", auth.ErrSessionStore, err)}
}

// viewer is the Viewer of the current request; signed out when the session is not loaded.
func (s *server) viewer(c echo.Context) views.Viewer {
	v := views.Viewer{ReturnTo: currentPath(c)}
	if c.Get(ctxSessionLoaded) == nil {
		return v
	}
	ctx := c.Request().Context()
	if u, ok := s.Sessions.User(ctx); ok {
		v.SignedIn = true
		v.Name = u.DisplayName()
		v.Email = u.Email
		v.Picture = u.Picture
		v.CSRFToken = s.Sessions.CSRFToken(ctx)
	}
	return v
}

// requireUser sends a person who is not signed in to sign in, and back here afterwards.
func (s *server) requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, ok := s.Sessions.User(c.Request().Context()); !ok {
			return errSignInRequired
		}
		return next(c)
	}
}

var errSignInRequired = fmt.Errorf("handlers: %w", auth.ErrNotSignedIn)

func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// setRetry sets the Try again link of an error page for this request.
func setRetry(c echo.Context, u string) { c.Set(ctxRetryURL, u) }
