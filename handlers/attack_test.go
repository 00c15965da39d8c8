package handlers_test

// The attack tests (attack_*_test.go) play a hostile client, a hostile or confused provider and a racing
// browser against the whole app (handlers/apptest + auth/authtest):
//
//	attack_session_test.go     fixation, the renamed-token window, sign-out / back-channel logout racing
//	                           requests in flight, parallel callbacks and sign-outs, pending-state floods
//	attack_redirect_test.go    open redirects and header injection (return_to, HX-Current-URL, popup, Host)
//	attack_xss_test.go         script injection through claims, error_description, paths; tokens in pages
//	attack_protocol_test.go    login CSRF, code injection, state swaps, token substitution, mix-up (RFC
//	                           9207), refresh, sign-out CSRF, the post-logout state
//	attack_backchannel_test.go token confusion, oversize / cross-site posts, replay, JWKS amplification
//	attack_dos_test.go         huge queries, odd cookies and bodies, odd paths, a hanging provider
//	attack_headers_test.go     caching, CSP and companions, the https cookie, request ids, referrer
//
// A test that passes is a regression test: the app resists. A test that starts with t.Skip("BUG: ...")
// demonstrates a defect that is not fixed yet; remove the Skip to reproduce it.
//
// This file holds their helpers: raw requests with exactly the headers an attacker chooses, cookie
// planting, and the assertions every refused attack must pass.

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hxoidc/hxoidc/handlers/apptest"
)

// atkResp is a finished raw response.
type atkResp struct {
	*http.Response
	Body string
}

// atkDo sends one request with only the headers given (name, value pairs; "Host" sets the Host header),
// through b's cookie jar when b is not nil, without following redirects.
func atkDo(t *testing.T, app *apptest.App, b *apptest.Browser, method, target, body string, hdr ...string) *atkResp {
	t.Helper()
	if strings.HasPrefix(target, "/") {
		target = app.URL + target
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatalf("request %s %s: %v", method, target, err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if http.CanonicalHeaderKey(hdr[i]) == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{Timeout: 60 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	appURL, _ := url.Parse(app.URL)
	spoofedHost := req.Host != ""
	switch {
	case b != nil && spoofedHost:
		// Go's client keys its jar by req.Host: keep the browser's cookies for the app's real origin.
		for _, c := range b.Jar.Cookies(appURL) {
			req.AddCookie(c)
		}
	case b != nil:
		client = b.HTTP
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	if b != nil && spoofedHost {
		b.Jar.SetCookies(appURL, resp.Cookies())
	}
	raw, _ := io.ReadAll(resp.Body)
	return &atkResp{Response: resp, Body: string(raw)}
}

// atkPlantCookie puts a cookie into b's jar for the app, as an attacker who fixes a session would.
func atkPlantCookie(b *apptest.Browser, app *apptest.App, name, value string) {
	u, _ := url.Parse(app.URL)
	b.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// atkCount counts the occurrences of s in the app's log so far.
func atkCount(app *apptest.App, s string) int { return strings.Count(app.Logs.String(), s) }

const atkFailedLine = `msg="request failed"`

// atkRefused asserts a readable HTML error page with the wanted status (0: any 4xx) and the security
// headers, for a browser route.
func atkRefused(t *testing.T, what string, status int, gotStatus int, h http.Header, body string) {
	t.Helper()
	if status == 0 && (gotStatus < 400 || gotStatus >= 500) || status != 0 && gotStatus != status {
		t.Errorf("%s: status %d, want %d (4xx); body %.300s", what, gotStatus, status, body)
	}
	if !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(body, `data-testid="error"`) {
		t.Errorf("%s: not a readable HTML error page: %s %.300s", what, h.Get("Content-Type"), body)
	}
	if h.Get("Content-Security-Policy") == "" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s: error page without the security headers: %v", what, h)
	}
	if h.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: error page with Cache-Control %q, want no-store", what, h.Get("Cache-Control"))
	}
}

// atkSameOrigin asserts that a redirect target (Location or HX-Redirect) stays on the app: a path that no
// browser reads as another host, without control characters.
func atkSameOrigin(t *testing.T, app *apptest.App, what, raw string) {
	t.Helper()
	if raw == "" {
		t.Errorf("%s: no redirect target", what)
		return
	}
	if strings.ContainsAny(raw, "\r\n\t\\ ") {
		t.Errorf("%s: redirect target %q carries whitespace, control characters or a backslash", what, raw)
	}
	if !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") {
		t.Errorf("%s: redirect target %q is not a same-origin path", what, raw)
	}
	base, _ := url.Parse(app.URL)
	u, err := base.Parse(raw)
	if err != nil || u.Host != base.Host || u.Scheme != base.Scheme {
		t.Errorf("%s: redirect target %q resolves to %v (err %v), not to %s", what, raw, u, err, base.Host)
	}
}
