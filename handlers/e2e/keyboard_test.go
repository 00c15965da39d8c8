package e2e

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// tabTo presses Tab until the element matching css has the focus (at most max presses).
func (tb *tab) tabTo(css string, max int) int {
	tb.b.t.Helper()
	js := `document.activeElement?.matches(` + jsString(css) + `)`
	for i := 1; i <= max; i++ {
		tb.do(chromedp.KeyEvent(kb.Tab))
		if eval[bool](tb, js) {
			return i
		}
	}
	tb.b.t.Fatalf("%s: %s not reached with %d Tab presses; page: %s", tb.name, css, max, tb.describe())
	return 0
}

// 7. Keyboard only: Tab to Sign in, Enter; in the popup type the username, Tab, the password, Enter; the
// header swaps and the focus lands on Sign out; Enter on it signs out through the popup and the focus
// lands on Sign in.
func TestKeyboardOnlySignInAndOut(t *testing.T) {
	s := startStack(t)
	b, tb := s.newBrowser()
	tb.open("/")
	tb.waitFor("the signed-out home page", jsReady+" && "+jsSignedOut)
	tb.mark()
	navs := tb.navigations()

	presses := tb.tabTo(`[data-testid="sign-in"]`, 10)
	t.Logf("Sign in reached with %d Tab presses (skip link, brand, Sign in)", presses)
	popup := tb.expectPopup(func() { tb.do(chromedp.KeyEvent(kb.Enter)) })
	if popup.detached {
		t.Fatal("the sign-in popup closed before the test could sign in")
	}
	popup.waitFor("the provider's login page", `location.origin === `+jsString(s.idpURL)+` && document.getElementById("login-form")`)
	// The username field has autofocus; if the popup's document has not focused it, Tab there.
	if !eval[bool](popup, `document.activeElement?.id === "username"`) {
		t.Log("the username field has no focus in the popup yet: tabbing to it")
		popup.tabTo(`#username`, 20)
	}
	popup.do(chromedp.KeyEvent(userLogin), chromedp.KeyEvent(kb.Tab))
	popup.waitFor("focus on the password", `document.activeElement?.id === "password"`)
	popup.do(chromedp.KeyEvent("dev"), chromedp.KeyEvent(kb.Enter))
	popup.waitClosed()

	tb.waitFor("signed in", jsUserName)
	tb.waitFor("the focus on Sign out after the swap", jsFocusOnSignOut)
	tb.assertNotReloaded(navs)

	// Enter on the focused Sign out button.
	endSessions := s.idpReqs.count("GET /end_session")
	out := tb.expectPopup(func() { tb.do(chromedp.KeyEvent(kb.Enter)) })
	out.waitClosed()
	if n := s.idpReqs.count("GET /end_session") - endSessions; n != 1 {
		t.Errorf("%d request(s) to the provider's end_session endpoint, want 1", n)
	}
	tb.waitFor("signed out", jsSignedOut)
	tb.waitFor("the focus on Sign in after the swap", jsFocusOnSignIn)
	tb.assertNotReloaded(navs)
	b.checkClean()
}
