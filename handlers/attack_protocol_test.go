package handlers_test

// Attacks on the protocol: login CSRF, code injection, state confusion between tabs and browsers, ID
// token / access token / userinfo substitution, mix-up (RFC 9207), refresh, sign-out CSRF and the
// post-logout state.

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/hxoidc/hxoidc/auth/authtest"
)

func mallory() map[string]any { return map[string]any{"sub": "user-666", "name": "Mallory"} }

// TestAttackLoginCSRF: the attacker's own, unused authorization response (a complete callback URL) is
// delivered to the victim's browser. The victim is never signed in as the attacker; the attacker's sign-in
// in their own browser still works, so the victim's visit did not even spend the attacker's state.
func TestAttackLoginCSRF(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	signedInVictim, anonVictim := e.app.Browser(), e.app.Browser()
	mustSignIn(t, e, signedInVictim)
	anonVictim.Get("/")

	attacker := e.app.Browser()
	e.op.SetUser(mallory())
	cb, err := e.op.Approve(attacker.StartSignIn("/"))
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]*struct{ want string }{"signed-in victim": {"Ada Lovelace"}, "anonymous victim": {""}} {
		b := signedInVictim
		if name == "anonymous victim" {
			b = anonVictim
		}
		before := atkCount(e.app, atkFailedLine)
		r := b.Get(cb)
		atkRefused(t, name, http.StatusBadRequest, r.StatusCode, r.Header, r.Body)
		if got := headerName(t, b); got != v.want {
			t.Errorf("%s: header %q, want %q", name, got, v.want)
		}
		if n := atkCount(e.app, atkFailedLine) - before; n != 1 {
			t.Errorf("%s: %d log lines", name, n)
		}
	}
	if r := attacker.Get(cb); r.StatusCode != http.StatusSeeOther {
		t.Errorf("the attacker's own callback failed after the victim's visits: %d", r.StatusCode)
	}
	if n := e.op.Requests().Token; n != 2 {
		t.Errorf("token endpoint called %d times, want 2 (the victim's sign-in and the attacker's own)", n)
	}
}

// TestAttackCodeInjection: the attacker knows the victim's state (leaked) and injects an authorization
// code issued to the attacker into the victim's callback. PKCE (and the nonce) refuse it.
func TestAttackCodeInjection(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	victim := e.app.Browser()
	victimAuth := victim.StartSignIn("/")
	victimState := mustParse(t, victimAuth).Query().Get("state")

	attacker := e.app.Browser()
	e.op.SetUser(mallory())
	attackerCB, err := e.op.Approve(attacker.StartSignIn("/"))
	if err != nil {
		t.Fatal(err)
	}
	injected := withParam(attackerCB, "state", victimState)
	r := victim.Get(injected)
	atkRefused(t, "injected code", http.StatusBadRequest, r.StatusCode, r.Header, r.Body)
	if got := headerName(t, victim); got != "" {
		t.Fatalf("victim signed in as %q with the attacker's code", got)
	}
	if !strings.Contains(e.app.Logs.String(), "invalid_grant") {
		t.Errorf("the log does not say the provider refused the code")
	}
	// The stolen-response direction: the victim's real response replayed in the attacker's browser.
	e.op.SetUser(authtest.DefaultUser())
	victimAuth2 := victim.StartSignIn("/")
	victimCB, err := e.op.Approve(victimAuth2)
	if err != nil {
		t.Fatal(err)
	}
	if r := attacker.Get(victimCB); r.StatusCode != http.StatusBadRequest {
		t.Errorf("the victim's authorization response worked in the attacker's browser: %d", r.StatusCode)
	}
	if got := headerName(t, attacker); got != "" {
		t.Errorf("attacker signed in as %q", got)
	}
	if r := victim.Get(victimCB); r.StatusCode != http.StatusSeeOther {
		t.Errorf("the victim's own response no longer works: %d", r.StatusCode)
	}
}

// TestAttackStateSwapBetweenTabs: two tabs of one browser sign in; tab A's code arrives with tab B's
// state. The exchange fails (each state has its own verifier and nonce), and tab A's real response still
// works afterwards.
func TestAttackStateSwapBetweenTabs(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	authA := b.StartSignIn("/a")
	authB := b.StartSignIn("/b")
	cbA, err := e.op.Approve(authA)
	if err != nil {
		t.Fatal(err)
	}
	swapped := withParam(cbA, "state", mustParse(t, authB).Query().Get("state"))
	if r := b.Get(swapped); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("code of tab A with the state of tab B: %d", r.StatusCode)
	}
	if got := headerName(t, b); got != "" {
		t.Fatalf("signed in as %q by a swapped response", got)
	}
	r := b.Get(cbA)
	if r.StatusCode != http.StatusSeeOther || r.Location() != e.app.URL+"/a" {
		t.Errorf("tab A's own response: %d %q", r.StatusCode, r.Location())
	}
	// Duplicated state parameters cannot pick a pending sign-in twice.
	authC := b.StartSignIn("/c")
	cbC, _ := e.op.Approve(authC)
	dup := cbC + "&state=" + url.QueryEscape(mustParse(t, authC).Query().Get("state"))
	if r := b.Get(dup); r.StatusCode != http.StatusSeeOther {
		t.Errorf("a response with its own state twice: %d", r.StatusCode)
	}
	if r := b.Get(dup); r.StatusCode != http.StatusBadRequest {
		t.Errorf("replayed response with a doubled state: %d", r.StatusCode)
	}
}

// TestAttackTokenSubstitution: the token response carries another sign-in's valid ID token, or another
// user's valid access token (with or without at_hash). Every one is refused and nobody is signed in as
// anybody else.
func TestAttackTokenSubstitution(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	// A sign-in of Grace gives the attacker a valid ID token and access token of this client.
	var mu sync.Mutex
	var graceID, graceAT string
	e.op.SetUser(map[string]any{"sub": "user-2", "name": "Grace Hopper"})
	e.op.SetBehavior(func(b *authtest.Behavior) {
		b.TokenResponse = func(r map[string]any) {
			mu.Lock()
			graceID, graceAT = r["id_token"].(string), r["access_token"].(string)
			mu.Unlock()
		}
	})
	mustSignIn(t, e, e.app.Browser())
	e.op.SetUser(authtest.DefaultUser())

	for _, tc := range []struct {
		name   string
		behave func(*authtest.Behavior)
		logHas string
	}{
		{"another sign-in's ID token", func(b *authtest.Behavior) {
			b.TokenResponse = func(r map[string]any) { mu.Lock(); r["id_token"] = graceID; mu.Unlock() }
		}, "nonce"},
		{"another user's access token (at_hash catches it)", func(b *authtest.Behavior) {
			b.TokenResponse = func(r map[string]any) { mu.Lock(); r["access_token"] = graceAT; mu.Unlock() }
		}, "at_hash"},
		{"another user's access token, no at_hash (userinfo sub catches it)", func(b *authtest.Behavior) {
			b.IDToken = func(c map[string]any) { delete(c, "at_hash") }
			b.TokenResponse = func(r map[string]any) { mu.Lock(); r["access_token"] = graceAT; mu.Unlock() }
		}, "userinfo sub"},
		{"ID token for another client", func(b *authtest.Behavior) {
			b.IDToken = func(c map[string]any) { c["aud"] = []string{"other-client"}; c["azp"] = "other-client" }
		}, "invalid ID token"},
		{"ID token naming us and another client without azp", func(b *authtest.Behavior) {
			b.IDToken = func(c map[string]any) { c["aud"] = []string{"test-client", "evil"} }
		}, "azp"},
		{"empty sub", func(b *authtest.Behavior) { b.IDToken = func(c map[string]any) { c["sub"] = "" } }, "invalid ID token"},
		{"iat before the sign-in began", func(b *authtest.Behavior) {
			b.IDToken = func(c map[string]any) { c["iat"] = c["iat"].(int64) - 3600 }
		}, "before this sign-in"},
		{"nonce of another type", func(b *authtest.Behavior) { b.IDToken = func(c map[string]any) { c["nonce"] = 42 } }, "invalid ID token"},
		{"aud as a number", func(b *authtest.Behavior) { b.IDToken = func(c map[string]any) { c["aud"] = 7 } }, "invalid ID token"},
		{"id_token not a string", func(b *authtest.Behavior) {
			b.TokenResponse = func(r map[string]any) { r["id_token"] = map[string]any{"x": 1} }
		}, "without id_token"},
		{"id_token garbage", func(b *authtest.Behavior) { b.TokenResponse = func(r map[string]any) { r["id_token"] = "a.b.c" } }, "invalid ID token"},
		{"access_token missing", func(b *authtest.Behavior) { b.TokenResponse = func(r map[string]any) { delete(r, "access_token") } }, "request failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.op.SetBehavior(func(b *authtest.Behavior) { *b = authtest.Behavior{} })
			b := e.app.Browser()
			mustSignIn(t, e, b) // Ada, who must stay Ada
			e.op.SetBehavior(func(b *authtest.Behavior) { *b = authtest.Behavior{}; tc.behave(b) })
			before := atkCount(e.app, atkFailedLine)
			r := e.signIn(t, b, "/")
			if r.StatusCode < 400 || r.StatusCode == http.StatusInternalServerError {
				t.Fatalf("status %d; body %.300s", r.StatusCode, r.Body)
			}
			atkRefused(t, tc.name, r.StatusCode, r.StatusCode, r.Header, r.Body)
			if n := atkCount(e.app, atkFailedLine) - before; n != 1 {
				t.Errorf("%d 'request failed' lines, want 1", n)
			}
			if !strings.Contains(e.app.Logs.String(), tc.logHas) {
				t.Errorf("log lacks %q", tc.logHas)
			}
			e.op.SetBehavior(func(b *authtest.Behavior) { *b = authtest.Behavior{} })
			if got := headerName(t, b); got != "Ada Lovelace" {
				t.Errorf("session after the refused response: %q", got)
			}
		})
	}
}

// TestAttackMixUpIssParameter: RFC 9207 on success responses: a doubled, altered or missing iss is
// refused before the code is redeemed.
func TestAttackMixUpIssParameter(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret", IssParameterSupported: true})
	for name, mutate := range map[string]func(cb string) string{
		"doubled iss":        func(cb string) string { return cb + "&iss=" + url.QueryEscape(authtest.WrongIssuer) },
		"doubled, same iss":  func(cb string) string { return cb + "&iss=" + url.QueryEscape(e.op.Issuer()) },
		"trailing slash":     func(cb string) string { return withParam(cb, "iss", e.op.Issuer()+"/") },
		"upper-case scheme":  func(cb string) string { return withParam(cb, "iss", "HTTP"+strings.TrimPrefix(e.op.Issuer(), "http")) },
		"empty iss":          func(cb string) string { return strings.Replace(withParam(cb, "iss", "x"), "iss=x", "iss=", 1) },
		"missing iss":        func(cb string) string { return withParam(cb, "iss", "") },
		"attacker's issuer":  func(cb string) string { return withParam(cb, "iss", authtest.WrongIssuer) },
		"iss with NUL/space": func(cb string) string { return withParam(cb, "iss", e.op.Issuer()+"\x00") },
	} {
		t.Run(name, func(t *testing.T) {
			b := e.app.Browser()
			before := e.op.Requests().Token
			cb, err := e.op.Approve(b.StartSignIn("/"))
			if err != nil {
				t.Fatal(err)
			}
			r := b.Get(mutate(cb))
			atkRefused(t, name, http.StatusBadRequest, r.StatusCode, r.Header, r.Body)
			if e.op.Requests().Token != before {
				t.Errorf("the code was redeemed despite a bad iss")
			}
			if got := headerName(t, b); got != "" {
				t.Errorf("signed in as %q", got)
			}
		})
	}
}

// TestAttackMixUpOnErrorResponse: RFC 9207 §2.4 applies to error responses too: an error response with
// a wrong iss (or none, when the provider advertises the parameter) must not be taken for the provider's
// error.
func TestAttackMixUpOnErrorResponse(t *testing.T) {
	// Regression test for a fixed bug: handlers.callback maps ?error=... to the provider's error page before any iss check, so an error response from another issuer (RFC 9207 mix-up) is shown and logged as this provider's error
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret", IssParameterSupported: true})
	for name, iss := range map[string]string{"wrong iss": authtest.IssWrong, "missing iss": authtest.IssOmit} {
		t.Run(name, func(t *testing.T) {
			e.op.SetBehavior(func(b *authtest.Behavior) { b.AuthorizeError = "access_denied"; b.IssParam = iss })
			b := e.app.Browser()
			cb, err := e.op.Approve(b.StartSignIn("/"))
			if err != nil {
				t.Fatal(err)
			}
			r := b.Get(cb)
			if r.StatusCode != http.StatusBadRequest || !strings.Contains(r.TestID("error-title").Text(), "wrong provider") {
				t.Errorf("status %d, title %q: the error response was taken for this provider's", r.StatusCode, r.TestID("error-title").Text())
			}
			if !strings.Contains(e.app.Logs.String(), "iss mismatch") {
				t.Errorf("the log does not name the iss mismatch")
			}
		})
	}
}

// TestAttackRefreshSubstitution: at refresh the provider (or a man in the middle) returns an ID token for
// another subject, client or issuer, or with a foreign nonce; the session is never switched to anybody
// else (it keeps its identity, or ends).
func TestAttackRefreshSubstitution(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	for name, mutate := range map[string]func(map[string]any){
		"other sub":    func(c map[string]any) { c["sub"] = "user-666"; c["name"] = "Mallory" },
		"other aud":    func(c map[string]any) { c["aud"] = []string{"other-client"} },
		"wrong nonce":  func(c map[string]any) { c["nonce"] = "attacker" },
		"other issuer": func(c map[string]any) { c["iss"] = authtest.WrongIssuer },
	} {
		t.Run(name, func(t *testing.T) {
			e.op.SetBehavior(func(b *authtest.Behavior) { *b = authtest.Behavior{ExpiresIn: 5} })
			b := e.app.Browser()
			mustSignIn(t, e, b)
			e.op.SetBehavior(func(b *authtest.Behavior) { b.ExpiresIn = 5; b.IDToken = mutate })
			r := b.Get("/profile")
			switch r.StatusCode {
			case http.StatusOK:
				if got := strings.TrimSpace(r.TestID("profile-name").Text()); got != "Ada Lovelace" {
					t.Errorf("profile shows %q", got)
				}
				if got := r.TestID("claim-sub").Find("dd").Text(); got != "user-1" {
					t.Errorf("sub claim %q", got)
				}
			case http.StatusSeeOther:
				if got := headerName(t, b); got != "" {
					t.Errorf("header %q", got)
				}
			default:
				t.Errorf("/profile %d", r.StatusCode)
			}
		})
	}
}

// TestAttackRefreshResponseRefusedThenRefreshTokenReplayed: when a refresh response is refused (its ID
// token fails a check), the refresh token the provider rotated in that response is thrown away with it,
// and the next visit presents the spent refresh token again: to a rotating provider (RFC 9700 §4.14.2)
// that is refresh-token theft, and it revokes the whole grant.
func TestAttackRefreshResponseRefusedThenRefreshTokenReplayed(t *testing.T) {
	// Regression test for a fixed bug: after Refresh refuses a response (bad ID token), handlers.profile keeps the old, already rotated refresh token and replays it on the next visit (Stats.RefreshReuse=1: the provider revokes the grant)
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	e.op.SetBehavior(func(b *authtest.Behavior) { b.ExpiresIn = 5 })
	b := e.app.Browser()
	mustSignIn(t, e, b)
	e.op.SetBehavior(func(b *authtest.Behavior) {
		b.ExpiresIn = 5
		b.IDToken = func(c map[string]any) { c["sub"] = "user-666" }
	})
	if r := b.Get("/profile"); r.StatusCode != http.StatusOK && r.StatusCode != http.StatusSeeOther {
		t.Fatalf("/profile %d", r.StatusCode)
	}
	e.op.SetBehavior(func(b *authtest.Behavior) { b.ExpiresIn = 5 })
	b.Get("/profile")
	if n := e.op.Requests().RefreshReuse; n != 0 {
		t.Errorf("the app presented a rotated refresh token %d time(s) (the provider revokes the grant)", n)
	}
}

// TestAttackLogoutCSRF: every way a foreign page, a forged request or a stale token can try to sign the
// person out is refused with a readable 4xx page and a log line, and the session survives.
func TestAttackLogoutCSRF(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	mustSignIn(t, e, b)
	token := b.CSRFToken()
	other := e.app.Browser()
	e.op.SetUser(map[string]any{"sub": "user-2", "name": "Grace Hopper"})
	mustSignIn(t, e, other)
	otherToken := other.CSRFToken()
	if token == "" || otherToken == "" || token == otherToken {
		t.Fatalf("CSRF tokens %q %q", token, otherToken)
	}
	same := []string{"Origin", e.app.URL, "Sec-Fetch-Site", "same-origin"}
	form := func(v ...string) string {
		q := url.Values{}
		for i := 0; i+1 < len(v); i += 2 {
			q.Add(v[i], v[i+1])
		}
		return q.Encode()
	}
	for _, tc := range []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
	}{
		{"no token", "POST", "/auth/logout", "", same, 403},
		{"empty token", "POST", "/auth/logout", form("csrf_token", ""), same, 403},
		{"wrong token", "POST", "/auth/logout", form("csrf_token", "AAAA"), same, 403},
		{"token of another session", "POST", "/auth/logout", form("csrf_token", otherToken), same, 403},
		{"token prefix", "POST", "/auth/logout", form("csrf_token", token[:len(token)-1]), same, 403},
		{"token plus a byte", "POST", "/auth/logout", form("csrf_token", token+"A"), same, 403},
		{"wrong token first", "POST", "/auth/logout", form("csrf_token", "AAAA", "csrf_token", token), same, 403},
		{"right token, cross-site Origin", "POST", "/auth/logout", form("csrf_token", token), []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, 403},
		{"right token, cross-site Origin only", "POST", "/auth/logout", form("csrf_token", token), []string{"Origin", "https://evil.example"}, 403},
		{"right token, Sec-Fetch-Site cross-site only", "POST", "/auth/logout", form("csrf_token", token), []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"right token, same-site sibling", "POST", "/auth/logout", form("csrf_token", token), []string{"Origin", "http://sub.127.0.0.1.nip.io", "Sec-Fetch-Site", "same-site"}, 403},
		{"right token, Origin null (sandboxed iframe)", "POST", "/auth/logout", form("csrf_token", token), []string{"Origin", "null"}, 403},
		{"right token, other port", "POST", "/auth/logout", form("csrf_token", token), []string{"Origin", "http://127.0.0.1:1"}, 403},
		{"right token in the query, cross-site", "POST", "/auth/logout?csrf_token=" + url.QueryEscape(token), "", []string{"Origin", "https://evil.example"}, 403},
		{"htmx headers, no token", "POST", "/auth/logout", "", append([]string{"HX-Request", "true", "HX-Current-URL", e.app.URL + "/"}, same...), 403},
		{"GET with the token", "GET", "/auth/logout?csrf_token=" + url.QueryEscape(token), "", nil, 0},
		{"PUT with the token", "PUT", "/auth/logout", form("csrf_token", token), same, 0},
		{"DELETE", "DELETE", "/auth/logout", "", same, 0},
		{"text/plain body", "POST", "/auth/logout", "csrf_token=" + token, append([]string{"Content-Type", "text/plain"}, "Origin", "https://evil.example"), 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := atkCount(e.app, atkFailedLine)
			r := atkDo(t, e.app, b, tc.method, tc.path, tc.body, tc.hdr...)
			atkRefused(t, tc.name, tc.status, r.StatusCode, r.Header, r.Body)
			if n := atkCount(e.app, atkFailedLine) - before; n != 1 {
				t.Errorf("%d 'request failed' lines, want 1", n)
			}
			if strings.HasPrefix(r.Header.Get("Location"), e.op.URL()) || r.Header.Get("HX-Redirect") != "" {
				t.Errorf("sent to the provider's end-session endpoint")
			}
			if got := headerName(t, b); got != "Ada Lovelace" {
				t.Fatalf("signed out by %s: header %q", tc.name, got)
			}
		})
	}
	if got := headerName(t, other); got != "Grace Hopper" {
		t.Errorf("the other session was harmed: %q", got)
	}
	// The right request still works.
	if r := b.Post("/auth/logout", url.Values{"csrf_token": {token}}); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Location(), e.op.URL()) {
		t.Errorf("legitimate sign-out: %d %q", r.StatusCode, r.Location())
	}
	// The old token is dead after sign-out and a new sign-in.
	mustSignIn(t, e, b)
	if r := b.Post("/auth/logout", url.Values{"csrf_token": {token}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("a CSRF token of the previous session signed out the new one: %d", r.StatusCode)
	}
}

// TestAttackPostLogoutState: the state of a sign-out works once, only in the browser that signed out,
// and a forged one changes nothing.
func TestAttackPostLogoutState(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    authtest.Options
		landing string
	}{
		{"end-session endpoint", authtest.Options{ClientSecret: "s3cret"}, "/"},
		{"local sign-out", authtest.Options{ClientSecret: "s3cret", NoEndSession: true}, "/auth/signed-out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts)
			b := e.app.Browser()
			mustSignIn(t, e, b)
			out := b.Post("/auth/logout", url.Values{"csrf_token": {b.CSRFToken()}, "popup": {"1"}})
			if out.StatusCode != http.StatusSeeOther {
				t.Fatalf("logout %d", out.StatusCode)
			}
			state := mustParse(t, out.Location()).Query().Get("state")
			back := tc.landing + "?state=" + url.QueryEscape(state)

			if r := e.app.Browser().Get(back); r.TestID("popup-done").Length() != 0 || r.TestID("flash-message").Length() != 0 {
				t.Errorf("another browser recognised the sign-out state")
			}
			if r := b.Get(tc.landing + "?state=forged"); r.TestID("popup-done").Length() != 0 {
				t.Errorf("a forged state was recognised")
			}
			r := b.Get(back)
			if r.StatusCode != http.StatusOK || r.TestID("popup-done").Length() != 1 {
				t.Fatalf("the real return from the provider: %d, popup page %d", r.StatusCode, r.TestID("popup-done").Length())
			}
			atkSameOrigin(t, e.app, "popup data-return-to", r.TestID("popup-done").AttrOr("data-return-to", ""))
			if r := b.Get(back); r.TestID("popup-done").Length() != 0 {
				t.Errorf("the sign-out state was accepted twice")
			}
			if r := b.Get(back, "HX-Request", "true"); r.StatusCode != http.StatusOK || r.TestID("popup-done").Length() != 0 {
				t.Errorf("htmx replay of the state: %d", r.StatusCode)
			}
		})
	}
}

// TestAttackSignedOutPageWhileSignedIn: a link (or Back) to /auth/signed-out must not tell a person who
// is still signed in that they are signed out.
func TestAttackSignedOutPageWhileSignedIn(t *testing.T) {
	// Regression test for a fixed bug: GET /auth/signed-out always says 'You are signed out. Your hxoidc session has ended on this device.' even when the session is alive
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	mustSignIn(t, e, b)
	r := b.Get("/auth/signed-out")
	if r.TestID("signed-out").Length() != 0 && headerName(t, b) == "Ada Lovelace" {
		t.Errorf("the page says %q while the session of Ada Lovelace is alive", strings.TrimSpace(r.TestID("signed-out").Find("h1").Text()))
	}
}
