package views

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"

	"github.com/hxoidc/hxoidc/assets"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func render(t *testing.T, c templ.Component) string {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	return buf.String()
}

func doc(t *testing.T, c templ.Component) (*goquery.Document, string) {
	t.Helper()
	html := render(t, c)
	d, err := goquery.NewDocumentFromReader(strings.NewReader(html))
	if err != nil {
		t.Fatal(err)
	}
	return d, html
}

func byTestID(d *goquery.Document, id string) *goquery.Selection {
	return d.Find(`[data-testid="` + id + `"]`)
}

func one(t *testing.T, d *goquery.Document, id string) *goquery.Selection {
	t.Helper()
	s := byTestID(d, id)
	if s.Length() != 1 {
		t.Fatalf("want exactly one [data-testid=%q], got %d", id, s.Length())
	}
	return s
}

func none(t *testing.T, d *goquery.Document, id string) {
	t.Helper()
	if n := byTestID(d, id).Length(); n != 0 {
		t.Errorf("want no [data-testid=%q], got %d", id, n)
	}
}

func attr(t *testing.T, s *goquery.Selection, name string) string {
	t.Helper()
	v, ok := s.Attr(name)
	if !ok {
		t.Fatalf("missing attribute %s on <%s>", name, goquery.NodeName(s))
	}
	return v
}

var (
	signedOut = Viewer{ReturnTo: "/profile?tab=a&x=1"}
	signedIn  = Viewer{
		SignedIn:  true,
		Name:      "Ada Lovelace",
		Email:     "ada@example.com",
		CSRFToken: "tok-123",
		ReturnTo:  "/",
	}
	evil = Viewer{
		SignedIn:  true,
		Name:      `<script>alert("x")</script>`,
		Picture:   "javascript:alert(1)",
		CSRFToken: `"><script>`,
		ReturnTo:  "/",
	}
)

// allComponents renders every component in its interesting states, for the CSP / escaping tests.
func allComponents() map[string]templ.Component {
	claims := []Claim{{Name: "sub", Value: "248289761001"}, {Name: "name", Value: evil.Name}}
	return map[string]templ.Component{
		"header-out":       Header(signedOut),
		"header-in":        Header(signedIn),
		"header-pic":       Header(Viewer{SignedIn: true, Name: "Grace", Picture: "https://example.com/g.png"}),
		"header-evil":      Header(evil),
		"home-out":         HomePage(Page{Title: "Home", Viewer: signedOut}, "You are signed out."),
		"home-in":          HomePage(Page{Title: "Home", Viewer: signedIn}, ""),
		"home-content":     HomeContent(evil, evil.Name),
		"profile":          ProfilePage(Page{Title: "Profile", Viewer: signedIn}, claims),
		"profile-card":     ProfileCard(evil, claims),
		"error-page":       ErrorPage(Page{Title: "Error", Viewer: signedOut}, ErrorInfo{Status: 502, Title: "Provider unreachable", Message: "Try later.", RetryURL: "/auth/login", RequestID: "req-1"}),
		"error-panel":      ErrorPanel(ErrorInfo{Status: 400, Title: evil.Name, Message: evil.Name, RetryURL: "javascript:alert(1)", RequestID: evil.Name}),
		"signed-out":       SignedOutPage(Page{Title: "Signed out", Viewer: signedOut}, true),
		"popup-signed-in":  PopupDone("signed-in", "/profile"),
		"popup-signed-out": PopupDone("signed-out", "//evil.example"),
	}
}

func TestHeaderSignedOut(t *testing.T) {
	d, _ := doc(t, Header(signedOut))
	h := one(t, d, "site-header")
	if got := attr(t, h, "id"); got != "site-header" {
		t.Errorf("id = %q", got)
	}
	if got := attr(t, h, "data-signed-in"); got != "false" {
		t.Errorf("data-signed-in = %q", got)
	}
	wantAttrs := map[string]string{
		"aria-live":  "polite",
		"hx-get":     PathHeaderFragment,
		"hx-trigger": "auth-changed from:body",
		"hx-swap":    "outerHTML",
	}
	for k, v := range wantAttrs {
		if got := attr(t, h, k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	in := one(t, d, "sign-in")
	if _, ok := in.Attr("data-auth-signin"); !ok {
		t.Error("sign-in link lacks data-auth-signin")
	}
	href := attr(t, in, "href")
	if want := "/auth/login?return_to=" + url.QueryEscape("/profile?tab=a&x=1"); href != want {
		t.Errorf("sign-in href = %q, want %q", href, want)
	}
	u, err := url.Parse(href)
	if err != nil || u.Path != PathLogin || u.Query().Get("return_to") != "/profile?tab=a&x=1" {
		t.Errorf("sign-in href %q does not round-trip return_to", href)
	}
	none(t, d, "sign-out-form")
	none(t, d, "user-name")
}

func TestHeaderSignedIn(t *testing.T) {
	d, _ := doc(t, Header(signedIn))
	if got := attr(t, one(t, d, "site-header"), "data-signed-in"); got != "true" {
		t.Errorf("data-signed-in = %q", got)
	}
	if got := one(t, d, "user-name").Text(); got != "Ada Lovelace" {
		t.Errorf("user-name = %q", got)
	}
	if got := one(t, d, "avatar-initials").Text(); got != "AL" {
		t.Errorf("initials = %q", got)
	}
	none(t, d, "avatar")
	if got := attr(t, one(t, d, "profile-link"), "href"); got != PathProfile {
		t.Errorf("profile link = %q", got)
	}
	form := one(t, d, "sign-out-form")
	if _, ok := form.Attr("data-auth-signout"); !ok {
		t.Error("sign-out form lacks data-auth-signout")
	}
	if m := strings.ToLower(attr(t, form, "method")); m != "post" {
		t.Errorf("method = %q", m)
	}
	if a := attr(t, form, "action"); a != PathLogout {
		t.Errorf("action = %q", a)
	}
	for _, a := range []string{"hx-post", "hx-boost", "hx-get"} {
		if _, ok := form.Attr(a); ok {
			t.Errorf("sign-out form must be a plain form, has %s", a)
		}
	}
	tok := form.Find(`input[type="hidden"][name="csrf_token"]`)
	if tok.Length() != 1 || attr(t, tok, "value") != "tok-123" {
		t.Errorf("csrf_token input wrong: %d inputs", tok.Length())
	}
	btn := one(t, d, "sign-out")
	if attr(t, btn, "type") != "submit" || btn.Text() != "Sign out" || btn.Closest("form").Length() != 1 {
		t.Error("sign-out button wrong")
	}
	none(t, d, "sign-in")
}

func TestHeaderPicture(t *testing.T) {
	d, _ := doc(t, Header(Viewer{SignedIn: true, Name: "Grace Hopper", Picture: "https://example.com/g.png"}))
	img := one(t, d, "avatar")
	if attr(t, img, "src") != "https://example.com/g.png" || attr(t, img, "alt") != "" {
		t.Error("avatar img wrong")
	}
	if attr(t, img, "data-initials") != "GH" {
		t.Error("avatar img lacks the initials fallback")
	}
	none(t, d, "avatar-initials")
}

func TestEscaping(t *testing.T) {
	d, html := doc(t, Header(evil))
	if got := one(t, d, "user-name").Text(); got != evil.Name {
		t.Errorf("user-name text = %q, want the literal name", got)
	}
	if strings.Contains(html, "<script>") {
		t.Errorf("unescaped <script> in header:\n%s", html)
	}
	if !strings.Contains(html, "&lt;script&gt;") {
		t.Error("name not escaped as text")
	}
	if src, _ := byTestID(d, "avatar").Attr("src"); strings.HasPrefix(src, "javascript:") {
		t.Errorf("javascript: picture URL not sanitized: %q", src)
	}
	if v := attr(t, d.Find(`input[name="csrf_token"]`), "value"); v != evil.CSRFToken {
		t.Errorf("csrf value = %q", v)
	}
	for name, c := range allComponents() {
		html := render(t, c)
		if strings.Contains(html, "<script>alert") || strings.Contains(html, `"><script>`) {
			t.Errorf("%s: user data not escaped", name)
		}
		if strings.Contains(html, `href="javascript:`) {
			t.Errorf("%s: javascript: URL rendered", name)
		}
	}
}

// eventAttr matches event-handler attributes (onclick=...) and htmx's evaluating hx-on attributes.
var eventAttr = regexp.MustCompile(`^(on[a-z]+|hx-on.*|data-hx-on.*)$`)

func TestNoInlineScriptStyleOrHandlers(t *testing.T) {
	for name, c := range allComponents() {
		d, html := doc(t, c)
		if strings.Contains(strings.ToLower(html), " style=") {
			t.Errorf("%s: style= attribute in output", name)
		}
		if d.Find("[style]").Length() > 0 || d.Find("style").Length() > 0 {
			t.Errorf("%s: inline style", name)
		}
		d.Find("script").Each(func(_ int, s *goquery.Selection) {
			if strings.TrimSpace(s.Text()) != "" {
				t.Errorf("%s: inline script content %q", name, s.Text())
			}
			if src, _ := s.Attr("src"); !strings.HasPrefix(src, "/assets/") {
				t.Errorf("%s: script src %q is not a local asset", name, src)
			}
		})
		d.Find("*").Each(func(_ int, s *goquery.Selection) {
			for _, a := range s.Nodes[0].Attr {
				if eventAttr.MatchString(strings.ToLower(a.Key)) {
					t.Errorf("%s: <%s %s=...> evaluates code", name, goquery.NodeName(s), a.Key)
				}
				if strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
					t.Errorf("%s: <%s %s=%q>", name, goquery.NodeName(s), a.Key, a.Val)
				}
				// htmx evaluates js:/javascript: values of hx-* attributes and [filters] in hx-trigger.
				if strings.HasPrefix(a.Key, "hx-") && (strings.HasPrefix(a.Val, "js:") || strings.Contains(a.Val, "[")) {
					t.Errorf("%s: %s=%q needs eval", name, a.Key, a.Val)
				}
			}
		})
	}
}

func TestHomeContent(t *testing.T) {
	d, _ := doc(t, HomeContent(signedOut, "You are signed out."))
	root := one(t, d, "home-content")
	if attr(t, root, "id") != "home-content" || attr(t, root, "hx-get") != PathHomeFragment ||
		attr(t, root, "hx-trigger") != "auth-changed from:body" || attr(t, root, "hx-swap") != "outerHTML" {
		t.Error("home-content htmx attributes wrong")
	}
	if got := one(t, d, "flash-message").Text(); got != "You are signed out." {
		t.Errorf("flash = %q", got)
	}
	cta := one(t, d, "home-sign-in")
	if _, ok := cta.Attr("data-auth-signin"); !ok || attr(t, cta, "href") != SignInURL(signedOut.ReturnTo) {
		t.Error("home sign-in CTA wrong")
	}

	d, html := doc(t, HomeContent(signedIn, ""))
	none(t, d, "flash-message")
	none(t, d, "home-sign-in")
	if !strings.Contains(html, "You are now signed in!") || one(t, d, "greeting-name").Text() != "Ada Lovelace" {
		t.Error("signed-in greeting missing")
	}
	if attr(t, one(t, d, "view-profile"), "href") != PathProfile {
		t.Error("profile link missing")
	}
	// Text as a person reads it: words keep their spaces across inline elements.
	if badge := strings.Join(strings.Fields(d.Find(".badge").Text()), " "); badge != "Signed in with OpenID Connect" {
		t.Errorf("badge reads %q", badge)
	}
}

func TestHomePageHasHeaderAndContent(t *testing.T) {
	d, html := doc(t, HomePage(Page{Title: "Home", Viewer: signedIn}, ""))
	one(t, d, "site-header")
	one(t, d, "home-content")
	one(t, d, "flash")
	if d.Find("main#main").Length() != 1 || d.Find("title").Text() != "Home · hxoidc" {
		t.Error("layout shell wrong")
	}
	if !strings.HasPrefix(html, "<!doctype html>") && !strings.HasPrefix(html, "<!DOCTYPE html>") {
		t.Error("no doctype")
	}
}

func TestProfileCard(t *testing.T) {
	long := strings.Repeat("x", 500)
	claims := []Claim{{Name: "sub", Value: "248289761001"}, {Name: "email", Value: "ada@example.com"}, {Name: "long", Value: long}}
	d, _ := doc(t, ProfilePage(Page{Title: "Profile", Viewer: signedIn}, claims))
	one(t, d, "profile-card")
	for _, c := range claims {
		row := one(t, d, "claim-"+c.Name)
		if row.Find("dt").Text() != c.Name || row.Find("dd").Text() != c.Value {
			t.Errorf("row %s = %q / %q", c.Name, row.Find("dt").Text(), row.Find("dd").Text())
		}
		if row.ParentsFiltered("dl").Length() != 1 {
			t.Errorf("row %s not inside a <dl>", c.Name)
		}
	}
	if one(t, d, "profile-name").Text() != "Ada Lovelace" || one(t, d, "profile-email").Text() != "ada@example.com" {
		t.Error("profile head wrong")
	}
	if _, hidden := one(t, d, "profile-signed-out").Attr("hidden"); !hidden {
		t.Error("signed-out fallback must start hidden")
	}

	d, _ = doc(t, ProfileCard(signedIn, nil))
	one(t, d, "no-claims")
}

func TestErrorPanel(t *testing.T) {
	e := ErrorInfo{Status: 502, Title: "Provider unreachable", Message: "The provider did not answer.", RetryURL: "/auth/login?return_to=%2F", RequestID: "req-42"}
	d, _ := doc(t, ErrorPanel(e))
	one(t, d, "error")
	if got := one(t, d, "error-status").Text(); !strings.Contains(got, "502") {
		t.Errorf("status = %q", got)
	}
	if one(t, d, "error-title").Text() != e.Title || one(t, d, "error-message").Text() != e.Message {
		t.Error("title / message wrong")
	}
	if attr(t, one(t, d, "try-again"), "href") != e.RetryURL {
		t.Error("try-again href wrong")
	}
	if one(t, d, "request-id").Text() != "req-42" {
		t.Error("request id wrong")
	}
	if d.Find("h2").Length() != 1 || d.Find("html, body, header").Length() > 2 {
		t.Error("the fragment must be a bare panel with an h2")
	}

	e.RetryURL, e.RequestID = "", ""
	d, _ = doc(t, ErrorPanel(e))
	none(t, d, "try-again")
	none(t, d, "request-id")

	d, _ = doc(t, ErrorPage(Page{Title: "Error", Viewer: signedOut}, e))
	one(t, d, "error")
	one(t, d, "site-header")
	if d.Find("h1.error-title").Length() != 1 {
		t.Error("error page needs an h1")
	}
}

func TestSignedOutPage(t *testing.T) {
	d, html := doc(t, SignedOutPage(Page{Title: "Signed out", Viewer: signedOut}, true))
	one(t, d, "provider-session-warning")
	if !strings.Contains(html, "You are signed out.") {
		t.Error("text missing")
	}
	d, _ = doc(t, SignedOutPage(Page{Title: "Signed out", Viewer: signedOut}, false))
	none(t, d, "provider-session-warning")
}

func TestPopupDone(t *testing.T) {
	for _, tc := range []struct{ event, returnTo, wantReturn, wantText string }{
		{"signed-in", "/profile?x=1", "/profile?x=1", "Signed in. You can close this window."},
		{"signed-out", "/", "/", "Signed out. You can close this window."},
		{"signed-in", "//evil.example/", "/", "Signed in."},
		{"signed-in", `/\evil.example`, "/", "Signed in."},
		{"signed-in", "https://evil.example/", "/", "Signed in."},
	} {
		d, _ := doc(t, PopupDone(tc.event, tc.returnTo))
		b := d.Find("body")
		if attr(t, b, "data-auth-event") != tc.event || attr(t, b, "data-return-to") != tc.wantReturn {
			t.Errorf("%+v: body attrs %q %q", tc, attr(t, b, "data-auth-event"), attr(t, b, "data-return-to"))
		}
		if !strings.Contains(one(t, d, "popup-text").Text(), tc.wantText) {
			t.Errorf("%+v: text %q", tc, one(t, d, "popup-text").Text())
		}
		if attr(t, one(t, d, "popup-continue"), "href") != tc.wantReturn {
			t.Errorf("%+v: continue link wrong", tc)
		}
		scripts := d.Find("script")
		if scripts.Length() != 1 || attr(t, scripts, "src") != assets.Path("auth.js") {
			t.Errorf("%+v: popup page must load only auth.js", tc)
		}
		if d.Find(`link[rel="stylesheet"]`).AttrOr("href", "") != assets.Path("app.css") {
			t.Errorf("%+v: popup page lacks app.css", tc)
		}
		none(t, d, "site-header")
	}
}

func TestInitialsAndHelpers(t *testing.T) {
	for name, want := range map[string]string{
		"Ada Lovelace":       "AL",
		"ada":                "A",
		"ada.lovelace@x.org": "AL",
		"  ":                 "?",
		"élodie durand":      "ÉD",
		"Jean Paul Sartre":   "JP",
		"<script>":           "?",
	} {
		if got := (Viewer{Name: name}).Initials(); got != want {
			t.Errorf("Initials(%q) = %q, want %q", name, got, want)
		}
	}
	if got := SignInURL("//evil.example"); got != "/auth/login?return_to=%2F" {
		t.Errorf("SignInURL of a foreign URL = %q", got)
	}
	if got := SignInURL("/a/b?c=d&e"); got != "/auth/login?return_to=%2Fa%2Fb%3Fc%3Dd%26e" {
		t.Errorf("SignInURL = %q", got)
	}
}

var hashRe = regexp.MustCompile(`\.[0-9a-f]{10}\.`)

func TestLayoutGolden(t *testing.T) {
	got := render(t, Layout(Page{Title: "Golden", Viewer: signedOut}))
	got = hashRe.ReplaceAllString(got, ".HASH.") // the golden file survives CSS/JS edits
	got = strings.ReplaceAll(got, "><", ">\n<")  // one tag a line: readable diffs
	path := filepath.Join("testdata", "layout.golden.html")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./views -run TestLayoutGolden -update)", err)
	}
	if got != string(want) {
		t.Errorf("Layout differs from %s (rerun with -update if intended):\n%s", path, got)
	}
}

// assetNameRe finds assets.Path("...") calls in the templ sources.
var assetNameRe = regexp.MustCompile(`assets\.Path\("([^"]+)"\)`)

// TestAssetsReferencedByViewsExist checks both the names in the templ sources and the URLs in the rendered
// HTML: each must be an embedded file that assets.Handler serves.
func TestAssetsReferencedByViewsExist(t *testing.T) {
	sources, _ := filepath.Glob("*.templ")
	names := map[string]bool{}
	for _, f := range sources {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range assetNameRe.FindAllStringSubmatch(string(b), -1) {
			names[m[1]] = true
		}
	}
	for _, want := range []string{"app.css", "auth.js", "vendor/htmx.min.js"} {
		if !names[want] {
			t.Errorf("views no longer reference %s", want)
		}
	}
	for n := range names {
		if !assets.Exists(n) {
			t.Errorf("assets.Path(%q) used in views, but no such embedded file", n)
		}
	}

	h := assets.Handler()
	for name, c := range allComponents() {
		d, _ := doc(t, c)
		d.Find("[src], [href]").Each(func(_ int, s *goquery.Selection) {
			for _, a := range []string{"src", "href"} {
				u, ok := s.Attr(a)
				if !ok || !strings.HasPrefix(u, assets.Prefix) {
					continue
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, u, nil))
				if rec.Code != http.StatusOK {
					t.Errorf("%s: %s=%q → %d", name, a, u, rec.Code)
				}
			}
		})
	}
}

// TestPreview writes every page as static HTML plus the hashed assets into $HXOIDC_PREVIEW_DIR, for
// screenshots: HXOIDC_PREVIEW_DIR=/tmp/preview go test ./views -run TestPreview, then serve that directory.
func TestPreview(t *testing.T) {
	dir := os.Getenv("HXOIDC_PREVIEW_DIR")
	if dir == "" {
		t.Skip("set HXOIDC_PREVIEW_DIR to write preview pages")
	}
	grace := Viewer{SignedIn: true, Name: "Grace Hopper", Email: "grace@navy.example", CSRFToken: "t", ReturnTo: "/"}
	claims := []Claim{
		{Name: "sub", Value: "auth0|5f1b2c3d4e5f60718293a4b5"},
		{Name: "name", Value: "Grace Hopper"},
		{Name: "email", Value: "grace@navy.example"},
		{Name: "email_verified", Value: "true"},
		{Name: "iss", Value: "https://id.example.com/realms/hxoidc"},
		{Name: "groups", Value: `["admins","compiler-team","cobol-standards-committee-1959"]`},
		{Name: "picture", Value: "https://avatars.example.com/u/8f14e45fceea167a5a36dedd4bea2543?s=256&d=identicon&r=g&longparameter=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
	}
	pages := map[string]templ.Component{
		"home-out.html":   HomePage(Page{Title: "Home", Viewer: Viewer{ReturnTo: "/"}}, ""),
		"home-flash.html": HomePage(Page{Title: "Home", Viewer: Viewer{ReturnTo: "/"}}, "You are signed out."),
		"home-in.html":    HomePage(Page{Title: "Home", Viewer: grace}, ""),
		"profile.html":    ProfilePage(Page{Title: "Profile", Viewer: grace}, claims),
		"error.html": ErrorPage(Page{Title: "Error", Viewer: Viewer{ReturnTo: "/"}}, ErrorInfo{
			Status: 502, Title: "Your identity provider did not answer", Message: "We could not reach the OpenID provider to finish signing you in. It may be down for a moment.",
			RetryURL: "/auth/login?return_to=%2F", RequestID: "01HZX3K9Q7W2V8N4M6P5R0T1YB"}),
		"signed-out.html": SignedOutPage(Page{Title: "Signed out", Viewer: Viewer{ReturnTo: "/"}}, true),
		"popup.html":      PopupDone("signed-in", "/"),
		"popup-out.html":  PopupDone("signed-out", "/"),
	}
	for name, c := range pages {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(render(t, c)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// An error fragment swapped into #flash, as htmx would: the home page with the panel inside #flash.
	home := render(t, HomePage(Page{Title: "Home", Viewer: grace}, ""))
	panel := render(t, ErrorPanel(ErrorInfo{Status: 503, Title: "Could not refresh", Message: "The session check failed.", RetryURL: "/", RequestID: "req-7"}))
	home = strings.Replace(home, `data-testid="flash"></div>`, `data-testid="flash">`+panel+`</div>`, 1)
	if err := os.WriteFile(filepath.Join(dir, "flash-error.html"), []byte(home), 0o644); err != nil {
		t.Fatal(err)
	}
	h := assets.Handler()
	for _, n := range assets.Names() {
		u := assets.Path(n)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, u, nil))
		b, _ := io.ReadAll(rec.Body)
		p := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(u, "/")))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
