package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// securityHeaders sets the Content-Security-Policy and its companions on every response. Scripts and
// styles come only from this origin (no inline script or style, no eval): htmx and the auth bridge are
// static assets. form-action names the provider's origins because a form post that redirects there
// (sign-out to the end-session endpoint) is checked against it too.
func (s *server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		formAction := append([]string{"'self'"}, s.Auth.ProviderOrigins()...)
		h.Set("Content-Security-Policy", strings.Join([]string{
			"default-src 'self'",
			"script-src 'self'",
			"style-src 'self'",
			"img-src 'self' https: data:",
			"connect-src 'self'",
			"object-src 'none'",
			"base-uri 'none'",
			"form-action " + strings.Join(formAction, " "),
			"frame-ancestors 'none'",
		}, "; "))
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		// Isolates the page from cross-origin windows while still letting it open the sign-in popup. The
		// popup's opener link does not survive its trip through the provider, so the popup reports back on
		// a BroadcastChannel (assets/static/auth.js), which needs no opener.
		h.Set("Cross-Origin-Opener-Policy", "same-origin-allow-popups")
		if s.Config.Secure() {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		return next(c)
	}
}

// canonicalHost sends a browser that opened a loopback app under another name (127.0.0.1 instead of
// localhost, or the app's own port instead of the live-reload proxy's) to BASE_URL: cookies are per host,
// so sign-in could not work there. Only for loopback BASE_URLs: in production a proxy may legitimately
// rewrite Host, and redirecting on it could loop.
func (s *server) canonicalHost(next echo.HandlerFunc) echo.HandlerFunc {
	want := s.Config.BaseURL.Host
	if !isLoopback(s.Config.BaseURL.Hostname()) {
		return next
	}
	return func(c echo.Context) error {
		r := c.Request()
		if r.Host == want || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			return next(c)
		}
		return c.Redirect(http.StatusTemporaryRedirect, s.Config.Origin()+r.URL.RequestURI())
	}
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}
