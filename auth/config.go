// Package auth is the OpenID Connect relying party of hxoidc: configuration, discovery, the authorization
// code flow with PKCE and every check of OpenID Connect Core §3.1.3.7, RFC 9700 and RFC 9207, the
// server-side session (pending sign-ins, the signed-in user, tokens) and back-channel logout.
package auth

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is everything the app reads from its environment. Load builds it; the zero value is not usable.
type Config struct {
	Issuer       string
	ClientID     string
	ClientSecret string // empty: a public client, PKCE only
	Scopes       []string

	BaseURL               *url.URL
	Addr                  string
	RedirectURL           string
	PostLogoutRedirectURL string

	// SessionStore is "memory" or the path of a SQLite file.
	SessionStore       string
	SessionIdleTimeout time.Duration
	SessionLifetime    time.Duration

	// HTTPTimeout bounds each call to the provider (discovery, token, userinfo, JWKS).
	HTTPTimeout time.Duration
	LogLevel    string
}

// Secure reports whether the app is served over https, which decides the cookie's Secure flag and prefix.
func (c Config) Secure() bool { return c.BaseURL.Scheme == "https" }

// Origin is BASE_URL's scheme://host[:port], the only origin return-to paths may lead to.
func (c Config) Origin() string { return c.BaseURL.Scheme + "://" + c.BaseURL.Host }

// Variable names, in one place so errors and the README agree.
const (
	EnvIssuer          = "OIDC_ISSUER"
	EnvClientID        = "OIDC_CLIENT_ID"
	EnvClientSecret    = "OIDC_CLIENT_SECRET"
	EnvScopes          = "OIDC_SCOPES"
	EnvBaseURL         = "BASE_URL"
	EnvAddr            = "ADDR"
	EnvPostLogout      = "OIDC_POST_LOGOUT_REDIRECT_URL"
	EnvSessionStore    = "SESSION_STORE"
	EnvSessionIdle     = "SESSION_IDLE_TIMEOUT"
	EnvSessionLifetime = "SESSION_LIFETIME"
	EnvHTTPTimeout     = "OIDC_HTTP_TIMEOUT"
	EnvLogLevel        = "LOG_LEVEL"
)

// DefaultSessionStore is the SQLite file sessions live in when SESSION_STORE is not set.
const DefaultSessionStore = ".data/sessions.db"

// LoadConfig reads and validates the configuration. Every problem is reported, each naming the variable,
// what was expected and what was found, joined into one error.
func LoadConfig(getenv func(string) string) (Config, error) {
	var errs []error
	bad := func(name, expected, found string) {
		errs = append(errs, fmt.Errorf("%s: expected %s, found %q", name, expected, found))
	}
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}

	c := Config{
		Issuer:       get(EnvIssuer, ""),
		ClientID:     get(EnvClientID, ""),
		ClientSecret: getenv(EnvClientSecret),
		SessionStore: get(EnvSessionStore, DefaultSessionStore),
		LogLevel:     strings.ToLower(get(EnvLogLevel, "info")),
	}

	switch u, err := url.Parse(c.Issuer); {
	case c.Issuer == "":
		bad(EnvIssuer, "the provider's issuer URL (for Asgardeo https://api.asgardeo.io/t/<org>/oauth2/token; run `go tool task dev` for the development provider)", "")
	case err != nil || !u.IsAbs() || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
		bad(EnvIssuer, "an absolute https URL without query or fragment", c.Issuer)
	case u.Scheme != "https" && !isLoopbackHost(u.Hostname()):
		bad(EnvIssuer, "an https URL (plain http is allowed only for a provider on localhost)", c.Issuer)
	}
	if c.ClientID == "" {
		bad(EnvClientID, "the client ID registered at the provider", "")
	}

	c.Scopes = strings.Fields(strings.ReplaceAll(get(EnvScopes, "openid profile email"), ",", " "))
	if !slices.Contains(c.Scopes, "openid") {
		bad(EnvScopes, "a space- or comma-separated list that includes openid", strings.Join(c.Scopes, " "))
	}

	base := get(EnvBaseURL, "http://localhost:3000")
	u, err := url.Parse(base)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		bad(EnvBaseURL, "the app's public URL, like https://app.example.com", base)
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "", u.User != nil:
		bad(EnvBaseURL, "a URL with no path, query or user info (the app is served from the root)", base)
	case u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
		bad(EnvBaseURL, "an https URL (plain http only on localhost: browsers drop Secure cookies and providers refuse http redirect URIs)", base)
	default:
		u.Path = ""
		// Browsers leave the scheme's default port out of Host: http://localhost:80 is http://localhost.
		if p := u.Port(); (u.Scheme == "http" && p == "80") || (u.Scheme == "https" && p == "443") {
			u.Host = u.Hostname()
			if strings.Contains(u.Host, ":") {
				u.Host = "[" + u.Host + "]"
			}
		}
		c.BaseURL = u
		c.RedirectURL = c.Origin() + "/auth/callback"
		c.PostLogoutRedirectURL = get(EnvPostLogout, c.Origin()+"/")
		if pu, err := url.Parse(c.PostLogoutRedirectURL); err != nil || !pu.IsAbs() || pu.Host == "" {
			bad(EnvPostLogout, "an absolute URL registered at the provider as a post-logout redirect", c.PostLogoutRedirectURL)
		}
		c.Addr = get(EnvAddr, defaultAddr(u))
		if _, port, err := net.SplitHostPort(c.Addr); err != nil || port == "" {
			bad(EnvAddr, "a listen address like :3000 or 127.0.0.1:3000", c.Addr)
		}
	}

	duration := func(name string, def time.Duration) time.Duration {
		raw := get(name, "")
		if raw == "" {
			return def
		}
		d, err := time.ParseDuration(raw)
		if err != nil || d <= 0 {
			bad(name, "a positive Go duration like 30m or 12h", raw)
			return def
		}
		return d
	}
	c.SessionIdleTimeout = duration(EnvSessionIdle, 2*time.Hour)
	c.SessionLifetime = duration(EnvSessionLifetime, 24*time.Hour)
	c.HTTPTimeout = duration(EnvHTTPTimeout, 10*time.Second)
	if c.SessionIdleTimeout > c.SessionLifetime {
		bad(EnvSessionIdle, "at most "+EnvSessionLifetime+" ("+c.SessionLifetime.String()+")", c.SessionIdleTimeout.String())
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		bad(EnvLogLevel, "one of debug, info, warn, error", c.LogLevel)
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("configuration: %w", errors.Join(errs...))
	}
	return c, nil
}

// defaultAddr listens on BASE_URL's port (or the scheme's default) on all interfaces, or on loopback only
// when BASE_URL itself is a loopback address, so a development server is not exposed to the network.
func defaultAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if isLoopbackHost(u.Hostname()) {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return ":" + port
}

func isLoopbackHost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// String redacts the client secret so the config can be logged.
func (c Config) String() string {
	secret := "(none: public client)"
	if c.ClientSecret != "" {
		secret = "(set, " + strconv.Itoa(len(c.ClientSecret)) + " chars)"
	}
	return fmt.Sprintf("issuer=%s client_id=%s client_secret=%s scopes=%q base_url=%s addr=%s session_store=%s",
		c.Issuer, c.ClientID, secret, strings.Join(c.Scopes, " "), c.Origin(), c.Addr, c.SessionStore)
}
