package e2e

import (
	"context"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// blockPopups makes window.open return null in every document of the tab, as a popup blocker does. The
// script is injected through DevTools, so the page's CSP does not apply to it.
func (tb *tab) blockPopups() {
	tb.b.t.Helper()
	tb.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `window.open = function () { return null; };`, RunImmediately: new(true),
		})
		return err
	}))
}

// disableJavaScript turns script execution off in the tab, for every document it loads.
func (tb *tab) disableJavaScript() {
	tb.b.t.Helper()
	tb.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
}

// signInFullPage clicks Sign in in the header and signs in at the provider in the same tab; it returns
// when the tab is back on the app at wantPath, signed in.
func signInFullPage(t *testing.T, tb *tab, wantPath string) {
	t.Helper()
	navs := tb.navigations()
	tb.click(`[data-testid="sign-in"]`)
	tb.loginAtProvider(userLogin)
	tb.waitFor("back on "+wantPath+", signed in", `location.origin === `+jsString(tb.b.s.app.URL)+
		` && location.pathname + location.search === `+jsString(wantPath)+` && document.readyState !== "loading" && `+jsUserName)
	if tb.navigations() == navs {
		t.Errorf("%s: the full-page flow did not navigate", tb.name)
	}
}

// 4a. Popup blocked (window.open returns null): Sign in is an ordinary link, the full-page redirect flow
// runs and comes back to the same page, signed in.
func TestPopupBlockedFallsBackToFullPage(t *testing.T) {
	s := startStack(t)
	b, tb := s.newBrowser()
	tb.blockPopups()
	tb.open("/?from=blocked")
	tb.waitFor("the signed-out home page", jsReady+" && "+jsSignedOut)
	if !eval[bool](tb, `window.open("about:blank") === null`) {
		t.Fatal("window.open is not blocked")
	}
	signInFullPage(t, tb, "/?from=blocked")
	if n := b.pages(); n != 1 {
		t.Errorf("%d page targets, want 1: a popup opened although window.open was blocked", n)
	}
	b.checkClean()
}

// 4b. No JavaScript at all: Sign in is an ordinary link and Sign out an ordinary form; both full-page flows
// work and come back to the app.
func TestNoJavaScriptFullPageFlows(t *testing.T) {
	s := startStack(t)
	b, tb := s.newBrowser()
	tb.disableJavaScript()
	tb.open("/?from=nojs")
	tb.waitFor("the signed-out home page", jsSignedOut)
	if eval[bool](tb, `!!window.htmx`) {
		t.Fatal("scripts ran although JavaScript is disabled")
	}
	signInFullPage(t, tb, "/?from=nojs")

	endSessions := s.idpReqs.count("GET /end_session")
	tb.click(`[data-testid="sign-out"]`)
	tb.waitFor("signed out, back on the home page", `location.origin === `+jsString(s.app.URL)+` && location.pathname === "/" && `+
		`document.readyState !== "loading" && `+jsSignedOut+
		` && document.querySelector('[data-testid="flash-message"]')?.textContent.includes("You are signed out.")`)
	if n := s.idpReqs.count("GET /end_session") - endSessions; n != 1 {
		t.Errorf("%d request(s) to the provider's end_session endpoint, want 1", n)
	}
	tb.assertNothingPrivate("after the full-page sign-out")
	if n := b.pages(); n != 1 {
		t.Errorf("%d page targets, want 1", n)
	}
	b.checkClean()
}

// 5. An htmx request to a protected page while signed out gets HX-Redirect to the sign-in, which (a full-page
// flow) ends signed in on the page the request came from.
func TestHTMXRequestToProtectedPageSignsInAndReturns(t *testing.T) {
	s := startStack(t)
	b, tb := s.newBrowser()
	tb.open("/?from=htmx")
	tb.waitFor("the signed-out home page", jsReady+" && "+jsSignedOut)
	navs := tb.navigations()
	tb.exec(`htmx.ajax("GET", "/profile", { target: "#main" })`)
	tb.loginAtProvider(userLogin)
	tb.waitFor("back on /?from=htmx, signed in", `location.origin === `+jsString(s.app.URL)+
		` && location.pathname + location.search === "/?from=htmx" && document.readyState !== "loading" && `+jsUserName)
	if tb.navigations() == navs {
		t.Error("HX-Redirect did not navigate")
	}
	// And now the same request is answered with the profile.
	tb.exec(`htmx.ajax("GET", "/profile", { target: "#main" })`)
	tb.waitFor("the profile card swapped into #main", `document.querySelector('#main [data-testid="profile-name"]')?.textContent === "`+userName+`"`)
	b.checkClean()
}
