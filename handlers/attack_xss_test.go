package handlers_test

// Script injection through everything the provider or the URL controls: claims (name, email, picture,
// any claim name or value on /profile), userinfo, error and error_description, the request path.

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/hxoidc/hxoidc/auth/authtest"
	"github.com/hxoidc/hxoidc/handlers/apptest"
)

const atkMarker = "xss-marker-1337"

// atkNoInjectedMarkup fails when the marker appears as markup the attacker built: an element, an event
// handler attribute or a javascript:/data: URL.
func atkNoInjectedMarkup(t *testing.T, what string, r *apptest.Response) {
	t.Helper()
	if r.Doc == nil {
		t.Fatalf("%s: no document", what)
	}
	r.Doc.Find("*").Each(func(_ int, s *goquery.Selection) {
		node := s.Get(0)
		if strings.Contains(goquery.NodeName(s), "xss") || node.Data == "script" && strings.Contains(s.Text(), atkMarker) {
			t.Errorf("%s: injected element <%s>", what, node.Data)
		}
		for _, a := range node.Attr {
			k := strings.ToLower(a.Key)
			if strings.HasPrefix(k, "on") || strings.Contains(k, "xss") {
				t.Errorf("%s: injected attribute %s=%q on <%s>", what, a.Key, a.Val, node.Data)
			}
			v := strings.ToLower(strings.TrimSpace(a.Val))
			if (k == "src" || k == "href" || k == "action" || k == "formaction" || k == "data-return-to") &&
				(strings.HasPrefix(v, "javascript:") || strings.HasPrefix(v, "data:") || strings.HasPrefix(v, "vbscript:")) {
				t.Errorf("%s: %s=%q on <%s>", what, a.Key, a.Val, node.Data)
			}
		}
	})
	for _, raw := range []string{"<script>alert('" + atkMarker, "<img src=x onerror=" + atkMarker, "<svg onload=" + atkMarker, `"><b id=` + atkMarker} {
		if strings.Contains(r.Body, raw) {
			t.Errorf("%s: unescaped payload %q in the body", what, raw)
		}
	}
}

func TestAttackXSSThroughClaims(t *testing.T) {
	for _, tc := range []struct {
		name     string
		userinfo bool // deliver the payloads through userinfo rather than the ID token
	}{{"ID token claims", false}, {"userinfo claims", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
			payload := map[string]any{
				"name":                           "<script>alert('" + atkMarker + "')</script>",
				"preferred_username":             `"><b id=` + atkMarker + `>`,
				"email":                          `"><img src=x onerror=` + atkMarker + `>@example.test`,
				"picture":                        "javascript:alert('" + atkMarker + "')",
				"<svg onload=" + atkMarker + ">": "<svg onload=" + atkMarker + ">",
				`x" onmouseover="` + atkMarker:   `" onfocus="` + atkMarker + `" autofocus x="`,
				"website":                        map[string]any{"<img src=x onerror=" + atkMarker + ">": []any{"<svg onload=" + atkMarker + ">"}},
			}
			if tc.userinfo {
				e.op.SetBehavior(func(b *authtest.Behavior) {
					b.UserinfoClaims = func(c map[string]any) {
						for k, v := range payload {
							c[k] = v
						}
					}
				})
			} else {
				u := authtest.DefaultUser()
				for k, v := range payload {
					u[k] = v
				}
				e.op.SetUser(u)
			}
			b := e.app.Browser()
			mustSignIn(t, e, b)
			for _, path := range []string{"/", "/profile", "/fragments/header", "/fragments/home", "/nope", "/auth/signed-out"} {
				r := b.Get(path)
				if r.StatusCode >= 500 {
					t.Errorf("%s: %d", path, r.StatusCode)
				}
				atkNoInjectedMarkup(t, path, r)
				if img := r.TestID("avatar"); img.Length() > 0 {
					t.Errorf("%s: a javascript: picture became an <img>: %v", path, img.AttrOr("src", ""))
				}
			}
			p := b.Get("/profile", "HX-Request", "true")
			atkNoInjectedMarkup(t, "/profile fragment", p)
			if got := p.TestID("profile-name").Text(); got != payload["name"] {
				t.Errorf("the name is shown as %q, want the literal text %q", got, payload["name"])
			}
		})
	}
}

// TestAttackPictureURLs: only https pictures become an <img>, and an attribute break-out is impossible.
func TestAttackPictureURLs(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	for _, tc := range []struct {
		picture string
		img     bool
	}{
		{"javascript:alert(1)", false},
		{"JAVASCRIPT:alert(1)", false},
		{" javascript:alert(1)", false},
		{"data:image/svg+xml,<svg onload=alert(1)>", false},
		{"//evil.example/x.png", false},
		{"http://evil.example/x.png", false},
		{"vbscript:x", false},
		{"https://evil.example/x.png\" onerror=\"alert(1)", true},
		{"https://evil.example/a.png", true},
	} {
		u := authtest.DefaultUser()
		u["picture"] = tc.picture
		e.op.SetUser(u)
		b := e.app.Browser()
		mustSignIn(t, e, b)
		r := b.Get("/fragments/header", "HX-Request", "true")
		img := r.TestID("avatar")
		if (img.Length() > 0) != tc.img {
			t.Errorf("picture %q: <img> present = %t, want %t", tc.picture, img.Length() > 0, tc.img)
		}
		if src, ok := img.Attr("src"); ok && !strings.HasPrefix(src, "https://") {
			t.Errorf("picture %q: src %q", tc.picture, src)
		}
		if _, ok := img.Attr("onerror"); ok {
			t.Errorf("picture %q broke out of src", tc.picture)
		}
	}
}

// TestAttackXSSAndLogForgingThroughErrorDescription: the provider's (or an attacker's) error and
// error_description never reach the page, and reach the log as one line.
func TestAttackXSSAndLogForgingThroughErrorDescription(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	mustSignIn(t, e, b)
	authURL := b.StartSignIn("/")
	state := mustParse(t, authURL).Query().Get("state")
	forged := "\n" + `time=2020-01-01T00:00:00Z level=INFO msg="signed in" sub=admin` + "\r\n"
	for i, q := range []url.Values{
		{"error": {"<script>alert('" + atkMarker + "')</script>"}, "error_description": {"<img src=x onerror=" + atkMarker + ">" + forged}, "state": {state}},
		{"error": {"access_denied" + forged}, "error_description": {strings.Repeat("\u202e<svg onload="+atkMarker+">", 2000)}, "state": {"forged"}},
		{"error": {"invalid_request"}, "error_description": {forged}, "error_uri": {"javascript:alert(1)"}},
	} {
		before := atkCount(e.app, atkFailedLine)
		r := b.Get("/auth/callback?" + q.Encode())
		want := 0 // a 4xx; "invalid_request" is the app's own misconfiguration: 502
		if i == 2 {
			want = http.StatusBadGateway
		}
		atkRefused(t, "error response", want, r.StatusCode, r.Header, r.Body)
		atkNoInjectedMarkup(t, "error page", r)
		if strings.Contains(r.Body, atkMarker) {
			t.Errorf("%d: the provider's error text is reflected in the page", i)
		}
		if n := atkCount(e.app, atkFailedLine) - before; n != 1 {
			t.Errorf("%d: %d 'request failed' lines, want 1", i, n)
		}
	}
	if logs := e.app.Logs.String(); strings.Contains(logs, "\ntime=2020-01-01") || strings.Contains(logs, "\rtime=2020-01-01") {
		t.Errorf("a forged log line was written:\n%s", e.app.Logs.String())
	}
	if got := headerName(t, b); got != "Ada Lovelace" {
		t.Errorf("session harmed: %q", got)
	}
}

// TestAttackXSSThroughPath: the request path and query are reflected only escaped (404 page, sign-in
// links carrying return_to).
func TestAttackXSSThroughPath(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	for _, p := range []string{
		"/%3Cscript%3Ealert('" + atkMarker + "')%3C/script%3E",
		"/x?%22%3E%3Cimg%20src=x%20onerror=" + atkMarker + "%3E",
		"/x?q=%22%3E%3Csvg%20onload=" + atkMarker + "%3E",
		"/auth/signed-out?x=%22%3E%3Cb%20id=" + atkMarker + "%3E",
		"/?state=%22%3E%3Cimg%20src=x%20onerror=" + atkMarker + "%3E",
	} {
		r := b.Get(p)
		if r.StatusCode >= 500 {
			t.Errorf("%s: %d", p, r.StatusCode)
		}
		atkNoInjectedMarkup(t, p, r)
	}
}

// TestAttackTokensNeverInPages: the ID, access and refresh tokens stay server-side: no page or fragment
// carries them (the only exception by design is the id_token_hint of the end-session redirect).
func TestAttackTokensNeverInPages(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	var mu sync.Mutex
	var toks []string
	e.op.SetBehavior(func(b *authtest.Behavior) {
		b.TokenResponse = func(r map[string]any) {
			mu.Lock()
			defer mu.Unlock()
			for _, k := range []string{"id_token", "access_token", "refresh_token"} {
				if s, ok := r[k].(string); ok {
					toks = append(toks, s)
				}
			}
		}
	})
	b := e.app.Browser()
	mustSignIn(t, e, b)
	mu.Lock()
	defer mu.Unlock()
	if len(toks) != 3 {
		t.Fatalf("captured %d tokens", len(toks))
	}
	for _, p := range []string{"/", "/profile", "/fragments/header", "/fragments/home", "/nope", "/auth/signed-out"} {
		for _, h := range [][]string{nil, {"HX-Request", "true"}} {
			r := b.Get(p, h...)
			for i, tok := range toks {
				if strings.Contains(r.Body, tok) || strings.Contains(strings.Join(headerValues(r.Header), "\n"), tok) {
					t.Errorf("%s %v: token %d is in the response", p, h, i)
				}
			}
		}
	}
}

func headerValues(h http.Header) []string {
	var out []string
	for _, vs := range h {
		out = append(out, vs...)
	}
	return out
}
