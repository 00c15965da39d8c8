package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hxoidc/hxoidc/auth/authtest"
)

// TestProfileRefreshesExpiredTokens: an access token about to expire is refreshed (rotating the refresh
// token) before the profile is shown; a refused refresh signs the person out, a failing provider does not.
func TestProfileRefreshesExpiredTokens(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	e.op.SetBehavior(func(b *authtest.Behavior) { b.ExpiresIn = 5 }) // inside the 30 s refresh margin
	b := e.app.Browser()
	mustSignIn(t, e, b)

	for i := range 2 {
		before := e.op.Requests().Token
		r := b.Get("/profile")
		st := e.op.Requests()
		if r.StatusCode != http.StatusOK || st.Token != before+1 || st.LastTokenGrantType != "refresh_token" {
			t.Fatalf("visit %d: status %d, token requests %d→%d (%s), want one refresh", i, r.StatusCode, before, st.Token, st.LastTokenGrantType)
		}
		if st.RefreshReuse != 0 {
			t.Fatalf("visit %d: the app reused a rotated refresh token", i)
		}
	}

	// The provider is down: the profile still shows the stored claims.
	e.op.SetBehavior(func(b *authtest.Behavior) { b.ExpiresIn = 5; b.TokenStatus = 503 })
	if r := b.Get("/profile"); r.StatusCode != http.StatusOK || r.TestID("profile-card").Length() != 1 {
		t.Errorf("refresh failing with 503: status %d", r.StatusCode)
	}
	// The provider refuses the refresh token: signed out, sent to sign in again.
	e.op.SetBehavior(func(b *authtest.Behavior) { b.ExpiresIn = 5; b.TokenStatus = 400; b.TokenError = "invalid_grant" })
	r := b.Get("/profile")
	if r.StatusCode != http.StatusSeeOther || !strings.Contains(r.Location(), "/auth/login?return_to=%2Fprofile") {
		t.Errorf("refused refresh: status %d location %q", r.StatusCode, r.Location())
	}
	if headerName(t, b) != "" {
		t.Errorf("still signed in after the provider refused the refresh token")
	}
}
