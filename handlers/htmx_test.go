package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hxoidc/hxoidc/auth/authtest"
)

// TestHTMXBehaviour asserts, through the whole stack, how each route answers htmx and plain requests.
func TestHTMXBehaviour(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	anon := e.app.Browser()
	signedIn := e.app.Browser()
	mustSignIn(t, e, signedIn)
	page := e.app.URL + "/some/page?x=1"

	for _, tc := range []struct {
		name       string
		browser    *struct{ signedIn bool }
		path       string
		headers    []string
		signedIn   bool
		status     int
		hxRedirect string // expected HX-Redirect ("" = none)
		location   string // expected Location ("" = none)
		fullPage   bool   // an <html> document, not a fragment
		testID     string // an element that must be present
		vary       bool   // Vary: HX-Request
	}{
		{name: "protected page, plain", path: "/profile", status: 303, location: "/auth/login?return_to=%2Fprofile"},
		{name: "protected page, htmx: HX-Redirect to sign in and back to the page it came from", path: "/profile",
			headers: []string{"HX-Request", "true", "HX-Current-URL", page}, status: 200, hxRedirect: "/auth/login?return_to=%2Fsome%2Fpage%3Fx%3D1"},
		{name: "protected page, htmx from a foreign HX-Current-URL", path: "/profile",
			headers: []string{"HX-Request", "true", "HX-Current-URL", "https://evil.example/x"}, status: 200, hxRedirect: "/auth/login?return_to=%2Fx"},
		{name: "login via htmx: navigate, never a 302 that fetch would follow to the provider", path: "/auth/login?return_to=/a",
			headers: []string{"HX-Request", "true"}, status: 200, hxRedirect: "/auth/login?return_to=%2Fa"},
		{name: "login, plain: 303 to the provider", path: "/auth/login?return_to=/a", status: 303, location: e.op.URL() + "/authorize"},
		{name: "home, plain", path: "/", status: 200, fullPage: true, testID: "site-header", vary: true},
		{name: "home, htmx: fragment", path: "/", headers: []string{"HX-Request", "true"}, status: 200, testID: "home-content", vary: true},
		{name: "home, history restore: full page", path: "/", headers: []string{"HX-Request", "true", "HX-History-Restore-Request", "true"}, status: 200, fullPage: true, testID: "site-header", vary: true},
		{name: "home, htmx targeting body: full page", path: "/", headers: []string{"HX-Request", "true", "HX-Request-Type", "full"}, status: 200, fullPage: true, vary: true},
		{name: "profile signed in, htmx: the card alone", path: "/profile", signedIn: true, headers: []string{"HX-Request", "true"}, status: 200, testID: "profile-card", vary: true},
		{name: "profile signed in, history restore", path: "/profile", signedIn: true, headers: []string{"HX-Request", "true", "HX-History-Restore-Request", "true"}, status: 200, fullPage: true, testID: "profile-card", vary: true},
		{name: "header fragment", path: "/fragments/header", headers: []string{"HX-Request", "true"}, status: 200, testID: "site-header"},
		{name: "home fragment", path: "/fragments/home", headers: []string{"HX-Request", "true"}, status: 200, testID: "home-content"},
		{name: "404, plain", path: "/nope", status: 404, fullPage: true, testID: "error"},
		{name: "404, htmx: error panel retargeted to #flash", path: "/nope", headers: []string{"HX-Request", "true"}, status: 404, testID: "error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := anon
			if tc.signedIn {
				b = signedIn
			}
			r := b.Get(tc.path, tc.headers...)
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %.300s", r.StatusCode, tc.status, r.Body)
			}
			if got := r.Header.Get("HX-Redirect"); got != tc.hxRedirect {
				t.Errorf("HX-Redirect %q, want %q", got, tc.hxRedirect)
			}
			if loc := r.Header.Get("Location"); (tc.location == "") != (loc == "") || !strings.HasPrefix(loc, tc.location) {
				t.Errorf("Location %q, want prefix %q", loc, tc.location)
			}
			if full := strings.Contains(r.Body, "<html"); tc.status == 200 && tc.hxRedirect == "" && full != tc.fullPage {
				t.Errorf("full page = %t, want %t", full, tc.fullPage)
			}
			if tc.testID != "" && r.TestID(tc.testID).Length() == 0 {
				t.Errorf("no [data-testid=%s] in %.300s", tc.testID, r.Body)
			}
			if tc.vary && !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "HX-Request") {
				t.Errorf("Vary %q lacks HX-Request", r.Header.Values("Vary"))
			}
			if r.Header.Get("Content-Type") == "text/html; charset=UTF-8" && r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("session-aware HTML with Cache-Control %q, want no-store", r.Header.Get("Cache-Control"))
			}
			if strings.Contains(tc.name, "retargeted") && (r.Header.Get("HX-Retarget") != "#flash" || r.Header.Get("HX-Reswap") != "innerHTML") {
				t.Errorf("htmx error not retargeted: HX-Retarget %q HX-Reswap %q", r.Header.Get("HX-Retarget"), r.Header.Get("HX-Reswap"))
			}
		})
	}
}

func TestSecurityHeadersAndCookie(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	for _, path := range []string{"/", "/fragments/header", "/nope", "/auth/callback?state=x&code=y"} {
		r := b.Get(path)
		csp := r.Header.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'", "form-action 'self' " + e.op.URL()} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows unsafe-*: %q", path, csp)
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("Referrer-Policy") == "" {
			t.Errorf("%s: nosniff %q referrer-policy %q", path, r.Header.Get("X-Content-Type-Options"), r.Header.Get("Referrer-Policy"))
		}
	}
	mustSignIn(t, e, b)
	r := b.Get("/")
	_ = r
	// The cookie attributes as sent: read the raw Set-Cookie of the sign-in callback.
	cb, _ := e.op.Approve(b.StartSignIn("/"))
	resp := b.Get(cb)
	setCookie := strings.Join(resp.Header.Values("Set-Cookie"), "\n")
	for _, want := range []string{"hxoidc_session=", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(setCookie, want) {
			t.Errorf("Set-Cookie %q lacks %q", setCookie, want)
		}
	}
	if strings.Contains(setCookie, "Secure") {
		t.Errorf("Secure cookie over plain http would be dropped by the browser: %q", setCookie)
	}
}

func TestLogout(t *testing.T) {
	t.Run("cross-site POST signs no one out", func(t *testing.T) {
		e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
		b := e.app.Browser()
		mustSignIn(t, e, b)
		token := b.CSRFToken()
		r := b.Post("/auth/logout", url.Values{"csrf_token": {token}}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site logout: status %d, want 403", r.StatusCode)
		}
		if got := headerName(t, b); got != "Ada Lovelace" {
			t.Errorf("cross-site POST signed the user out")
		}
	})
	t.Run("missing or wrong CSRF token", func(t *testing.T) {
		e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
		b := e.app.Browser()
		mustSignIn(t, e, b)
		for _, tok := range []string{"", "wrong", strings.Repeat("A", 43)} {
			r := b.Post("/auth/logout", url.Values{"csrf_token": {tok}})
			if r.StatusCode != http.StatusForbidden || r.TestID("error").Length() != 1 {
				t.Errorf("token %q: status %d, want 403 page", tok, r.StatusCode)
			}
		}
		if got := headerName(t, b); got != "Ada Lovelace" {
			t.Errorf("a refused logout signed the user out")
		}
		if !strings.Contains(e.app.Logs.String(), "CSRF") {
			t.Errorf("no log line with the reason")
		}
	})
	t.Run("htmx gets HX-Redirect to the provider", func(t *testing.T) {
		e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
		b := e.app.Browser()
		mustSignIn(t, e, b)
		r := b.Post("/auth/logout", url.Values{"csrf_token": {b.CSRFToken()}}, "HX-Request", "true")
		if r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Header.Get("HX-Redirect"), e.op.URL()) || r.Header.Get("Location") != "" {
			t.Errorf("htmx logout: status %d HX-Redirect %q Location %q", r.StatusCode, r.Header.Get("HX-Redirect"), r.Header.Get("Location"))
		}
		if r.Header.Get("HX-Trigger") != "auth-changed" {
			t.Errorf("HX-Trigger %q, want auth-changed", r.Header.Get("HX-Trigger"))
		}
	})
	t.Run("provider without end-session endpoint: local sign-out and a warning", func(t *testing.T) {
		e := newEnv(t, authtest.Options{ClientSecret: "s3cret", NoEndSession: true})
		b := e.app.Browser()
		mustSignIn(t, e, b)
		r := b.Post("/auth/logout", url.Values{"csrf_token": {b.CSRFToken()}})
		if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Location(), e.app.URL+"/auth/signed-out?state=") {
			t.Fatalf("logout: %d %q", r.StatusCode, r.Location())
		}
		page := b.Get(r.Location())
		if page.TestID("provider-session-warning").Length() != 1 {
			t.Errorf("no provider-session warning: %.500s", page.Body)
		}
		if headerName(t, b) != "" {
			t.Errorf("still signed in")
		}
	})
	t.Run("popup sign-out ends in the popup page", func(t *testing.T) {
		e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
		b := e.app.Browser()
		mustSignIn(t, e, b)
		r := b.Post("/auth/logout", url.Values{"csrf_token": {b.CSRFToken()}, "popup": {"1"}})
		q := mustParse(t, r.Location()).Query()
		back := b.Get("/?state=" + url.QueryEscape(q.Get("state")))
		if ev, _ := back.Doc.Find("body").Attr("data-auth-event"); ev != "signed-out" {
			t.Errorf("popup return: data-auth-event %q, want signed-out; %.300s", ev, back.Body)
		}
		// The state works once.
		if again := b.Get("/?state=" + url.QueryEscape(q.Get("state"))); again.TestID("flash-message").Length() != 0 {
			t.Errorf("logout state accepted twice")
		}
	})
	t.Run("signed out already: logout is a harmless redirect home", func(t *testing.T) {
		e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
		r := e.app.Browser().Post("/auth/logout", url.Values{})
		if r.StatusCode != http.StatusSeeOther || r.Location() != e.app.URL+"/" {
			t.Errorf("status %d location %q", r.StatusCode, r.Location())
		}
	})
}

func TestPopupSignIn(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	r := b.Get("/auth/login?return_to=/page&popup=1")
	cb, err := e.op.Approve(r.Location())
	if err != nil {
		t.Fatal(err)
	}
	done := b.Get(cb)
	body := done.Doc.Find("body")
	if ev, _ := body.Attr("data-auth-event"); done.StatusCode != 200 || ev != "signed-in" {
		t.Fatalf("popup callback: status %d data-auth-event %q", done.StatusCode, ev)
	}
	if rt, _ := body.Attr("data-return-to"); rt != "/page" {
		t.Errorf("data-return-to %q", rt)
	}
	if headerName(t, b) != "Ada Lovelace" {
		t.Errorf("not signed in after the popup flow")
	}
}

func TestNotFoundKeepsTheSession(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	mustSignIn(t, e, b)
	r := b.Get("/no/such/page")
	if r.StatusCode != http.StatusNotFound || strings.TrimSpace(r.TestID("user-name").Text()) != "Ada Lovelace" {
		t.Errorf("404 page: status %d, header name %q", r.StatusCode, r.TestID("user-name").Text())
	}
	big := url.Values{"csrf_token": {strings.Repeat("x", 100_000)}}
	if r := b.Post("/auth/logout", big); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized form: status %d, want 413", r.StatusCode)
	}
	if headerName(t, b) != "Ada Lovelace" {
		t.Errorf("an oversized request harmed the session")
	}
}

// TestCanonicalHost: a loopback app opened under another name is sent to BASE_URL, where its cookie lives.
func TestCanonicalHost(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	u := mustParse(t, e.app.URL)
	other := "localhost:" + u.Port()
	req, _ := http.NewRequest(http.MethodGet, e.app.URL+"/profile?tab=1", nil)
	req.Host = other
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != e.app.URL+"/profile?tab=1" {
		t.Errorf("GET under %s: %d to %q", other, resp.StatusCode, resp.Header.Get("Location"))
	}
	// Health checks answer under any name (load balancers probe by IP).
	req, _ = http.NewRequest(http.MethodGet, e.app.URL+"/healthz", nil)
	req.Host = other
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("healthz under another name: %v %v", err, resp.Status)
	}
}

func TestLoginNeverReturnsToAnAuthRoute(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	for _, rt := range []string{"/auth/login?return_to=/x", "/auth/logout", "/auth/callback?code=x"} {
		r := b.Get("/auth/login?return_to=" + url.QueryEscape(rt))
		cb, err := e.op.Approve(r.Location())
		if err != nil {
			t.Fatal(err)
		}
		if got := b.Get(cb).Location(); got != e.app.URL+"/" {
			t.Errorf("return_to %q: came back to %q, want /", rt, got)
		}
	}
}
