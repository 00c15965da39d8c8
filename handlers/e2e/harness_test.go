package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/hxoidc/hxoidc/auth/devidp"
	"github.com/hxoidc/hxoidc/handlers/apptest"
)

const (
	clientID     = "hxoidc-e2e"
	clientSecret = "e2e-client-secret"

	// The demo user the tests sign in as (devidp.DefaultUsers).
	userLogin = "ada"
	userName  = "Ada Lovelace"
	userEmail = "ada@example.test"

	// waitTimeout bounds every single wait: a page condition, a popup, a navigation.
	waitTimeout = 15 * time.Second
	// browserBudget bounds the life of each test's browser, whatever happens.
	browserBudget = 100 * time.Second
)

// chromiumPath finds Chromium: skipped without it, failed without it on CI.
func chromiumPath(t *testing.T) string {
	t.Helper()
	const msg = "chromium not installed: apt-get install -y chromium"
	if fi, err := os.Stat("/usr/bin/chromium"); err == nil && !fi.IsDir() {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// ---------------------------------------------------------------------------------------------- servers

// stack is one test's provider and app, each on its own 127.0.0.1 port.
type stack struct {
	t        *testing.T
	chromium string
	app      *apptest.App
	idpURL   string
	idpReqs  *requestLog
}

// requestLog records the requests the provider received ("GET /end_session"), so a test can tell that a
// window really went through the provider.
type requestLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *requestLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.lines = append(l.lines, r.Method+" "+r.URL.Path)
		l.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (l *requestLog) count(line string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if s == line {
			n++
		}
	}
	return n
}

func (l *requestLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// startStack starts the development provider and the app. Both listeners are created first, so that the
// provider's issuer and the app's URLs (redirect, post-logout and back-channel URIs) are known up front.
func startStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{t: t, chromium: chromiumPath(t), idpReqs: &requestLog{}}

	appLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen (app): %v", err)
	}
	appURL := "http://" + appLn.Addr().String()
	idpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen (provider): %v", err)
	}
	s.idpURL = "http://" + idpLn.Addr().String()

	idpLogs := &apptest.SyncBuffer{}
	p, err := devidp.New(t.Context(), devidp.Config{
		Issuer:  s.idpURL,
		DataDir: t.TempDir(),
		Logger:  slog.New(slog.NewTextHandler(idpLogs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Clients: []devidp.Client{{
			ID:                     clientID,
			Secret:                 clientSecret,
			RedirectURIs:           []string{appURL + "/auth/callback"},
			PostLogoutRedirectURIs: []string{appURL + "/", appURL + "/auth/signed-out"},
			BackChannelLogoutURI:   appURL + "/auth/backchannel-logout",
		}},
	})
	if err != nil {
		t.Fatalf("devidp: %v", err)
	}
	srv := &http.Server{Handler: s.idpReqs.wrap(p.Handler()), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(idpLn); err != nil && err != http.ErrServerClosed {
			t.Errorf("devidp: serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
		if t.Failed() {
			t.Logf("devidp requests:\n%s", s.idpReqs)
			t.Logf("devidp log:\n%s", idpLogs)
		}
	})

	s.app = apptest.Start(t, apptest.Options{Issuer: s.idpURL, ClientID: clientID, ClientSecret: clientSecret, Listener: appLn})
	return s
}

// ---------------------------------------------------------------------------------------------- browser

// browser is one Chromium with a fresh profile (chromedp creates a temporary --user-data-dir and removes it
// afterwards). Its tabs share cookies and BroadcastChannel, like the tabs of one person's browser.
type browser struct {
	t     *testing.T
	s     *stack
	alloc context.Context
	root  context.Context // the first tab; the browser's life is bound to it

	mu       sync.Mutex
	problems []string // console errors, uncaught exceptions, error/security log entries, CSP violations
	tabs     []*tab
	// urls are the documents each target committed, from the browser's point of view (so also for a popup
	// that closed before the test could attach to it).
	urls map[target.ID][]string
	// expected are problems a test asked for (e.g. the 404 status of an error page it visits on purpose).
	expected []string
}

// expect makes checkClean log, not fail, problems that contain text.
func (b *browser) expect(text string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expected = append(b.expected, text)
}

// newBrowser starts Chromium with the flags the project requires (headless, no network besides the test
// servers) and opens its first tab.
func (s *stack) newBrowser() (*browser, *tab) {
	s.t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(s.chromium),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.WindowSize(1280, 800),
	)
	budget, cancelBudget := context.WithTimeout(context.Background(), browserBudget)
	alloc, cancelAlloc := chromedp.NewExecAllocator(budget, opts...)
	s.t.Cleanup(func() { cancelAlloc(); cancelBudget() })
	b := &browser{t: s.t, s: s, alloc: alloc, urls: map[target.ID][]string{}}
	first := b.newTab("tab1")
	if err := chromedp.ListenBrowser(b.root, func(ev any) {
		if e, ok := ev.(*target.EventTargetInfoChanged); ok && e.TargetInfo.Type == "page" {
			b.mu.Lock()
			defer b.mu.Unlock()
			u := b.urls[e.TargetInfo.TargetID]
			if len(u) == 0 || u[len(u)-1] != e.TargetInfo.URL {
				b.urls[e.TargetInfo.TargetID] = append(u, e.TargetInfo.URL)
			}
		}
	}); err != nil {
		s.t.Fatalf("listen to the browser: %v", err)
	}
	return b, first
}

// targetURLs are the URLs the target has shown so far.
func (b *browser) targetURLs(id target.ID) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.urls[id]...)
}

func (b *browser) problem(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, fmt.Sprintf(format, args...))
}

// cspRecorder runs in every document of every tab before the page's own scripts (CDP-injected scripts are
// exempt from the page's CSP): it records securitypolicyviolation events into window.__cspViolations and
// reports each to the test through the exposed func __e2eCSP, so violations in a page that navigated away
// are not lost.
const cspRecorder = `(() => {
	if (window.__cspViolations) return;
	window.__cspViolations = [];
	document.addEventListener("securitypolicyviolation", (e) => {
		const v = e.violatedDirective + " blocked " + (e.blockedURI || "(inline)") + " in " + e.documentURI +
			(e.lineNumber ? ":" + e.lineNumber : "") + (e.sample ? " sample=" + e.sample : "");
		window.__cspViolations.push(v);
		try { window.__e2eCSP && window.__e2eCSP(v).catch(() => {}); } catch {}
	}, true);
})()`

// tab is one page target: a tab the test opened, or a popup the page opened.
type tab struct {
	name     string
	b        *browser
	ctx      context.Context
	id       target.ID // set for popups
	detached bool      // a popup that closed before the test attached to it

	mu      sync.Mutex
	navs    int // main-frame document loads (not same-document navigations)
	bfcache int // main-frame restores from the back/forward cache
	urls    []string
}

// newTab opens a tab in the browser (the first call starts the browser).
func (b *browser) newTab(name string) *tab {
	b.t.Helper()
	tb := &tab{name: name, b: b}
	parent := b.root
	if parent == nil {
		parent = b.alloc
	}
	ctx, cancel := chromedp.NewContext(parent, chromedp.WithListener(tb.listen))
	b.t.Cleanup(cancel)
	tb.ctx = ctx
	if b.root == nil {
		b.root = ctx
	}
	// The first Do starts the browser (or the tab); it is bounded by browserBudget.
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("%s: start: %v", name, err)
	}
	tb.install()
	b.tabs = append(b.tabs, tb)
	return tb
}

// attach follows a target the page opened (a popup). If the window closed before the test could attach to
// it (a sign-out popup that needs no input can be that fast), only its id is usable (detached is true).
func (b *browser) attach(name string, id target.ID) *tab {
	b.t.Helper()
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		tb := &tab{name: name, b: b, id: id}
		// Ending this context must not close the popup (a failed attempt is followed by another).
		ctx, cancel := chromedp.NewContext(b.root, chromedp.WithTargetID(id), chromedp.WithDetachOnCancel(),
			chromedp.WithListener(tb.listen))
		tb.ctx = ctx
		// Not a context with a timeout: the first Do binds the session to the context it gets. The
		// browser's budget bounds it.
		if err = chromedp.Do(ctx); err == nil {
			err = tb.tryInstall()
		}
		if err == nil {
			b.t.Cleanup(cancel)
			b.tabs = append(b.tabs, tb)
			return tb
		}
		cancel()
		if !b.targetExists(id) {
			b.t.Logf("%s: closed before the test could attach to it (%v)", name, err)
			tb.detached = true
			return tb
		}
		// Still there: the session was lost to a navigation while attaching. Attach again.
	}
	b.t.Fatalf("%s: attach: %v", name, err)
	return nil
}

func (b *browser) targetExists(id target.ID) bool {
	ctx, cancel := context.WithTimeout(b.root, waitTimeout)
	defer cancel()
	infos, err := chromedp.Targets(ctx)
	if err != nil {
		b.t.Fatalf("targets: %v", err)
	}
	for _, i := range infos {
		if i.TargetID == id {
			return true
		}
	}
	return false
}

// install adds the CSP recorder to the tab's current and future documents.
func (tb *tab) install() {
	tb.b.t.Helper()
	if err := tb.tryInstall(); err != nil {
		tb.b.t.Fatalf("%s: %v", tb.name, err)
	}
}

func (tb *tab) tryInstall() error {
	report := func(_ context.Context, v string) (chromedp.Void, error) {
		tb.b.problem("%s: CSP violation: %s", tb.name, v)
		return chromedp.Void{}, nil
	}
	ctx, cancel := context.WithTimeout(tb.ctx, waitTimeout)
	defer cancel()
	return chromedp.Do(ctx,
		chromedp.ExposeFunc("__e2eCSP", report),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
				Source: cspRecorder, RunImmediately: new(true),
			})
			return err
		}),
	)
}

// listen runs in the tab's event loop: it records problems and main-frame navigations.
func (tb *tab) listen(ev any) {
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
			tb.b.problem("%s: console.%s: %s", tb.name, e.Type, remoteText(e.Args))
		}
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		tb.b.problem("%s: uncaught exception: %s (%s:%d)", tb.name, text, d.URL, d.LineNumber+1)
	case *cdplog.EventEntryAdded:
		en := e.Entry
		if en.Level == cdplog.EntryLevelError || en.Source == cdplog.EntrySourceSecurity || en.Source == cdplog.EntrySourceViolation {
			tb.b.problem("%s: log %s/%s: %s (%s)", tb.name, en.Source, en.Level, en.Text, en.URL)
		}
	case *page.EventFrameNavigated:
		if e.Frame.ParentID == "" {
			tb.mu.Lock()
			tb.navs++
			tb.urls = append(tb.urls, e.Frame.URL)
			if e.Type == page.NavigationTypeBackForwardCacheRestore {
				tb.bfcache++
			}
			tb.mu.Unlock()
		}
	}
}

func remoteText(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		switch {
		case len(a.Value) > 0:
			parts = append(parts, strings.Trim(string(a.Value), `"`))
		case a.Description != "":
			parts = append(parts, a.Description)
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

// navigations is how many documents the tab's main frame has loaded so far.
func (tb *tab) navigations() int {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.navs
}

func (tb *tab) bfcacheRestores() int {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.bfcache
}

// ---------------------------------------------------------------------------------------------- actions

// do runs actions in the tab, bounded by waitTimeout.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, waitTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.b.t.Fatalf("%s: %v; page: %s", tb.name, err, tb.describe())
	}
}

// eval evaluates a JavaScript expression in the tab (Runtime.evaluate, which the page's CSP does not
// restrict) and decodes its value.
func eval[T any](tb *tab, js string) T {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, waitTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		tb.b.t.Fatalf("%s: evaluate %s: %v", tb.name, js, err)
	}
	return v
}

// exec runs a JavaScript statement in the tab.
func (tb *tab) exec(js string) {
	tb.b.t.Helper()
	eval[bool](tb, "(() => { "+js+" })(), true")
}

// open navigates the tab to a path of the app and waits for the load event.
func (tb *tab) open(path string) {
	tb.b.t.Helper()
	tb.do(chromedp.Navigate(tb.b.s.app.URL + path))
}

// click clicks the element (a trusted click: mouse events through the DevTools input domain).
func (tb *tab) click(css string) {
	tb.b.t.Helper()
	tb.do(chromedp.Click(chromedp.CSS(css)))
}

// waitFor waits until a JavaScript expression is truthy, for at most waitTimeout. It polls in the page with
// chromedp.Poll (every 20 ms); a navigation destroys the poll with its document, so then it starts again in
// the next document, until the deadline.
func (tb *tab) waitFor(what, js string) {
	tb.b.t.Helper()
	if err := tb.poll(js, waitTimeout); err != nil {
		tb.b.t.Fatalf("%s: timed out after %v waiting for %s (%s): %v\npage: %s", tb.name, waitTimeout, what, js, err, tb.describe())
	}
}

func (tb *tab) poll(js string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return chromedp.ErrPollingTimeout
		}
		ctx, cancel := context.WithTimeout(tb.ctx, remaining+2*time.Second)
		_, err := chromedp.Run(ctx, chromedp.Poll[bool]("!!("+js+")",
			chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(remaining)))
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || tb.ctx.Err() != nil {
			return err
		}
		// The document went away under the poll (a navigation), or had no execution context yet.
		select {
		case <-time.After(20 * time.Millisecond):
		case <-tb.ctx.Done():
			return tb.ctx.Err()
		}
	}
}

// describe is a one-line picture of the page for failure messages.
func (tb *tab) describe() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[location.href,
		"header=" + document.getElementById("site-header")?.dataset.signedIn,
		"active=" + (document.activeElement?.outerHTML || "").slice(0, 100),
		"status=" + (document.getElementById("auth-status")?.textContent || "").trim(),
		"text=" + (document.body?.innerText || "").replace(/\s+/g, " ").slice(0, 200)].join(" | ")`))
	if err != nil {
		return fmt.Sprintf("(unavailable: %v)", err)
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return fmt.Sprintf("%s | navigations=%v", s, tb.urls)
}

// expectPopup runs trigger (a click) and returns the window it opened.
func (tb *tab) expectPopup(trigger func()) *tab {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, waitTimeout)
	defer cancel()
	ch := chromedp.WaitNewTarget(ctx, func(i *target.Info) bool { return i.Type == "page" })
	trigger()
	select {
	case id, ok := <-ch:
		if !ok {
			tb.b.t.Fatalf("%s: watching for a popup failed", tb.name)
		}
		return tb.b.attach("popup", id)
	case <-ctx.Done():
		tb.b.t.Fatalf("%s: no popup opened within %v; page: %s", tb.name, waitTimeout, tb.describe())
		return nil
	}
}

// waitClosed waits until the popup has closed itself.
func (tb *tab) waitClosed() {
	tb.b.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for tb.b.targetExists(tb.id) {
		if time.Now().After(deadline) {
			tb.b.t.Fatalf("%s: did not close itself within %v; page: %s", tb.name, waitTimeout, tb.describe())
		}
		<-tick.C
	}
}

// pages counts the browser's page targets (tabs and popups).
func (b *browser) pages() int {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.root, waitTimeout)
	defer cancel()
	infos, err := chromedp.Targets(ctx)
	if err != nil {
		b.t.Fatalf("targets: %v", err)
	}
	n := 0
	for _, i := range infos {
		if i.Type == "page" {
			n++
		}
	}
	return n
}

// loginAtProvider signs in on the development provider's login page shown in this window: pick the demo
// user from the list (which fills in the username), type the password, submit.
func (tb *tab) loginAtProvider(username string) {
	tb.b.t.Helper()
	idp := jsString(tb.b.s.idpURL)
	tb.waitFor("the provider's login page", `location.origin === `+idp+` && document.getElementById("login-form")`)
	tb.click(`a.user[data-username="` + username + `"]`)
	tb.waitFor("the username filled in", `document.getElementById("username")?.value === `+jsString(username))
	tb.do(
		chromedp.SendKeys(chromedp.CSS("#password"), devidp.DefaultPassword),
		chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
	)
}

func jsString(s string) string { return fmt.Sprintf("%q", s) }

// historyGo goes delta entries back (negative) or forward in the tab's session history, like the browser's
// Back and Forward buttons, and waits for the main frame to show a document again (a new one, or one
// restored from the back/forward cache).
func (tb *tab) historyGo(delta int) {
	tb.b.t.Helper()
	navs := tb.navigations()
	ctx, cancel := context.WithTimeout(tb.ctx, waitTimeout)
	defer cancel()
	h, err := chromedp.Call(ctx, page.GetNavigationHistory, cdp.Empty{})
	if err != nil {
		tb.b.t.Fatalf("%s: history: %v", tb.name, err)
	}
	i := int(h.CurrentIndex) + delta
	if i < 0 || i >= len(h.Entries) {
		tb.b.t.Fatalf("%s: no history entry %d (current %d of %d)", tb.name, i, h.CurrentIndex, len(h.Entries))
	}
	if _, err := chromedp.Call(ctx, page.NavigateToHistoryEntry, page.NavigateToHistoryEntryParams{EntryID: h.Entries[i].ID}); err != nil {
		tb.b.t.Fatalf("%s: go to history entry %s: %v", tb.name, h.Entries[i].URL, err)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for tb.navigations() == navs {
		select {
		case <-tick.C:
		case <-ctx.Done():
			tb.b.t.Fatalf("%s: the history navigation to %s did not commit: %v", tb.name, h.Entries[i].URL, ctx.Err())
		}
	}
}

// ---------------------------------------------------------------------------------------------- page facts

const (
	jsReady     = `window.htmx && document.getElementById("site-header")`
	jsSignedOut = `document.getElementById("site-header")?.dataset.signedIn === "false"`
	jsSignedIn  = `document.getElementById("site-header")?.dataset.signedIn === "true"`
	jsUserName  = `document.querySelector('[data-testid="user-name"]')?.textContent.trim() === "` + userName + `"`
	// jsSettled: no finite animation is running (the swapped fragments fade in).
	jsSettled = `document.getAnimations().every(a => a.effect?.getTiming().iterations === Infinity || a.playState !== "running")`
)

// mark leaves traces that a reload would wipe out: a window property, an attribute on <html> (never
// swapped) and the text of an input added to the footer (the app's pages have no input of their own). It also starts recording when the header's
// signed-in state flips (window.__flips, with Date.now() times), to measure how fast tabs follow.
func (tb *tab) mark() {
	tb.b.t.Helper()
	tb.exec(`
		window.__marker = 42;
		document.documentElement.setAttribute("data-e2e-marker", "42");
		const input = document.createElement("input");
		input.id = "e2e-input";
		input.setAttribute("aria-label", "e2e");
		document.querySelector("footer")?.append(input);
		input.value = "typed before sign-in";
		window.__flips = [];
		let last = document.getElementById("site-header")?.dataset.signedIn;
		new MutationObserver(() => {
			const now = document.getElementById("site-header")?.dataset.signedIn;
			if (now !== last) { last = now; window.__flips.push({ state: now, at: Date.now() }); }
		}).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-signed-in"] });
	`)
}

// assertNotReloaded checks the traces of mark and that the main frame loaded no new document.
func (tb *tab) assertNotReloaded(navsBefore int) {
	tb.b.t.Helper()
	ok := eval[bool](tb, `window.__marker === 42 && document.documentElement.getAttribute("data-e2e-marker") === "42" &&
		document.getElementById("e2e-input")?.value.startsWith("typed before sign-in")`)
	if !ok {
		tb.b.t.Errorf("%s: the page reloaded (marker gone); page: %s", tb.name, tb.describe())
	}
	if n := tb.navigations(); n != navsBefore {
		tb.mu.Lock()
		urls := append([]string(nil), tb.urls...)
		tb.mu.Unlock()
		tb.b.t.Errorf("%s: the main frame loaded %d new document(s) (%v)", tb.name, n-navsBefore, urls)
	}
}

// flipAt is when (Date.now() in the page) the header first flipped to state, or 0.
func (tb *tab) flipAt(state string) int64 {
	tb.b.t.Helper()
	return eval[int64](tb, `(window.__flips || []).find(f => f.state === "`+state+`")?.at || 0`)
}

// checkClean fails the test for any console error, uncaught exception, error or security log entry, or CSP
// violation seen in any tab or popup so far.
func (b *browser) checkClean() {
	b.t.Helper()
	for _, tb := range b.tabs {
		if tb.id != "" && (tb.detached || !b.targetExists(tb.id)) {
			continue // a closed popup: its violations were reported through __e2eCSP
		}
		ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
		v, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__cspViolations || []`))
		cancel()
		if err == nil {
			for _, s := range v {
				b.problem("%s: CSP violation (window.__cspViolations): %s", tb.name, s)
			}
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	seen := map[string]bool{}
	for _, p := range b.problems {
		if seen[p] {
			continue
		}
		seen[p] = true
		if slices.ContainsFunc(b.expected, func(e string) bool { return strings.Contains(p, e) }) {
			b.t.Logf("browser (expected): %s", p)
			continue
		}
		b.t.Errorf("browser: %s", p)
	}
}

// screenshotDir is /screenshots at the module root (git-ignored).
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "screenshots"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
