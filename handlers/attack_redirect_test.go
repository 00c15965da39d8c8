package handlers_test

// Open redirects and header injection: return_to, HX-Current-URL, the popup's data-return-to, the Try
// again link, Host / X-Forwarded-* spoofing.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hxoidc/hxoidc/auth/authtest"
)

// Public open-redirect payloads, raw (they are query-escaped when sent).
var atkRedirectPayloads = []string{
	"//evil.example",
	"///evil.example",
	"////evil.example/",
	"/\\evil.example",
	"\\\\evil.example",
	"/\\/evil.example",
	"https://evil.example",
	"http:evil.example",
	"https:/evil.example",
	"//evil.example@app",
	"/%2F%2Fevil.example",
	"/%2f/evil.example",
	"/%5Cevil.example",
	"/%5C%5Cevil.example",
	"/%252F%252Fevil.example",
	"/%25252F%25252Fevil.example",
	"/\t/evil.example",
	"/\n/evil.example",
	"/%09/evil.example",
	"/%0a/evil.example",
	"/%0d%0aSet-Cookie:%20injected=1",
	"/\r\nSet-Cookie: injected=1",
	"/\r\nX-Injected: 1",
	"/ /evil.example",
	"/%20/evil.example",
	"/\u3000/evil.example",
	"/\u2028/evil.example",
	"/\ufeff/evil.example",
	"/\x00/evil.example",
	"javascript:alert(1)",
	"JaVaScRiPt:alert(1)",
	"/javascript:alert(1)",
	"data:text/html,<script>alert(1)</script>",
	"/.//evil.example",
	"/./\\evil.example",
	"/%2e%2e//evil.example",
	"/..//evil.example",
	"/x/../..//evil.example",
	"/#//evil.example",
	"/?//evil.example",
	"/\"><script>alert(1)</script>",
	"/'onmouseover=alert(1)//",
	strings.Repeat("/a", 1500),
	"",
	"evil.example",
	".evil.example",
	"@evil.example",
}

// TestAttackOpenRedirectThroughReturnTo: every payload, through the whole sign-in (full page and popup),
// ends on the app: the callback's Location, the popup page's data-return-to and Continue link, and the
// Try again link of a failed callback.
func TestAttackOpenRedirectThroughReturnTo(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	for _, p := range atkRedirectPayloads {
		b := e.app.Browser()
		login := b.Get("/auth/login?return_to=" + url.QueryEscape(p))
		if login.StatusCode != http.StatusSeeOther || !strings.HasPrefix(login.Location(), e.op.URL()) {
			t.Errorf("%q: login %d %q", p, login.StatusCode, login.Location())
			continue
		}
		if login.Header.Get("Injected") != "" || login.Header.Get("X-Injected") != "" {
			t.Errorf("%q: header injected into the login redirect", p)
		}
		cb, err := e.op.Approve(login.Location())
		if err != nil {
			t.Fatal(err)
		}
		r := b.Get(cb)
		if r.StatusCode != http.StatusSeeOther {
			t.Errorf("%q: callback %d %.200s", p, r.StatusCode, r.Body)
			continue
		}
		atkSameOrigin(t, e.app, "callback for "+strings.ToValidUTF8(p, "?"), r.Header.Get("Location"))
		for _, c := range r.Cookies() {
			if c.Name == "injected" {
				t.Errorf("%q: cookie injected", p)
			}
		}

		// Popup: the last page's data-return-to and its Continue link.
		pop := b.Get("/auth/login?popup=1&return_to=" + url.QueryEscape(p))
		cb, err = e.op.Approve(pop.Location())
		if err != nil {
			t.Fatal(err)
		}
		done := b.Get(cb)
		if done.StatusCode != http.StatusOK || done.TestID("popup-done").Length() != 1 {
			t.Errorf("%q: popup callback %d", p, done.StatusCode)
			continue
		}
		rt, _ := done.TestID("popup-done").Attr("data-return-to")
		atkSameOrigin(t, e.app, "popup data-return-to", rt)
		href, _ := done.TestID("popup-continue").Attr("href")
		atkSameOrigin(t, e.app, "popup continue", href)
	}
}

// TestAttackOpenRedirectThroughTryAgainAndSignInLinks: the links the app writes into pages (Try again,
// Sign in with return_to of the current page) never lead elsewhere, whatever the path or HX-Current-URL.
func TestAttackOpenRedirectThroughTryAgainAndSignInLinks(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	e.op.SetBehavior(func(b *authtest.Behavior) { b.AuthorizeError = "access_denied" })
	for _, p := range atkRedirectPayloads {
		b := e.app.Browser()
		cb, err := e.op.Approve(b.StartSignIn(p))
		if err != nil {
			t.Fatal(err)
		}
		r := b.Get(cb)
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("%q: status %d", p, r.StatusCode)
			continue
		}
		href, _ := r.TestID("try-again").Attr("href")
		u, err := url.Parse(href)
		if err != nil || u.Path != "/auth/login" {
			t.Errorf("%q: Try again %q", p, href)
			continue
		}
		atkSameOrigin(t, e.app, "Try again return_to", u.Query().Get("return_to"))
	}
	// HX-Current-URL is whatever the client says: a protected fragment answers HX-Redirect to sign in,
	// with a return_to that must stay on the app.
	anon := e.app.Browser()
	for _, cur := range []string{
		"https://evil.example//evil.example/x", "https://evil.example/\\evil.example", "//evil.example", "javascript:alert(1)",
		"https://app/%2F%2Fevil.example", "https://app/\t/evil.example", "https://app/%0d%0aX-Injected:1", "not a url at all",
		"https://app/" + strings.Repeat("a", 5000), "https://app/.//evil.example",
	} {
		r := anon.Get("/profile", "HX-Request", "true", "HX-Current-URL", cur)
		if r.StatusCode != http.StatusOK {
			t.Errorf("HX-Current-URL %q: status %d", cur, r.StatusCode)
			continue
		}
		hx := r.Header.Get("HX-Redirect")
		atkSameOrigin(t, e.app, "HX-Redirect", hx)
		u, _ := url.Parse(hx)
		atkSameOrigin(t, e.app, "HX-Redirect return_to for "+cur, u.Query().Get("return_to"))
		if r.Header.Get("X-Injected") != "" {
			t.Errorf("header injected through HX-Current-URL")
		}
	}
	// The 404 page's Sign in link carries the requested path.
	for _, path := range []string{"//evil.example/", "/%2F%2Fevil.example", "/%5Cevil.example", "/x/%0d%0aX-Injected:1"} {
		r := atkDo(t, e.app, nil, http.MethodGet, e.app.URL+path, "")
		if r.StatusCode >= 500 {
			t.Errorf("%s: %d", path, r.StatusCode)
		}
		if r.Header.Get("X-Injected") != "" {
			t.Errorf("%s: header injected", path)
		}
		if loc := r.Header.Get("Location"); loc != "" {
			atkSameOrigin(t, e.app, "404 redirect", loc)
		}
	}
}

// TestAttackHostHeaderSpoofing: a forged Host or X-Forwarded-Host never reaches a URL the app builds
// (redirect URI, post-logout URL, Location).
func TestAttackHostHeaderSpoofing(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	// A foreign Host on a loopback app is sent to BASE_URL (canonicalHost), never to the spoofed host.
	r := atkDo(t, e.app, b, http.MethodGet, "/auth/login?return_to=/x", "", "Host", "evil.example")
	if r.StatusCode != http.StatusTemporaryRedirect || r.Header.Get("Location") != e.app.URL+"/auth/login?return_to=/x" {
		t.Fatalf("login with a spoofed Host: %d to %q, want 307 to the app's own origin", r.StatusCode, r.Header.Get("Location"))
	}
	spoof := []string{"X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https", "Forwarded", "host=evil.example;proto=https"}
	r = atkDo(t, e.app, b, http.MethodGet, "/auth/login?return_to=/x", "", spoof...)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("login with a spoofed Host: %d", r.StatusCode)
	}
	loc, _ := url.Parse(r.Header.Get("Location"))
	if got := loc.Query().Get("redirect_uri"); got != e.app.URL+"/auth/callback" {
		t.Errorf("redirect_uri %q built from a spoofed Host", got)
	}
	cb, err := e.op.Approve(r.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	r = atkDo(t, e.app, b, http.MethodGet, cb, "", spoof...)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback with a spoofed Host: %d %.300s", r.StatusCode, r.Body)
	}
	atkSameOrigin(t, e.app, "callback", r.Header.Get("Location"))
	if got := headerName(t, b); got != "Ada Lovelace" {
		t.Fatalf("not signed in after a callback with a spoofed Host: %q", got)
	}
	form := url.Values{"csrf_token": {b.CSRFToken()}}.Encode()
	r = atkDo(t, e.app, b, http.MethodPost, "/auth/logout", form,
		"Origin", e.app.URL, "Sec-Fetch-Site", "same-origin", "X-Forwarded-Host", "evil.example", "Forwarded", "host=evil.example")
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d %.300s", r.StatusCode, r.Body)
	}
	end, _ := url.Parse(r.Header.Get("Location"))
	if got := end.Query().Get("post_logout_redirect_uri"); got != e.app.URL+"/" {
		t.Errorf("post_logout_redirect_uri %q", got)
	}
}

// TestAttackHTMXHeaderSpoofing: htmx headers on a navigation change only the shape of the answer, never
// where it leads or who is signed in.
func TestAttackHTMXHeaderSpoofing(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	cb, err := e.op.Approve(b.StartSignIn("//evil.example"))
	if err != nil {
		t.Fatal(err)
	}
	r := b.Get(cb, "HX-Request", "true", "HX-Current-URL", "https://evil.example/", "HX-Request-Type", "partial")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("htmx callback: %d", r.StatusCode)
	}
	atkSameOrigin(t, e.app, "HX-Redirect of the callback", r.Header.Get("HX-Redirect"))
	if got := headerName(t, b); got != "Ada Lovelace" {
		t.Errorf("header %q", got)
	}
	// A spoofed history-restore or body-targeting request of a private page is still no-store.
	for _, h := range [][]string{{"HX-Request", "true", "HX-History-Restore-Request", "true"}, {"HX-Request", "true", "HX-Request-Type", "full"}, {"HX-Request", "false"}, {"HX-Request", "TRUE"}} {
		p := b.Get("/profile", h...)
		if p.StatusCode != http.StatusOK || p.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%v: status %d Cache-Control %q", h, p.StatusCode, p.Header.Get("Cache-Control"))
		}
	}
}
