package handlers

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/hxoidc/hxoidc/auth"
	"github.com/hxoidc/hxoidc/views"
)

// This is the only file that spells htmx's HX-* headers.
const (
	hxRequest        = "HX-Request"
	hxRequestType    = "HX-Request-Type"
	hxHistoryRestore = "HX-History-Restore-Request"
	hxCurrentURL     = "HX-Current-URL"
	hxRedirect       = "HX-Redirect"
	hxTrigger        = "HX-Trigger"
	hxRetarget       = "HX-Retarget"
	hxReswap         = "HX-Reswap"
)

// isHTMX reports a request made by htmx (fetch), detected by HX-Request, never by Accept.
func isHTMX(c echo.Context) bool { return c.Request().Header.Get(hxRequest) == "true" }

// isPartial reports whether htmx wants a fragment: an htmx request that is not a history restore (which
// re-fetches the whole page) and does not target the whole body (htmx 4's HX-Request-Type: full).
func isPartial(c echo.Context) bool {
	h := c.Request().Header
	return isHTMX(c) && h.Get(hxHistoryRestore) != "true" && h.Get(hxRequestType) != "full"
}

// currentPath is the same-origin path of the page the person is looking at: for an htmx request the
// page that made it (HX-Current-URL), else the requested URL.
func currentPath(c echo.Context) string {
	p := c.Request().URL.RequestURI()
	if isHTMX(c) {
		p = "/"
		if u, err := url.Parse(c.Request().Header.Get(hxCurrentURL)); err == nil && u.Path != "" {
			p = u.RequestURI()
		}
	}
	return returnPath(p)
}

// returnPath is where to come back to after signing in: a safe same-origin path, and never one of the
// sign-in routes themselves (coming back to /auth/login would start another sign-in).
func returnPath(p string) string {
	p = auth.SafeReturnTo(p)
	if strings.HasPrefix(p, "/auth/") {
		return "/"
	}
	return p
}

// target is where a redirect may lead: a same-origin path that went through auth.SafeReturnTo, or a
// provider URL that the auth client built. Nothing else can be redirected to.
type target struct{ url string }

func local(path string) target        { return target{auth.SafeReturnTo(path)} }
func providerURL(u string) target     { return target{u} }
func loginURL(returnTo string) string { return views.SignInURL(returnTo) }

// redirect is the one place the app redirects. htmx ignores headers on a 3xx and fetch follows a 302
// silently (to the provider too, where CORS then fails), so an htmx request gets a 200 with HX-Redirect and
// the browser navigates; anything else gets a 303 See Other.
func (s *server) redirect(c echo.Context, to target) error {
	if err := s.commitSession(c); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	if isHTMX(c) {
		c.Response().Header().Set(hxRedirect, to.url)
		return c.NoContent(http.StatusOK)
	}
	return c.Redirect(http.StatusSeeOther, to.url)
}

// triggerAuthChanged tells htmx on the page that the session changed; views re-fetch their
// session-aware parts on `auth-changed from:body`.
func triggerAuthChanged(c echo.Context) { c.Response().Header().Set(hxTrigger, "auth-changed") }

// retargetToFlash makes an htmx error response land in the page's #flash region instead of replacing
// the element that asked (htmx 4 swaps 4xx/5xx responses by default).
func retargetToFlash(c echo.Context) {
	c.Response().Header().Set(hxRetarget, "#flash")
	c.Response().Header().Set(hxReswap, "innerHTML")
}
