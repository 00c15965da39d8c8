package handlers

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/hxoidc/hxoidc/auth"
	"github.com/hxoidc/hxoidc/views"
)

// handleError is Echo's error handler: it picks the status and the words from the error, logs it once
// with the request id (warn for 4xx, error for 5xx), and renders the error page, or for htmx the error
// panel into #flash.
func (s *server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		s.Logger.Error("error after the response started", "request_id", requestID(c), "path", c.Path(), "err", err)
		return
	}
	if errors.Is(err, auth.ErrNotSignedIn) {
		// The page itself, not the fragment htmx asked for, is where sign-in should come back to.
		if rerr := s.redirect(c, local(loginURL(currentPath(c)))); rerr == nil {
			return
		}
	}

	info := views.ErrorInfo{Status: http.StatusInternalServerError, Title: "Something went wrong",
		Message: "An unexpected error happened on our side. Please try again.", RequestID: requestID(c)}
	var ae *auth.Error
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ae):
		info.Status, info.Title, info.Message = ae.Status, ae.Title, ae.Message
	case errors.As(err, &he):
		info.Status = he.Code
		info.Title = http.StatusText(he.Code)
		switch he.Code {
		case http.StatusNotFound:
			info.Message = "There is no page at this address."
		case http.StatusMethodNotAllowed:
			info.Message = "This address does not accept this kind of request."
		default:
			if info.Status < 500 {
				info.Message = "The request could not be understood."
			}
		}
	}
	if u, ok := c.Get(ctxRetryURL).(string); ok {
		info.RetryURL = u
	} else if info.Status >= 500 || info.Status == http.StatusBadRequest {
		info.RetryURL = "/"
	}

	level := slog.LevelWarn
	if info.Status >= 500 {
		level = slog.LevelError
	}
	if info.Status == http.StatusNotFound {
		level = slog.LevelInfo
	}
	s.Logger.Log(c.Request().Context(), level, "request failed",
		"request_id", info.RequestID, "method", c.Request().Method, "path", c.Request().URL.Path,
		"status", info.Status, "err", err)

	page := views.ErrorPage(views.Page{Title: info.Title, Viewer: s.viewer(c)}, info)
	fragment := views.ErrorPanel(info)
	if isPartial(c) {
		retargetToFlash(c)
	}
	if rerr := s.render(c, info.Status, page, fragment); rerr != nil {
		// The session could not be saved (store down): still answer with the page, without the cookie.
		c.Set(ctxSessionLoaded, nil)
		if rerr := s.render(c, http.StatusServiceUnavailable, page, fragment); rerr != nil {
			s.Logger.Error("rendering the error page failed", "request_id", info.RequestID, "err", rerr)
			_ = c.String(http.StatusInternalServerError, "Internal Server Error")
		}
	}
}
