package handlers

import (
	"github.com/labstack/echo/v4"

	"github.com/hxoidc/hxoidc/assets"
	"github.com/hxoidc/hxoidc/views"
)

// addRoutes is the whole URL surface of the app.
func (s *server) addRoutes(e *echo.Echo) {
	// Public, without a session: health, static assets, and the provider's server-to-server call.
	e.GET(views.PathHealthz, s.healthz)
	e.GET(views.PathReadyz, s.readyz)
	e.GET("/assets/*", echo.WrapHandler(assets.Handler()))
	e.POST(views.PathBackchannel, s.backchannelLogout)

	// Everything a browser sees runs with the session loaded.
	pages := e.Group("", s.canonicalHost, echo.WrapMiddleware(s.Sessions.Serialize), s.loadSession)
	pages.GET(views.PathHome, s.home)
	pages.GET(views.PathHeaderFragment, s.headerFragment)
	pages.GET(views.PathHomeFragment, s.homeFragment)
	pages.GET(views.PathSignedOut, s.signedOut)

	pages.GET(views.PathLogin, s.login)
	pages.GET(views.PathCallback, s.callback)
	pages.POST(views.PathLogout, s.logout)

	pages.GET(views.PathProfile, s.profile, s.requireUser)

	// Unknown pages get the 404 page with the session loaded, so its header still knows who is there.
	pages.RouteNotFound("/*", func(echo.Context) error { return echo.ErrNotFound })
}
