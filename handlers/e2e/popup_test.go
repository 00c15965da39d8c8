package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// signInWithPopup clicks a Sign in control in tb, signs in at the provider in the popup and waits for the
// popup to close by itself.
func signInWithPopup(t *testing.T, tb *tab, signInSelector string) {
	t.Helper()
	popup := tb.expectPopup(func() { tb.click(signInSelector) })
	if popup.detached {
		t.Fatalf("the sign-in popup closed before the test could sign in")
	}
	popup.loginAtProvider(userLogin)
	popup.waitClosed()
	// Its last page was the app's callback, answered with the popup's last page (PopupDone "signed-in").
	urls := tb.b.targetURLs(popup.id)
	if len(urls) == 0 || !strings.HasPrefix(urls[len(urls)-1], tb.b.s.app.URL+"/auth/callback?") {
		t.Errorf("the sign-in popup did not end on %s/auth/callback; it showed %q", tb.b.s.app.URL, urls)
	}
}

// signOutWithPopup clicks the header's Sign out button in tb and waits for the popup (provider's end-session
// endpoint and back) to close by itself. It checks that the popup really went through the provider.
func signOutWithPopup(t *testing.T, tb *tab) {
	t.Helper()
	s := tb.b.s
	endSessions := s.idpReqs.count("GET /end_session")
	popup := tb.expectPopup(func() { tb.click(`[data-testid="sign-out"]`) })
	popup.waitClosed()
	if n := s.idpReqs.count("GET /end_session"); n != endSessions+1 {
		t.Errorf("the sign-out popup made %d request(s) to the provider's end_session endpoint, want 1", n-endSessions)
	}
	if !strings.Contains(s.app.Logs.String(), "provider_logout=true") {
		t.Errorf("the app did not log a sign-out through the provider (provider_logout=true)")
	}
	// The provider redirected the popup back to the app's post-logout URL with the sign-out's state; the
	// app answered with the popup's last page (PopupDone "signed-out").
	urls := tb.b.targetURLs(popup.id)
	if len(urls) == 0 || !strings.HasPrefix(urls[len(urls)-1], s.app.URL+"/?state=") {
		t.Errorf("the sign-out popup did not come back to %s/?state=...; it showed %q", s.app.URL, urls)
	}
}

const (
	jsFocusOnSignOut = `document.activeElement?.matches('[data-testid="sign-out"]')`
	jsFocusOnSignIn  = `document.activeElement?.matches('[data-testid="sign-in"]')`
)

// 1. Popup sign-in: the header fragment is swapped, the page does not reload, the popup closes itself.
func TestPopupSignInWithoutReload(t *testing.T) {
	s := startStack(t)
	b, main := s.newBrowser()
	main.open("/")
	main.waitFor("the signed-out home page", jsReady+" && "+jsSignedOut)
	main.mark()
	main.do(chromedp.SendKeys(chromedp.CSS("#e2e-input"), ", and typed by keys"))
	navs := main.navigations()

	signInWithPopup(t, main, `[data-testid="sign-in"]`)

	main.waitFor("the header to show the user's name", jsUserName)
	main.waitFor("the home content to be swapped", `document.querySelector('[data-testid="greeting-name"]')?.textContent === "`+userName+`"`)
	main.waitFor("the sign-in note", `document.getElementById("auth-status")?.textContent.includes("Signed in as `+userName+`.")`)
	main.waitFor("focus on Sign out after the swap", jsFocusOnSignOut)
	main.assertNotReloaded(navs)
	if got := eval[string](main, `document.getElementById("e2e-input").value`); got != "typed before sign-in, and typed by keys" {
		t.Errorf("the text typed before sign-in is now %q", got)
	}
	if got := eval[string](main, `location.pathname + location.search`); got != "/" {
		t.Errorf("the page moved to %s", got)
	}
	if n := b.pages(); n != 1 {
		t.Errorf("%d page targets after sign-in, want 1 (the popup should be gone)", n)
	}
	if !eval[bool](main, `!document.querySelector("[aria-busy]")`) {
		t.Errorf("a control is still marked busy: %s", main.describe())
	}
	b.checkClean()
}

// 2 and 3. A second tab follows the sign-in within a second, without reloading; Sign out in the header goes
// through the provider's end-session endpoint in a popup, and both tabs swap back without reloading.
func TestTabsFollowSignInAndSignOut(t *testing.T) {
	s := startStack(t)
	b, one := s.newBrowser()
	two := b.newTab("tab2")
	for _, tb := range []*tab{one, two} {
		tb.open("/")
		tb.waitFor("the signed-out home page", jsReady+" && "+jsSignedOut)
		tb.mark()
	}
	navs1, navs2 := one.navigations(), two.navigations()

	signInWithPopup(t, one, `[data-testid="sign-in"]`)
	one.waitFor("tab 1 signed in", jsUserName)
	two.waitFor("tab 2 signed in", jsUserName)
	two.waitFor("tab 2's note", `document.getElementById("auth-status")?.textContent.includes("Signed in from another window.")`)
	in1, in2 := one.flipAt("true"), two.flipAt("true")
	t.Logf("sign-in: tab 2 followed %d ms after tab 1", in2-in1)
	if in1 == 0 || in2 == 0 || in2-in1 > 1000 {
		t.Errorf("tab 2 followed the sign-in %d ms after tab 1 (flips at %d and %d), want within 1000 ms", in2-in1, in1, in2)
	}
	one.assertNotReloaded(navs1)
	two.assertNotReloaded(navs2)

	signOutWithPopup(t, one)
	one.waitFor("tab 1 signed out", jsSignedOut+` && document.querySelector('[data-testid="home-sign-in"]')`)
	two.waitFor("tab 2 signed out", jsSignedOut+` && document.querySelector('[data-testid="home-sign-in"]')`)
	one.waitFor("tab 1's note", `document.getElementById("auth-status")?.textContent.includes("Signed out.")`)
	two.waitFor("tab 2's note", `document.getElementById("auth-status")?.textContent.includes("Signed out from another window.")`)
	one.waitFor("focus on Sign in after the swap", jsFocusOnSignIn)
	out1, out2 := one.flipAt("false"), two.flipAt("false")
	t.Logf("sign-out: tab 2 followed %d ms after tab 1", out2-out1)
	if out1 == 0 || out2 == 0 || out2-out1 > 1000 {
		t.Errorf("tab 2 followed the sign-out %d ms after tab 1 (flips at %d and %d), want within 1000 ms", out2-out1, out1, out2)
	}
	for _, tb := range []*tab{one, two} {
		if eval[bool](tb, `document.body.innerText.includes("`+userName+`") || document.body.innerText.includes("`+userEmail+`")`) {
			t.Errorf("%s still shows the user after sign-out: %s", tb.name, tb.describe())
		}
	}
	one.assertNotReloaded(navs1)
	two.assertNotReloaded(navs2)
	if n := b.pages(); n != 2 {
		t.Errorf("%d page targets after sign-out, want 2 (the popup should be gone)", n)
	}
	if !strings.Contains(s.app.Logs.String(), `msg="back-channel logout"`) {
		t.Errorf("the provider's back-channel logout did not reach the app")
	}
	b.checkClean()
}
