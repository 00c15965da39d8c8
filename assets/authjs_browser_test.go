package assets_test

// A real-browser test of static/auth.js with the real views markup and the vendored htmx: popup sign-in
// and sign-out swap the header without a reload, focus moves sensibly, other tabs follow, a blocked popup
// falls back to the full-page flow, and the strict CSP is never violated. A fake app and a fake provider
// (on a second origin) stand in for the handlers and the OpenID provider.
//
// It needs Chromium (HXOIDC_CHROMIUM, or chromium / google-chrome on PATH) and is skipped without it or
// under -short.

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/a-h/templ"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/hxoidc/hxoidc/assets"
	"github.com/hxoidc/hxoidc/auth"
	"github.com/hxoidc/hxoidc/views"
)

const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; report-uri /csp-report"

// fakeApp plays the handlers: a cookie "sess=1" is the session.
type fakeApp struct {
	t    *testing.T
	coop string // Cross-Origin-Opener-Policy on app pages; "" for none
	app  *httptest.Server
	idp  *httptest.Server

	mu         sync.Mutex
	violations []string
	fragments  int // fragment requests served
}

func newFakeApp(t *testing.T, coop string) *fakeApp {
	f := &fakeApp{t: t, coop: coop}
	f.app = httptest.NewServer(http.HandlerFunc(f.serveApp))
	f.idp = httptest.NewServer(http.HandlerFunc(f.serveIDP))
	t.Cleanup(func() { f.app.Close(); f.idp.Close() })
	return f
}

func (f *fakeApp) viewer(r *http.Request) views.Viewer {
	path := r.URL.RequestURI()
	if r.Header.Get("HX-Request") == "true" {
		if u, err := url.Parse(r.Header.Get("HX-Current-URL")); err == nil {
			path = u.RequestURI()
		}
	}
	v := views.Viewer{ReturnTo: auth.SafeReturnTo(path)}
	if c, err := r.Cookie("sess"); err == nil && c.Value == "1" {
		v.SignedIn, v.Name, v.Email, v.CSRFToken = true, "Ada Lovelace", "ada@example.com", "tok"
	}
	return v
}

func (f *fakeApp) render(w http.ResponseWriter, r *http.Request, c templ.Component) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := c.Render(r.Context(), w); err != nil {
		f.t.Error(err)
	}
}

func (f *fakeApp) serveApp(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	if f.coop != "" {
		h.Set("Cross-Origin-Opener-Policy", f.coop)
	}
	v := f.viewer(r)
	q := r.URL.Query()
	switch {
	case strings.HasPrefix(r.URL.Path, assets.Prefix):
		assets.Handler().ServeHTTP(w, r)
	case r.URL.Path == "/csp-report":
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.violations = append(f.violations, string(b))
		f.mu.Unlock()
	case r.URL.Path == views.PathHome:
		f.render(w, r, views.HomePage(views.Page{Title: "Home", Viewer: v}, ""))
	case r.URL.Path == views.PathProfile:
		f.render(w, r, views.ProfilePage(views.Page{Title: "Profile", Viewer: v}, []views.Claim{{Name: "sub", Value: "1"}}))
	case r.URL.Path == views.PathHeaderFragment:
		f.mu.Lock()
		f.fragments++
		f.mu.Unlock()
		f.render(w, r, views.Header(v))
	case r.URL.Path == views.PathHomeFragment:
		f.render(w, r, views.HomeContent(v, ""))
	case r.URL.Path == views.PathLogin:
		// to the provider, which shows a page and comes back to the callback
		cb := f.app.URL + views.PathCallback + "?" + url.Values{"return_to": {q.Get("return_to")}, "popup": {q.Get("popup")}}.Encode()
		http.Redirect(w, r, f.idp.URL+"/authorize?"+url.Values{"next": {cb}}.Encode(), http.StatusSeeOther)
	case r.URL.Path == views.PathCallback:
		http.SetCookie(w, &http.Cookie{Name: "sess", Value: "1", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		if q.Get("popup") == "1" {
			f.render(w, r, views.PopupDone("signed-in", q.Get("return_to")))
			return
		}
		http.Redirect(w, r, auth.SafeReturnTo(q.Get("return_to")), http.StatusSeeOther)
	case r.URL.Path == views.PathLogout && r.Method == http.MethodPost:
		if r.FormValue("csrf_token") != "tok" {
			http.Error(w, "bad csrf", http.StatusForbidden)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "sess", Value: "", Path: "/", MaxAge: -1})
		back := f.app.URL + views.PathSignedOut + "?" + url.Values{"popup": {r.FormValue("popup")}}.Encode()
		http.Redirect(w, r, f.idp.URL+"/logout?"+url.Values{"next": {back}}.Encode(), http.StatusSeeOther)
	case r.URL.Path == views.PathSignedOut:
		if q.Get("popup") == "1" {
			f.render(w, r, views.PopupDone("signed-out", views.PathHome))
			return
		}
		f.render(w, r, views.SignedOutPage(views.Page{Title: "Signed out", Viewer: v}, true))
	default:
		http.NotFound(w, r)
	}
}

// serveIDP is the provider: a page of its own (so the popup really commits a cross-origin document, as with
// a login form) that moves on by itself.
func (f *fakeApp) serveIDP(w http.ResponseWriter, r *http.Request) {
	next := r.URL.Query().Get("next")
	if !strings.HasPrefix(next, f.app.URL+"/") {
		http.Error(w, "bad next", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><html><head><meta http-equiv="refresh" content="1;url=%s"><title>Provider</title></head><body>Provider</body></html>`, html.EscapeString(next))
}

func (f *fakeApp) cspViolations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.violations...)
}

func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test skipped under -short")
	}
	if p := os.Getenv("HXOIDC_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not installed: apt-get install -y chromium (CI must run the browser tests)")
	}
	t.Skip("chromium not installed: apt-get install -y chromium, or set HXOIDC_CHROMIUM")
	return ""
}

type browser struct {
	t      *testing.T
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T) *browser {
	path := chromium(t)
	t.Parallel() // each test has a browser of its own
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-popup-blocking", true),
		chromedp.WindowSize(1200, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{t: t}
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithListener(b.listen))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b.ctx = ctx
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

// listen records uncaught exceptions and console errors and warnings of a tab.
func (b *browser) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		b.errors = append(b.errors, e.ExceptionDetails.Text)
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			b.errors = append(b.errors, string(e.Type)+": "+strings.Join(parts, " "))
		}
	}
}

func (b *browser) newTab() context.Context {
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithListener(b.listen))
	b.t.Cleanup(cancel)
	// The first run opens the tab and ties it to its context: no timeout on that one.
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("new tab: %v", err)
	}
	return ctx
}

func (b *browser) do(ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	c, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(c, actions...); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) navigate(ctx context.Context, url string) {
	b.t.Helper()
	b.do(ctx, chromedp.Navigate(url))
}

func (b *browser) click(ctx context.Context, sel string) {
	b.t.Helper()
	b.do(ctx, chromedp.Click(chromedp.CSS(sel)))
}

func evalAs[T any](b *browser, ctx context.Context, js string) T {
	b.t.Helper()
	c, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("eval %s: %v", js, err)
	}
	return v
}

func (b *browser) exec(ctx context.Context, js string) {
	b.t.Helper()
	evalAs[bool](b, ctx, "(() => {"+js+"\n})(), true")
}

// wait polls a JS expression until it is true.
func (b *browser) wait(ctx context.Context, what, js string) {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(c, chromedp.Evaluate[bool]("!!("+js+")"))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + " | header=" + document.getElementById("site-header")?.dataset.signedIn + " | active=" + document.activeElement?.outerHTML?.slice(0, 120) + " | note=" + document.getElementById("auth-status")?.textContent`))
			b.t.Fatalf("timed out waiting for %s (%s); err=%v; page: %s", what, js, err, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *browser) pageTargets() int {
	infos, err := chromedp.Targets(b.ctx)
	if err != nil {
		b.t.Fatal(err)
	}
	n := 0
	for _, i := range infos {
		if i.Type == "page" {
			n++
		}
	}
	return n
}

func (b *browser) checkClean(f *fakeApp) {
	b.t.Helper()
	time.Sleep(300 * time.Millisecond) // CSP reports are sent asynchronously
	if v := f.cspViolations(); len(v) > 0 {
		b.t.Errorf("CSP violations: %v", v)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errors {
		if strings.Contains(e, "favicon") {
			continue
		}
		b.t.Errorf("browser console: %s", e)
	}
}

const (
	signedInJS  = `document.getElementById("site-header")?.dataset.signedIn === "true"`
	signedOutJS = `document.getElementById("site-header")?.dataset.signedIn === "false"`
	markJS      = `window.__noReload = "still here"`
	notReloaded = `window.__noReload === "still here"`
)

func testPopupFlow(t *testing.T, coop string) {
	f := newFakeApp(t, coop)
	b := newBrowser(t)
	ctx := b.ctx
	b.navigate(ctx, f.app.URL+"/")
	b.wait(ctx, "signed-out header", signedOutJS+` && window.htmx`)
	b.exec(ctx, markJS+`; window.__posted = 0; addEventListener("message", () => window.__posted++)
		const open = window.open; window.open = (...a) => (window.__popup = open(...a))`)

	// Sign in through the popup.
	b.click(ctx, `[data-testid="sign-in"]`)
	b.wait(ctx, "busy state", `document.querySelector('[data-testid="sign-in"]')?.getAttribute("aria-busy") === "true"`)
	b.wait(ctx, "popup at the provider, still ours", `window.__popup && !window.__popup.closed`)
	b.wait(ctx, "header swapped to signed in", signedInJS)
	// Without COOP the popup reports through window.opener too; with it, the trip back from the provider
	// cuts the opener and only the BroadcastChannel carries the news.
	if posted := evalAs[int](b, ctx, `window.__posted`); (coop == "") != (posted > 0) {
		t.Errorf("COOP=%q: %d postMessage deliveries from the popup", coop, posted)
	}
	b.wait(ctx, "home content swapped", `document.querySelector("#home-content h1")?.textContent.includes("You are now signed in!")`)
	b.wait(ctx, "no reload", notReloaded)
	b.wait(ctx, "user name", `document.querySelector('[data-testid="user-name"]')?.textContent === "Ada Lovelace"`)
	b.wait(ctx, "focus on Sign out", `document.activeElement?.matches('[data-testid="sign-out"]')`)
	b.wait(ctx, "status note", `document.getElementById("auth-status").textContent.includes("Signed in as Ada Lovelace.")`)
	b.wait(ctx, "no busy state left", `!document.querySelector('[aria-busy]')`)
	deadline := time.Now().Add(3 * time.Second)
	for b.pageTargets() > 1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := b.pageTargets(); n != 1 {
		t.Errorf("COOP=%q: the popup did not close after sign-in (%d pages)", coop, n)
	}

	// Sign out through the popup.
	b.click(ctx, `[data-testid="sign-out"]`)
	b.wait(ctx, "header swapped to signed out", signedOutJS)
	b.wait(ctx, "home content swapped back", `document.querySelector('[data-testid="home-sign-in"]')`)
	b.wait(ctx, "no reload", notReloaded)
	b.wait(ctx, "focus on Sign in", `document.activeElement?.matches('[data-testid="sign-in"]')`)
	deadline = time.Now().Add(3 * time.Second)
	for b.pageTargets() > 1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := b.pageTargets(); n != 1 {
		t.Errorf("COOP=%q: the popup did not close after sign-out (%d pages)", coop, n)
	}
	loc := evalAs[string](b, ctx, `location.pathname`)
	if loc != "/" {
		t.Errorf("page moved to %s", loc)
	}
	b.checkClean(f)
}

func TestAuthJSPopupFlow(t *testing.T) { testPopupFlow(t, "") }

// With COOP same-origin-allow-popups on the app, coming back from the provider to the callback switches the
// popup's browsing context group: the opener reference is cut and only the BroadcastChannel carries the
// result. The page must still update without a reload.
func TestAuthJSPopupFlowSeveredOpener(t *testing.T) { testPopupFlow(t, "same-origin-allow-popups") }

func TestAuthJSPopupBlockedFallsBackToFullPage(t *testing.T) {
	f := newFakeApp(t, "")
	b := newBrowser(t)
	ctx := b.ctx
	b.navigate(ctx, f.app.URL+"/profile?tab=1")
	b.wait(ctx, "page ready", signedOutJS+` && window.htmx`)
	b.exec(ctx, `window.open = () => null; `+markJS)
	b.click(ctx, `[data-testid="sign-in"]`)
	b.wait(ctx, "signed in after the full-page flow", signedInJS+` && location.pathname + location.search === "/profile?tab=1"`)
	if b.pageTargets() != 1 {
		t.Error("a popup was opened although window.open was blocked")
	}
	b.exec(ctx, `window.open = () => null; `+markJS)
	b.click(ctx, `[data-testid="sign-out"]`)
	b.wait(ctx, "signed-out page", `location.pathname === "/auth/signed-out" && document.querySelector('[data-testid="signed-out"]')`)
	popupField := evalAs[bool](b, ctx, `location.search.includes("popup=1")`)
	if popupField {
		t.Error("the in-page sign-out carried popup=1")
	}
	b.checkClean(f)
}

func TestAuthJSTabSync(t *testing.T) {
	f := newFakeApp(t, "")
	b := newBrowser(t)
	one := b.ctx
	b.navigate(one, f.app.URL+"/")
	b.wait(one, "tab 1 ready", signedOutJS+` && window.htmx`)
	two := b.newTab()
	b.navigate(two, f.app.URL+"/profile")
	b.wait(two, "tab 2 ready", signedOutJS+` && window.htmx`)
	b.exec(two, markJS)

	b.click(one, `[data-testid="sign-in"]`)
	b.wait(one, "tab 1 signed in", signedInJS)
	b.wait(two, "tab 2 followed", signedInJS)

	// Profile content hidden while signed out reloads on sign-in; after that, sign out in tab 1 hides it.
	b.wait(two, "tab 2 shows the profile", `document.querySelector('[data-testid="profile-card"]') && !document.querySelector('[data-testid="profile-card"]').hidden`)
	b.exec(two, markJS)
	b.click(one, `[data-testid="sign-out"]`)
	b.wait(one, "tab 1 signed out", signedOutJS)
	b.wait(two, "tab 2 signed out", signedOutJS+` && `+notReloaded)
	b.wait(two, "tab 2 hides the profile", `document.querySelector('[data-testid="profile-card"]').hidden && !document.querySelector('[data-testid="profile-signed-out"]').hidden`)

	// A state message from a tab that disagrees makes this tab re-check; a foreign message is ignored.
	f.mu.Lock()
	before := f.fragments
	f.mu.Unlock()
	b.exec(two, `new BroadcastChannel("hxoidc-auth").postMessage({type: "nonsense", signedIn: true}); window.postMessage({type: "hxoidc:auth", event: "bogus"}, location.origin)`)
	time.Sleep(500 * time.Millisecond)
	f.mu.Lock()
	after := f.fragments
	f.mu.Unlock()
	if after != before {
		t.Errorf("malformed messages caused %d fragment requests", after-before)
	}
	b.checkClean(f)
}

func TestAuthJSPopupClosedEarly(t *testing.T) {
	f := newFakeApp(t, "")
	b := newBrowser(t)
	ctx := b.ctx
	b.navigate(ctx, f.app.URL+"/")
	b.wait(ctx, "page ready", signedOutJS+` && window.htmx`)
	// A popup that the person closes after a while without finishing.
	b.exec(ctx, `(() => { const real = window.open; window.open = (u, n, o) => { const w = real("about:blank", n, o); setTimeout(() => w.close(), 3500); return w; }; })()`)
	b.click(ctx, `[data-testid="sign-in"]`)
	b.wait(ctx, "busy state", `document.querySelector('[data-testid="sign-in"]').getAttribute("aria-busy") === "true"`)
	b.wait(ctx, "closed note", `document.getElementById("auth-status").textContent.includes("Sign-in window closed.")`)
	b.wait(ctx, "busy state cleared", `!document.querySelector('[aria-busy]')`)
	b.wait(ctx, "still signed out", signedOutJS)
	b.checkClean(f)
}
