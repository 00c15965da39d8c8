package handlers_test

// Attacks on canonicalHost, the redirect of a loopback app opened under another host name to BASE_URL.

import (
	"bufio"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hxoidc/hxoidc/auth"
	"github.com/hxoidc/hxoidc/auth/authtest"
	"github.com/hxoidc/hxoidc/handlers/apptest"
)

// atk2Raw writes one raw HTTP/1.1 request (request line and headers as given) to the app and reads the
// response, so request targets no client library would send (absolute-form, opaque) can be tried.
func atk2Raw(t *testing.T, app *apptest.App, raw string) *http.Response {
	t.Helper()
	u, _ := url.Parse(app.URL)
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the response to %q: %v", raw, err)
	}
	resp.Body.Close()
	return resp
}

// atk2OnApp asserts that a redirect target, resolved as a browser would against the URL the request
// was made to, stays on the app's origin.
func atk2OnApp(t *testing.T, app *apptest.App, what, loc string) {
	t.Helper()
	base, _ := url.Parse(app.URL)
	if strings.ContainsAny(loc, "\r\n\t\\") {
		t.Errorf("%s: Location %q has control characters or a backslash", what, loc)
	}
	u, err := base.Parse(loc)
	if err != nil || u.Scheme != base.Scheme || u.Host != base.Host || u.User != nil {
		t.Errorf("%s: Location %q leads to %v (err %v), not the app's origin %s", what, loc, u, err, app.URL)
	}
}

// TestAttack2CanonicalHostOpenRedirect: the canonical-host redirect is built from the request URI, which
// the attacker controls entirely: a scheme-relative path, encoded slashes and backslashes, an @, and
// absolute-form and opaque request targets sent raw. Every Location stays on BASE_URL's origin.
func TestAttack2CanonicalHostOpenRedirect(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	base, _ := url.Parse(e.app.URL)
	other := "localhost:" + base.Port() // the same app under another loopback name
	for _, path := range []string{
		"//evil.example/x", "///evil.example", "/\\evil.example", "/%2F%2Fevil.example", "/%5C%5Cevil.example",
		"/@evil.example", "/x?next=//evil.example", "/.//evil.example", "/auth/login?return_to=//evil.example",
	} {
		r := atkDo(t, e.app, nil, http.MethodGet, e.app.URL+path, "", "Host", other)
		if r.StatusCode == http.StatusTemporaryRedirect {
			atk2OnApp(t, e.app, "GET "+path+" Host "+other, r.Header.Get("Location"))
		}
	}
	for _, target := range []string{
		"http://evil.example/x", "http://evil.example//evil.example", "https://evil.example/", "http:@evil.example",
		"http:@evil.example/x", "http:evil.example", "http:/evil.example", "http:////evil.example", "*",
	} {
		for _, host := range []string{other, "evil.example", base.Host} {
			raw := "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"
			resp := atk2Raw(t, e.app, raw)
			if loc := resp.Header.Get("Location"); loc != "" {
				atk2OnApp(t, e.app, "GET "+target+" Host "+host, loc)
			} else if resp.StatusCode >= 500 {
				t.Errorf("GET %s Host %s: status %d", target, host, resp.StatusCode)
			}
		}
	}
}

// TestAttack2CanonicalHostLeavesPostsAlone: a POST under the other host name is not redirected (a 307
// would replay the body to BASE_URL) but still goes through the cross-origin check: a sign-out posted
// from another origin is refused, and a sign-out posted under the other name never runs on a session of
// BASE_URL's host (the browser holds none there).
func TestAttack2CanonicalHostLeavesPostsAlone(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	base, _ := url.Parse(e.app.URL)
	other := "localhost:" + base.Port()
	b := e.app.Browser()
	mustSignIn(t, e, b)
	csrf := b.CSRFToken()
	r := atkDo(t, e.app, b, http.MethodPost, "/auth/logout", "csrf_token="+url.QueryEscape(csrf),
		"Host", other, "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site")
	if r.StatusCode == http.StatusTemporaryRedirect || r.StatusCode == http.StatusPermanentRedirect {
		t.Errorf("cross-site POST redirected with %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
	if got := headerName(t, b); got != "Ada Lovelace" {
		t.Errorf("a cross-site sign-out post under another host name signed the person out (header %q)", got)
	}
	// HEAD is redirected like GET, with no body.
	h := atkDo(t, e.app, nil, http.MethodHead, "/profile", "", "Host", other)
	if h.StatusCode != http.StatusTemporaryRedirect || h.Body != "" {
		t.Errorf("HEAD under another host: %d body %q", h.StatusCode, h.Body)
	}
	atk2OnApp(t, e.app, "HEAD", h.Header.Get("Location"))
}

// TestAttack2CanonicalHostDefaultPortLoop: BASE_URL may name the scheme's default port explicitly
// (http://localhost:80). Browsers drop a default port, so they send Host "localhost", which is not
// BASE_URL's host "localhost:80": the app redirects to http://localhost:80/..., which the browser
// requests with Host "localhost" again: an endless redirect loop on every page.
func TestAttack2CanonicalHostDefaultPortLoop(t *testing.T) {
	// Regression test for a fixed bug: (low, dev only): BASE_URL=http://localhost:80 (explicit default port) makes canonicalHost redirect every page to itself forever: r.Host \"localhost\" != BaseURL.Host \"localhost:80\" (handlers/headers.go canonicalHost; normalise the default port away in LoadConfig or compare hostname+effective port)")
	op := authtest.New(t, authtest.Options{ClientSecret: "s3cret"})
	app := apptest.Start(t, apptest.Options{Issuer: op.Issuer(), ClientID: op.ClientID(), ClientSecret: op.ClientSecret(),
		Env: map[string]string{auth.EnvBaseURL: "http://localhost:80"}})
	r := atkDo(t, app, nil, http.MethodGet, app.URL+"/", "", "Host", "localhost")
	if r.StatusCode == http.StatusTemporaryRedirect {
		loc, _ := url.Parse(r.Header.Get("Location"))
		// The Host header a browser sends for loc: the default port is dropped.
		host := loc.Hostname()
		if p := loc.Port(); p != "" && p != map[string]string{"http": "80", "https": "443"}[loc.Scheme] {
			host += ":" + p
		}
		if host == "localhost" {
			t.Errorf("GET / with Host localhost redirects to %s, which a browser requests with Host localhost again: a loop", loc)
		}
	}
}
