package e2e

import (
	"strings"
	"testing"
)

// assertNothingPrivate fails if the page the tab shows has the user's name or e-mail address anywhere in
// its DOM (hidden parts too). The provider's login page is fine: it is where a signed-out visit to a
// protected page leads, and it lists the demo users by design.
func (tb *tab) assertNothingPrivate(step string) {
	tb.b.t.Helper()
	tb.waitFor(step+": the page loaded", `document.readyState !== "loading"`)
	origin := eval[string](tb, `location.origin`)
	html := eval[string](tb, `document.documentElement.outerHTML`)
	switch origin {
	case tb.b.s.app.URL:
		if strings.Contains(html, userName) || strings.Contains(html, userEmail) {
			tb.b.t.Errorf("%s: the page shows the signed-out user's name or e-mail: %s", step, tb.describe())
		}
	case tb.b.s.idpURL:
		if !strings.Contains(html, `id="login-form"`) {
			tb.b.t.Errorf("%s: an unexpected provider page: %s", step, tb.describe())
		}
	default:
		tb.b.t.Errorf("%s: an unexpected page: %s", step, tb.describe())
	}
}

// 3 (second part). Back after sign-out shows nothing private: the pages are sent with Cache-Control:
// no-store, so neither the HTTP cache nor the back/forward cache may bring back a signed-in page.
func TestBackAfterSignOutShowsNothingPrivate(t *testing.T) {
	s := startStack(t)
	b, tb := s.newBrowser()
	tb.open("/")
	tb.waitFor("the signed-out home page", jsReady+" && "+jsSignedOut)
	signInWithPopup(t, tb, `[data-testid="sign-in"]`)
	tb.waitFor("signed in", jsUserName)

	tb.open("/profile")
	tb.waitFor("the profile", `document.querySelector('[data-testid="profile-name"]')?.textContent === "`+userName+`" &&
		document.querySelector('[data-testid="profile-email"]')?.textContent === "`+userEmail+`"`)

	signOutWithPopup(t, tb)
	tb.waitFor("the header signed out", jsSignedOut)
	tb.waitFor("the profile card replaced by the signed-out note",
		`document.querySelector('[data-testid="profile-card"]')?.hidden && !document.querySelector('[data-testid="profile-signed-out"]')?.hidden`)

	// Back: the home page, which showed the user in its header when the tab left it.
	bf := tb.bfcacheRestores()
	tb.historyGo(-1)
	if got := eval[string](tb, `location.pathname`); got != "/" {
		t.Fatalf("Back led to %s, want /", got)
	}
	tb.assertNothingPrivate("Back to /")
	tb.waitFor("the home page signed out", jsReady+" && "+jsSignedOut)

	// Forward: the profile again, now without a session.
	tb.historyGo(+1)
	tb.assertNothingPrivate("Forward to /profile")
	if n := tb.bfcacheRestores() - bf; n != 0 {
		t.Errorf("%d page(s) came back from the back/forward cache after sign-out (they showed the signed-in page until a refresh)", n)
	}
	b.checkClean()
}
