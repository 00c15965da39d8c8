// Package handlers is the app's HTTP surface: Echo routes, middleware, the error handler and the
// handlers that parse input, call the auth interfaces and pick a view.
package handlers

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/hxoidc/hxoidc/auth"
)

// Authenticator is the OpenID Connect relying party the handlers need; *auth.Client implements it.
type Authenticator interface {
	AuthCodeURL(ctx context.Context, returnTo string, popup bool) (auth.Pending, string, error)
	Exchange(ctx context.Context, p auth.Pending, query url.Values) (*auth.Identity, error)
	CheckIssuer(ctx context.Context, query url.Values) error
	Refresh(ctx context.Context, u auth.User, t auth.Tokens) (auth.Tokens, error)
	UserInfo(ctx context.Context, u auth.User, t auth.Tokens) (json.RawMessage, error)
	EndSessionURL(ctx context.Context, idTokenHint, state string) string
	VerifyLogout(ctx context.Context, raw string) (*oidc.LogoutToken, error)
	Ready() error
	ProviderOrigins() []string
}

// Pinger is a session store that can say whether it is reachable (for /readyz).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are what the server is built from.
type Deps struct {
	Config   auth.Config
	Auth     Authenticator
	Sessions *auth.Sessions
	// Store is pinged by /readyz when it implements Pinger.
	Store  any
	Logger *slog.Logger
	// CallbackTimeout bounds the whole callback (token, JWKS and userinfo calls); default 25 s, so the
	// callback answers within 30 s even when the provider hangs.
	CallbackTimeout time.Duration
}

type server struct {
	Deps
	now func() time.Time
}

// NewServer builds the Echo instance with every route, middleware and the error handler.
func NewServer(d Deps) *echo.Echo {
	if d.CallbackTimeout == 0 {
		d.CallbackTimeout = 25 * time.Second
	}
	s := &server{Deps: d, now: time.Now}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(s.requestID)
	e.Use(s.accessLog)
	e.Use(s.recoverPanics)
	e.Use(s.securityHeaders)
	// Nothing the app accepts (a sign-out form, a logout token) comes near this.
	e.Use(middleware.BodyLimit("64K"))
	e.Use(s.crossOriginProtection)
	s.addRoutes(e)
	return e
}

// recoverPanics turns a panic into a 500 error page and one log line with the stack, never a dropped
// connection.
func (s *server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return middleware.RecoverWithConfig(middleware.RecoverConfig{DisableErrorHandler: true, DisablePrintStack: true})(next)
}

// requestID gives every request an id of our own for its log lines and error page; one a client sends
// is never adopted, so it cannot forge or flood log correlation.
func (s *server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderXRequestID, randomState()[:16])
		return next(c)
	}
}

// accessLog writes one debug line per request; failures are logged once, with their reason, by
// handleError.
func (s *server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if s.Logger.Enabled(c.Request().Context(), slog.LevelDebug) {
			s.Logger.Debug("request", "request_id", requestID(c), "method", c.Request().Method, "path", c.Request().URL.Path,
				"status", c.Response().Status, "duration", time.Since(start).String(), "htmx", isHTMX(c))
		}
		return err
	}
}

// crossOriginProtection refuses cross-origin unsafe requests (Sec-Fetch-Site / Origin, Go's
// http.CrossOriginProtection): a cross-site POST cannot sign anyone out. Requests without those headers
// (the provider's server-to-server back-channel logout) pass.
func (s *server) crossOriginProtection(next echo.HandlerFunc) echo.HandlerFunc {
	cop := http.NewCrossOriginProtection()
	return func(c echo.Context) error {
		if err := cop.Check(c.Request()); err != nil {
			return &auth.Error{Status: http.StatusForbidden, Title: "Request refused",
				Message: "This request came from another site, so it was refused.", Err: err}
		}
		return next(c)
	}
}
