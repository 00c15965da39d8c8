package handlers_test

// Response headers an attacker relies on the absence of: caching of private pages, CSP and its
// companions on every response (error pages included), the cookie over https, the request id.

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hxoidc/hxoidc/auth"
	"github.com/hxoidc/hxoidc/auth/authtest"
	"github.com/hxoidc/hxoidc/handlers/apptest"
)

func atkCSPComplete(t *testing.T, what string, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", what, csp, want)
		}
	}
	for _, tok := range strings.Fields(strings.ReplaceAll(csp, ";", " ")) {
		switch strings.Trim(tok, "'") {
		case "unsafe-inline", "unsafe-eval", "unsafe-hashes", "strict-dynamic", "*", "http:", "blob:", "filesystem:":
			t.Errorf("%s: CSP %q allows %s", what, csp, tok)
		}
	}
	if h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
		t.Errorf("%s: XFO %q nosniff %q Referrer-Policy %q", what, h.Get("X-Frame-Options"), h.Get("X-Content-Type-Options"), h.Get("Referrer-Policy"))
	}
}

// TestAttackPrivateResponsesAreNotCached: everything that depends on the session, including redirects,
// fragments, the popup's last page and error pages, is no-store and varies on the cookie.
func TestAttackPrivateResponsesAreNotCached(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	mustSignIn(t, e, b)
	check := func(what string, r *apptest.Response) {
		t.Helper()
		if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", what, cc)
		}
		if r.StatusCode == http.StatusOK && !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "Cookie") {
			t.Errorf("%s: Vary %q lacks Cookie", what, r.Header.Values("Vary"))
		}
		atkCSPComplete(t, what, r.Header)
	}
	for _, p := range []string{"/", "/profile", "/fragments/header", "/fragments/home", "/auth/signed-out", "/nope"} {
		check(p, b.Get(p))
		check(p+" (htmx)", b.Get(p, "HX-Request", "true"))
	}
	check("login", b.Get("/auth/login?return_to=/"))
	cb, _ := e.op.Approve(b.StartSignIn("/"))
	check("callback", b.Get(cb))
	pop := b.Get("/auth/login?popup=1&return_to=/")
	cb, _ = e.op.Approve(pop.Location())
	check("popup callback", b.Get(cb))
	check("bad callback", b.Get("/auth/callback?state=x&code=y"))
	check("logout", b.Post("/auth/logout", url.Values{"csrf_token": {b.CSRFToken()}}))
}

// TestAttackHTTPSCookieAndHSTS: over https the cookie is __Host- prefixed, Secure, HttpOnly, Lax, Path=/,
// without Domain, and HSTS is sent.
func TestAttackHTTPSCookieAndHSTS(t *testing.T) {
	op := authtest.New(t, authtest.Options{ClientSecret: "s3cret"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := apptest.Start(t, apptest.Options{Issuer: op.Issuer(), ClientID: op.ClientID(), ClientSecret: op.ClientSecret(), Listener: ln,
		Env: map[string]string{auth.EnvBaseURL: "https://" + ln.Addr().String()}})
	r := atkDo(t, app, nil, http.MethodGet, "http://"+ln.Addr().String()+"/auth/login?return_to=/", "")
	sc := strings.Join(r.Header.Values("Set-Cookie"), "\n")
	for _, want := range []string{"__Host-hxoidc_session=", "Secure", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %q", sc, want)
		}
	}
	if strings.Contains(strings.ToLower(sc), "domain=") {
		t.Errorf("Set-Cookie %q has a Domain", sc)
	}
	if hsts := r.Header.Get("Strict-Transport-Security"); !strings.Contains(hsts, "max-age=") {
		t.Errorf("no HSTS: %q", hsts)
	}
	loc, _ := url.Parse(r.Header.Get("Location"))
	if got := loc.Query().Get("redirect_uri"); got != "https://"+ln.Addr().String()+"/auth/callback" {
		t.Errorf("redirect_uri %q", got)
	}
}

// TestAttackCSPOnEveryResponse: the security headers are on every response, whatever its type or status.
func TestAttackCSPOnEveryResponse(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/healthz", ""}, {"GET", "/readyz", ""}, {"POST", "/auth/backchannel-logout", "logout_token=x"},
		{"GET", "/auth/backchannel-logout", ""}, {"POST", "/auth/login", ""}, {"POST", "/auth/callback", "code=x&state=y"},
		{"GET", "/assets/nope.js", ""}, {"OPTIONS", "/", ""},
	} {
		r := atkDo(t, e.app, nil, tc.method, tc.path, tc.body)
		if r.StatusCode >= 500 {
			t.Errorf("%s %s: %d", tc.method, tc.path, r.StatusCode)
		}
		atkCSPComplete(t, tc.method+" "+tc.path, r.Header)
	}
}

// TestAttackErrorPageOfOversizeBodyHasSecurityHeaders: the 413 page (body over 64 KiB) is an HTML page
// like any other and must carry the CSP, X-Frame-Options and nosniff.
func TestAttackErrorPageOfOversizeBodyHasSecurityHeaders(t *testing.T) {
	// Regression test for a fixed bug: middleware.BodyLimit runs before s.securityHeaders (handlers/server.go NewServer), so the 413 HTML error page has no Content-Security-Policy, X-Frame-Options or nosniff
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	r := atkDo(t, e.app, nil, http.MethodPost, "/auth/logout", "x="+strings.Repeat("A", 100<<10), "Origin", e.app.URL)
	if r.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(r.Body, `data-testid="error"`) {
		t.Fatalf("status %d", r.StatusCode)
	}
	atkCSPComplete(t, "413 page", r.Header)
}

// TestAttackRequestIDIsNotClientControlled: the request id on the error page, in X-Request-Id and in the
// log is the server's own: a client cannot choose it (to forge log correlation or stuff the log line).
func TestAttackRequestIDIsNotClientControlled(t *testing.T) {
	// Regression test for a fixed bug: Echo's RequestID middleware (handlers/server.go) adopts the client's X-Request-ID verbatim (any length/content): it is echoed on error pages and logged as request_id
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	forged := "forged-" + strings.Repeat("R", 4000)
	r := atkDo(t, e.app, nil, http.MethodGet, "/nope", "", "X-Request-ID", forged)
	if strings.Contains(r.Body, forged) || r.Header.Get("X-Request-Id") == forged || strings.Contains(e.app.Logs.String(), "request_id="+forged) {
		t.Errorf("the client's X-Request-ID was adopted (page %t, header %t, log %t)",
			strings.Contains(r.Body, forged), r.Header.Get("X-Request-Id") == forged, strings.Contains(e.app.Logs.String(), "request_id="+forged))
	}
}

// TestAttackReferrerPolicyNotWeakenedByMeta: the pages must not weaken the Referrer-Policy header
// (same-origin) with a <meta name="referrer">, which browsers apply on top of it.
func TestAttackReferrerPolicyNotWeakenedByMeta(t *testing.T) {
	// Regression test for a fixed bug: views/layout.templ head() has <meta name=\"referrer\" content=\"strict-origin-when-cross-origin\">, which overrides the header's Referrer-Policy: same-origin, so cross-origin requests from every page (and the popup page at /auth/callback) carry the app's origin
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	r := e.app.Browser().Get("/")
	if r.Header.Get("Referrer-Policy") != "same-origin" {
		t.Fatalf("Referrer-Policy %q", r.Header.Get("Referrer-Policy"))
	}
	if meta, ok := r.Doc.Find(`meta[name="referrer"]`).Attr("content"); ok && meta != "same-origin" && meta != "no-referrer" {
		t.Errorf("<meta name=referrer content=%q> overrides the header's same-origin policy", meta)
	}
}
