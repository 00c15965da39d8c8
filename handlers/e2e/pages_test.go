package e2e

import (
	"strings"
	"testing"
)

// 6. Every page of the app, signed out and signed in, and the error pages, load without console errors,
// uncaught exceptions, error or security log entries and CSP violations. (Every other test checks the
// same for the pages of its flow, popups included.)
func TestPagesWithoutConsoleErrorsOrCSPViolations(t *testing.T) {
	s := startStack(t)
	b, tb := s.newBrowser()
	visit := func(path, ready string) {
		t.Helper()
		tb.open(path)
		tb.waitFor(path+" ready", ready)
	}
	// The error pages are answered with their status; Chromium logs that as a failed resource load.
	b.expect("status of 404 (Not Found) (" + s.app.URL + "/no-such-page)")
	b.expect("status of 400 (Bad Request) (" + s.app.URL + "/auth/callback?state=unknown&code=x)")
	appPage := jsReady + ` && document.readyState === "complete"`
	visit("/", appPage+" && "+jsSignedOut)
	visit("/auth/signed-out", appPage+` && document.querySelector('[data-testid="signed-out"]')`)
	visit("/no-such-page", appPage+` && document.title.startsWith("Not Found")`)
	visit("/auth/callback?state=unknown&code=x", appPage+` && document.querySelector("main")`)
	// A protected page while signed out: through the app's redirect to the provider's login page.
	visit("/profile", `location.origin === `+jsString(s.idpURL)+` && document.getElementById("login-form")`)
	tb.loginAtProvider(userLogin)
	tb.waitFor("back on /profile, signed in", `location.pathname === "/profile" && `+jsUserName)

	visit("/", appPage+" && "+jsUserName)
	visit("/profile", appPage+` && document.querySelector('[data-testid="profile-name"]')`)
	visit("/no-such-page", appPage+" && "+jsUserName)
	b.checkClean()
}

// The popup's last page, when it cannot close itself (here it is an ordinary tab, as when the provider's
// Cross-Origin-Opener-Policy severed the popup from its opener or the person opened the link in a tab),
// announces the sign-out and then goes back into the app by itself.
func TestSignOutLastPageInATabGoesBackToTheApp(t *testing.T) {
	s := startStack(t)
	b, tb := s.newBrowser()
	other := b.newTab("tab2")
	tb.open("/")
	tb.waitFor("the signed-out home page", jsReady+" && "+jsSignedOut)
	signInWithPopup(t, tb, `[data-testid="sign-in"]`)
	tb.waitFor("signed in", jsUserName)
	other.open("/")
	other.waitFor("tab 2 signed in", jsReady+" && "+jsUserName)
	other.mark()
	navs := other.navigations()

	// Submit the Sign out form as the popup would (popup=1), but in this tab: form.submit() fires no submit
	// event, so auth.js does not open a popup.
	tb.exec(`const f = document.querySelector("form[data-auth-signout]");
		const i = document.createElement("input"); i.type = "hidden"; i.name = "popup"; i.value = "1";
		f.append(i); f.submit();`)
	tb.waitFor("back on the home page, signed out", `location.origin === `+jsString(s.app.URL)+
		` && location.pathname + location.search === "/" && `+jsReady+" && "+jsSignedOut)
	sawLastPage := false
	for _, u := range tb.urls {
		sawLastPage = sawLastPage || strings.HasPrefix(u, s.app.URL+"/?state=")
	}
	if !sawLastPage {
		t.Errorf("the tab never showed the popup's last page (/?state=...): %v", tb.urls)
	}
	other.waitFor("tab 2 followed", jsSignedOut)
	other.assertNotReloaded(navs)
	b.checkClean()
}
