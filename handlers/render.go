package handlers

import (
	"bytes"
	"fmt"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
)

// render writes the full page, or only the fragment when htmx asked for one. The component renders into
// a buffer first, so a failure becomes an error page rather than half a page, and the session is
// committed before the first byte. Session-aware HTML is never stored by caches or the back-forward cache
// (Back after sign-out shows nothing private), and the response varies on HX-Request.
func (s *server) render(c echo.Context, status int, page, fragment templ.Component) error {
	h := c.Response().Header()
	h.Add("Vary", "HX-Request")
	comp := page
	if fragment != nil && isPartial(c) {
		comp = fragment
	}
	var buf bytes.Buffer
	if err := comp.Render(c.Request().Context(), &buf); err != nil {
		return fmt.Errorf("handlers: render: %w", err)
	}
	if err := s.commitSession(c); err != nil {
		return err
	}
	h.Set("Cache-Control", "no-store")
	return c.HTMLBlob(status, buf.Bytes())
}

// renderFragment writes a component that is a fragment whoever asks (the /fragments/* routes).
func (s *server) renderFragment(c echo.Context, status int, fragment templ.Component) error {
	return s.render(c, status, fragment, nil)
}
