package auth

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfigDefaults(t *testing.T) {
	c, err := LoadConfig(env(map[string]string{EnvIssuer: "https://api.asgardeo.io/t/acme/oauth2/token", EnvClientID: "abc"}))
	if err != nil {
		t.Fatal(err)
	}
	for name, pair := range map[string][2]string{
		"scopes":      {strings.Join(c.Scopes, " "), "openid profile email"},
		"redirect":    {c.RedirectURL, "http://localhost:3000/auth/callback"},
		"post logout": {c.PostLogoutRedirectURL, "http://localhost:3000/"},
		"addr":        {c.Addr, "127.0.0.1:3000"},
		"store":       {c.SessionStore, DefaultSessionStore},
	} {
		if pair[0] != pair[1] {
			t.Errorf("%s = %q, want %q", name, pair[0], pair[1])
		}
	}
	if c.Secure() || c.SessionIdleTimeout != 2*time.Hour || c.SessionLifetime != 24*time.Hour {
		t.Errorf("secure %t idle %s lifetime %s", c.Secure(), c.SessionIdleTimeout, c.SessionLifetime)
	}
	if strings.Contains(c.String(), "secret") && c.ClientSecret != "" {
		t.Errorf("String leaks the secret")
	}
}

func TestLoadConfigProduction(t *testing.T) {
	c, err := LoadConfig(env(map[string]string{EnvIssuer: "https://idp.example", EnvClientID: "abc", EnvClientSecret: "top-secret",
		EnvBaseURL: "https://app.example", EnvScopes: "openid,email", EnvSessionStore: "memory", EnvSessionIdle: "30m", EnvSessionLifetime: "8h"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":443" || !c.Secure() || c.RedirectURL != "https://app.example/auth/callback" || strings.Join(c.Scopes, " ") != "openid email" {
		t.Errorf("addr %q secure %t redirect %q scopes %v", c.Addr, c.Secure(), c.RedirectURL, c.Scopes)
	}
	if strings.Contains(c.String(), "top-secret") {
		t.Errorf("String() leaks the client secret: %s", c)
	}
	s := NewSessions(c, nil)
	if s.CookieName() != "__Host-hxoidc_session" || !s.Manager.Cookie.Secure || s.Manager.Cookie.SameSite != http.SameSiteLaxMode || !s.Manager.Cookie.HttpOnly || s.Manager.Cookie.Path != "/" || s.Manager.Cookie.Domain != "" {
		t.Errorf("https cookie: %+v", s.Manager.Cookie)
	}
}

func TestLoadConfigErrorsNameVariableExpectedAndFound(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"nothing set", map[string]string{}, []string{"OIDC_ISSUER", "OIDC_CLIENT_ID", "go tool task dev"}},
		{"relative issuer", map[string]string{EnvIssuer: "api.asgardeo.io/t/acme", EnvClientID: "x"}, []string{"OIDC_ISSUER", `"api.asgardeo.io/t/acme"`, "absolute"}},
		{"http issuer off localhost", map[string]string{EnvIssuer: "http://idp.example", EnvClientID: "x"}, []string{"OIDC_ISSUER", "https"}},
		{"scopes without openid", map[string]string{EnvIssuer: "https://i.example", EnvClientID: "x", EnvScopes: "profile"}, []string{"OIDC_SCOPES", "openid", `"profile"`}},
		{"base url with path", map[string]string{EnvIssuer: "https://i.example", EnvClientID: "x", EnvBaseURL: "https://a.example/app"}, []string{"BASE_URL", "no path"}},
		{"http base url off localhost", map[string]string{EnvIssuer: "https://i.example", EnvClientID: "x", EnvBaseURL: "http://a.example"}, []string{"BASE_URL", "https"}},
		{"bad duration", map[string]string{EnvIssuer: "https://i.example", EnvClientID: "x", EnvSessionIdle: "soon"}, []string{"SESSION_IDLE_TIMEOUT", `"soon"`, "duration"}},
		{"idle beyond lifetime", map[string]string{EnvIssuer: "https://i.example", EnvClientID: "x", EnvSessionIdle: "48h"}, []string{"SESSION_IDLE_TIMEOUT", "SESSION_LIFETIME"}},
		{"bad addr", map[string]string{EnvIssuer: "https://i.example", EnvClientID: "x", EnvAddr: "3000"}, []string{"ADDR", `"3000"`}},
		{"bad post logout", map[string]string{EnvIssuer: "https://i.example", EnvClientID: "x", EnvPostLogout: "/signed-out"}, []string{"OIDC_POST_LOGOUT_REDIRECT_URL", "absolute"}},
		{"bad log level", map[string]string{EnvIssuer: "https://i.example", EnvClientID: "x", EnvLogLevel: "loud"}, []string{"LOG_LEVEL", `"loud"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(env(tc.env))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
