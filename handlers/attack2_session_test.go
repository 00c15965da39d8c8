package handlers_test

// Second-round attacks on the session fixes: the user-less stub kept under the pre-sign-in token,
// Save's update-only semantics (TouchCtx) on both stores, and the 500 ms bound of the session lock.

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/hxoidc/hxoidc/auth"
	"github.com/hxoidc/hxoidc/auth/authtest"
	"github.com/hxoidc/hxoidc/auth/sqlitestore"
	"github.com/hxoidc/hxoidc/handlers/apptest"
)

// atk2Stores runs f once with the in-memory store and once with a SQLite store.
func atk2Stores(t *testing.T, f func(t *testing.T, store func(t *testing.T) scs.Store)) {
	t.Run("memory", func(t *testing.T) {
		f(t, func(t *testing.T) scs.Store {
			m := auth.NewMemoryStore(time.Minute)
			t.Cleanup(func() { _ = m.Close() })
			return m
		})
	})
	t.Run("sqlite", func(t *testing.T) {
		f(t, func(t *testing.T) scs.Store {
			st, err := sqlitestore.Open(filepath.Join(t.TempDir(), "sessions.db"), time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			return st
		})
	})
}

func withStore(st scs.Store) func(*apptest.Options) { return func(o *apptest.Options) { o.Store = st } }

// atk2StoreKey is the key the store keeps a cookie token under (scs hashes tokens in the store).
func atk2StoreKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// atk2StoredKeys are the session keys stored under token, and whether there is such a session.
func atk2StoredKeys(t *testing.T, e *env, token string) ([]string, bool) {
	t.Helper()
	keys, _, found := atk2Stored(t, e, token)
	return keys, found
}

// atk2Stored is atk2StoredKeys with the session's deadline (an upper bound of its store expiry).
func atk2Stored(t *testing.T, e *env, token string) ([]string, time.Time, bool) {
	t.Helper()
	b, found, err := e.app.Store.Find(atk2StoreKey(token))
	if err != nil {
		t.Fatal(err)
	}
	if !found {
		return nil, time.Time{}, false
	}
	deadline, values, err := e.app.Sessions.Manager.Codec.Decode(b)
	if err != nil {
		t.Fatalf("decode stored session: %v", err)
	}
	var keys []string
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, deadline, true
}

// atk2WithCookie sends one request carrying exactly the session cookie token (a request of the same
// browser that left before its cookie changed), without touching any jar.
func atk2WithCookie(t *testing.T, e *env, method, path, token string, hdr ...string) *atkResp {
	t.Helper()
	return atkDo(t, e.app, nil, method, path, "", append([]string{"Cookie", e.app.Sessions.CookieName() + "=" + token}, hdr...)...)
}

func atk2SetCookie(r *atkResp, name string) *http.Cookie {
	for _, c := range r.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// TestAttack2FixationStubHoldsOnlyPending: the attacker mints T0, starts a sign-in of their own in it
// (so that a stub is kept at the victim's sign-in), fixes T0 into the victim's browser, and uses T0 in
// the minute after the victim signed in. The stub under T0 holds pending sign-ins and nothing else; T0
// shows nobody, reads no profile, has no CSRF token to sign the victim out with; and the attacker finishing
// their own pending sign-in through T0 gets a session of their own, never the victim's.
func TestAttack2FixationStubHoldsOnlyPending(t *testing.T) {
	atk2Stores(t, func(t *testing.T, store func(t *testing.T) scs.Store) {
		e := newEnv(t, authtest.Options{ClientSecret: "s3cret"}, withStore(store(t)))
		attacker := e.app.Browser()
		authA := attacker.StartSignIn("/mine")
		t0 := attacker.SessionCookie()

		victim := e.app.Browser()
		atkPlantCookie(victim, e.app, t0.Name, t0.Value)
		mustSignIn(t, e, victim)
		t1 := victim.SessionCookie()
		if t1 == nil || t1.Value == t0.Value {
			t.Fatalf("token not renewed: %v", t1)
		}
		keys, found := atk2StoredKeys(t, e, t0.Value)
		if !found || !slices.Equal(keys, []string{"pending", "stub"}) {
			t.Fatalf("stub under T0: found=%t keys=%v, want only [pending stub]", found, keys)
		}

		if got := headerName(t, attacker); got != "" {
			t.Errorf("T0 shows %q", got)
		}
		if r := attacker.Get("/profile"); r.StatusCode == http.StatusOK {
			t.Errorf("T0 reads the victim's profile")
		}
		if v, ok := attacker.Get("/").Doc.Find(`input[name="csrf_token"]`).Attr("value"); ok || v != "" {
			t.Errorf("T0 has a CSRF token %q", v)
		}
		// A sign-out post with the victim's CSRF token, sent with T0 (the attacker cannot know it, but
		// even with it): T0 has no user, so nothing is signed out.
		atkDo(t, e.app, attacker, http.MethodPost, "/auth/logout", "csrf_token="+url.QueryEscape(victim.CSRFToken()),
			"Origin", e.app.URL, "Sec-Fetch-Site", "same-origin")
		if keys, _ := atk2StoredKeys(t, e, t0.Value); slices.Contains(keys, "user") || slices.Contains(keys, "csrf") || slices.Contains(keys, "tokens") {
			t.Errorf("the stub gained %v", keys)
		}
		if got := headerName(t, victim); got != "Ada Lovelace" {
			t.Fatalf("victim header %q after the attacker's requests with T0", got)
		}

		// The attacker completes their own sign-in (as Mallory) through the stub.
		e.op.SetUser(mallory())
		cb, err := e.op.Approve(authA)
		if err != nil {
			t.Fatal(err)
		}
		r := attacker.Get(cb)
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("attacker's own callback through the stub: %d", r.StatusCode)
		}
		if got := headerName(t, attacker); got != "Mallory" {
			t.Errorf("attacker after their own sign-in through T0 is %q, want Mallory (never the victim)", got)
		}
		if got := headerName(t, victim); got != "Ada Lovelace" {
			t.Errorf("victim header %q after the attacker's sign-in through T0", got)
		}
	})
}

// TestAttack2FixationPendingSwapsVictimAccount: fixation (T0 planted) plus the attacker's own pending
// sign-in in T0. Pending sign-ins move into the victim's renewed session T1, so the attacker's pending
// state, PKCE verifier and nonce live on inside the victim's signed-in session for up to 10 minutes. The
// attacker gets a code for their own account against that state and sends the victim to the callback
// URL (a top-level GET carries the Lax cookie): the victim's session is swapped to the attacker's account
// (login CSRF after the victim signed in).
func TestAttack2FixationPendingSwapsVictimAccount(t *testing.T) {
	t.Skip("KNOWN LIMITATION (needs cookie injection, prevented by the __Host- cookie over https): SignIn moves every pending sign-in of T0, including one the fixation attacker started, into the victim's renewed session; its callback later swaps the victim into the attacker's account")
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	attacker := e.app.Browser()
	authA := attacker.StartSignIn("/")
	t0 := attacker.SessionCookie()
	victim := e.app.Browser()
	atkPlantCookie(victim, e.app, t0.Name, t0.Value)
	mustSignIn(t, e, victim)
	if got := headerName(t, victim); got != "Ada Lovelace" {
		t.Fatalf("victim %q", got)
	}
	// The attacker signs in at the provider as themselves against the state they started, and keeps
	// the callback URL instead of following it.
	e.op.SetUser(mallory())
	cb, err := e.op.Approve(authA)
	if err != nil {
		t.Fatal(err)
	}
	victim.Get(cb) // the attacker's link, opened by the victim
	if got := headerName(t, victim); got != "Ada Lovelace" {
		t.Errorf("the victim, signed in as Ada, is now signed in as %q through the attacker's pending sign-in", got)
	}
}

// TestAttack2StubRevertsRenewedCookie: a browser has two sign-ins pending (two tabs), so a stub is kept
// under T0 when the first callback renews T0 to T1. Any other request of that browser that left with T0
// before the callback's response arrived (a tab's htmx request, the second tab loading a page) finds the
// stub, and Save answers it with Set-Cookie: T0 (scs marks every loaded session modified when there is an
// idle timeout). The browser replaces T1 with T0: it is signed out, and the sign-in it just completed is
// lost. Without a stub the same request finds nothing and sets no cookie.
func TestAttack2StubRevertsRenewedCookie(t *testing.T) {
	// Regression test for a bug fixed in 9970ce8 (found independently by this review): the touch path of
	// Save wrote Set-Cookie: T0 for the stub.
	atk2Stores(t, func(t *testing.T, store func(t *testing.T) scs.Store) {
		e := newEnv(t, authtest.Options{ClientSecret: "s3cret"}, withStore(store(t)))
		b := e.app.Browser()
		authA := b.StartSignIn("/a")
		b.StartSignIn("/b") // the other tab's pending sign-in
		t0 := b.SessionCookie()
		cb, err := e.op.Approve(authA)
		if err != nil {
			t.Fatal(err)
		}
		if r := b.Get(cb); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("callback %d", r.StatusCode)
		}
		t1 := b.SessionCookie()

		// The request that left with T0 a moment before.
		r := atk2WithCookie(t, e, http.MethodGet, "/fragments/header", t0.Value, "HX-Request", "true")
		if c := atk2SetCookie(r, t0.Name); c != nil && c.Value != t1.Value && c.MaxAge >= 0 {
			appURL, _ := url.Parse(e.app.URL)
			b.Jar.SetCookies(appURL, r.Cookies())
			t.Errorf("a request carrying the pre-sign-in token was answered Set-Cookie %s=%.8s… (expires %s): it replaces the renewed token",
				c.Name, c.Value, c.Expires.Format(time.RFC3339))
		}
		if got := headerName(t, b); got != "Ada Lovelace" {
			t.Errorf("the browser that just signed in shows %q", got)
		}
	})
}

// TestAttack2StubOutlivesItsMinute: the stub is committed to live one minute; requests with T0 (the
// attacker polling it) touch it, and the touch must not stretch it to the idle timeout. Its deadline
// bounds every touch's expiry.
func TestAttack2StubOutlivesItsMinute(t *testing.T) {
	// Regression test for a bug fixed in 9970ce8 (found independently by this review): the stub's encoded
	// deadline was now+SESSION_LIFETIME, so each touch extended it to the idle timeout.
	atk2Stores(t, func(t *testing.T, store func(t *testing.T) scs.Store) {
		e := newEnv(t, authtest.Options{ClientSecret: "s3cret"}, withStore(store(t)))
		b := e.app.Browser()
		authA := b.StartSignIn("/a")
		b.StartSignIn("/b")
		t0 := b.SessionCookie()
		cb, err := e.op.Approve(authA)
		if err != nil {
			t.Fatal(err)
		}
		b.Get(cb)
		for _, path := range []string{"/", "/fragments/header", "/profile", "/nope"} {
			r := atk2WithCookie(t, e, http.MethodGet, path, t0.Value)
			if c := atk2SetCookie(r, t0.Name); c != nil {
				t.Errorf("GET %s with T0: Set-Cookie %s=%.8s… MaxAge=%d", path, c.Name, c.Value, c.MaxAge)
			}
		}
		keys, deadline, found := atk2Stored(t, e, t0.Value)
		if !found {
			t.Fatal("the stub is gone within its minute")
		}
		if !slices.Contains(keys, "stub") || slices.Contains(keys, "user") {
			t.Errorf("stub keys %v", keys)
		}
		if time.Until(deadline) > 61*time.Second {
			t.Errorf("the stub under T0 now lives until %s (%s), not one minute", deadline.Format(time.RFC3339), time.Until(deadline).Round(time.Second))
		}
	})
}

// TestAttack2PendingLostBehindSlowCallback: tab A's callback waits on a slow token endpoint (> the
// 500 ms lock bound) when tab B clicks Sign in. B's /auth/login gives up waiting, adds its pending
// sign-in to T0 and saves it; then A's callback, which loaded T0 before B's pending was there, renews
// T0 with its own stale copy: B's pending sign-in is neither moved to T1 nor kept in a stub, and B's
// sign-in fails with "Sign-in link not recognised".
func TestAttack2PendingLostBehindSlowCallback(t *testing.T) {
	// Regression test for a fixed bug:: a sign-in started while another tab's callback waits > LockWait on the token endpoint is lost: SignIn renews from the callback's stale copy of the pending list (auth/session.go SignIn/livePending)")
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	cbA, err := e.op.Approve(b.StartSignIn("/a"))
	if err != nil {
		t.Fatal(err)
	}
	entered, release := blockRefresh(e.op, 3600) // holds the code exchange too
	done := make(chan *apptest.Response, 1)
	go func() { done <- b.Get(cbA) }()
	waitEntered(t, entered)
	authB := b.StartSignIn("/b") // waits LockWait, then goes ahead
	close(release)
	if r := <-done; r.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback A: %d %.300s", r.StatusCode, r.Body)
	}
	e.op.SetBehavior(func(b *authtest.Behavior) {})
	cbB, err := e.op.Approve(authB)
	if err != nil {
		t.Fatal(err)
	}
	if r := b.Get(cbB); r.StatusCode != http.StatusSeeOther {
		t.Errorf("tab B's sign-in, started while tab A's callback was slow, failed: %d %s", r.StatusCode,
			strings.TrimSpace(r.Doc.Find("h1").First().Text()))
	}
}

// TestAttack2ParallelRefreshReplaysRefreshToken: two tabs load /profile at the same moment with an
// expired access token while the provider's token endpoint takes longer than the 500 ms lock bound. The
// second request stops waiting and refreshes with the same refresh token the first one is already
// redeeming: the provider sees a rotated refresh token replayed (RFC 9700 §4.14.2: theft), revokes the
// grant, and the app signs the person out.
func TestAttack2ParallelRefreshReplaysRefreshToken(t *testing.T) {
	// Regression test for a fixed bug:: with a token endpoint slower than LockWait (500 ms), two parallel /profile requests redeem the same refresh token; the provider flags reuse and revokes the grant, the person is signed out (auth/session.go Serialize gives up the lock; handlers/pages.go profile refreshes without it)")
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	e.op.SetBehavior(func(b *authtest.Behavior) { b.ExpiresIn = 5 })
	b := e.app.Browser()
	mustSignIn(t, e, b)
	entered, release := blockRefresh(e.op, 5)
	done := make(chan *apptest.Response, 1)
	go func() { done <- b.Get("/profile") }()
	waitEntered(t, entered)
	second := b.Get("/profile") // the other tab
	close(release)
	first := <-done
	if st := e.op.Requests(); st.RefreshReuse != 0 {
		t.Errorf("the provider saw %d refresh token replays (statuses %d, %d)", st.RefreshReuse, first.StatusCode, second.StatusCode)
	}
	if got := headerName(t, b); got != "Ada Lovelace" {
		t.Errorf("after two parallel profile loads the person is signed out (header %q)", got)
	}
}

// TestAttack2SignOutNotUndoneBySlowRequest: the resurrection regression on both stores, with the
// request in flight outliving the lock bound: a refresh in flight while the person signs out, and one in
// flight while the provider ends the session by back-channel logout.
func TestAttack2SignOutNotUndoneBySlowRequest(t *testing.T) {
	atk2Stores(t, func(t *testing.T, store func(t *testing.T) scs.Store) {
		for _, how := range []string{"logout", "backchannel"} {
			t.Run(how, func(t *testing.T) {
				e := newEnv(t, authtest.Options{ClientSecret: "s3cret"}, withStore(store(t)))
				e.op.SetBehavior(func(b *authtest.Behavior) { b.ExpiresIn = 5 })
				b := e.app.Browser()
				mustSignIn(t, e, b)
				t1 := b.SessionCookie()
				csrf := b.CSRFToken()
				sid := e.op.Requests().LastSID
				entered, release := blockRefresh(e.op, 5)
				done := make(chan *apptest.Response, 1)
				go func() { done <- b.Get("/profile") }()
				waitEntered(t, entered)
				time.Sleep(600 * time.Millisecond) // past the lock bound
				switch how {
				case "logout":
					other := e.app.Browser()
					atkPlantCookie(other, e.app, t1.Name, t1.Value)
					if r := other.Post("/auth/logout", url.Values{"csrf_token": {csrf}}); r.StatusCode != http.StatusSeeOther {
						close(release)
						t.Fatalf("logout %d", r.StatusCode)
					}
				case "backchannel":
					tok := e.op.LogoutToken(func(c map[string]any) { c["sid"] = sid })
					resp, err := http.PostForm(e.app.URL+"/auth/backchannel-logout", url.Values{"logout_token": {tok}})
					if err != nil {
						close(release)
						t.Fatal(err)
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						close(release)
						t.Fatalf("back-channel logout %d", resp.StatusCode)
					}
				}
				close(release)
				<-done
				if _, found := atk2StoredKeys(t, e, t1.Value); found {
					t.Errorf("the ended session T1 is back in the store")
				}
				probe := e.app.Browser()
				atkPlantCookie(probe, e.app, t1.Name, t1.Value)
				if got := headerName(t, probe); got != "" {
					t.Errorf("T1 shows %q after %s", got, how)
				}
			})
		}
	})
}

// TestAttack2TouchKeepsTimeouts: Save's touch path still enforces the idle timeout (a session left alone
// longer is gone, and a request with its token neither revives it nor gets a cookie for it) and the
// absolute lifetime (a session kept busy is still ended at SESSION_LIFETIME).
func TestAttack2TouchKeepsTimeouts(t *testing.T) {
	atk2Stores(t, func(t *testing.T, store func(t *testing.T) scs.Store) {
		t.Run("idle", func(t *testing.T) {
			e := newEnv(t, authtest.Options{ClientSecret: "s3cret"}, withStore(store(t)), func(o *apptest.Options) {
				o.Env[auth.EnvSessionIdle] = "1500ms"
				o.Env[auth.EnvSessionLifetime] = "1h"
			})
			b := e.app.Browser()
			mustSignIn(t, e, b)
			t1 := b.SessionCookie()
			time.Sleep(2 * time.Second)
			r := atk2WithCookie(t, e, http.MethodGet, "/fragments/header", t1.Value, "HX-Request", "true")
			if c := atk2SetCookie(r, t1.Name); c != nil && c.Value == t1.Value {
				t.Errorf("an idle-expired token was sent back by Set-Cookie")
			}
			if strings.Contains(r.Body, "Ada Lovelace") {
				t.Errorf("idle-expired session still signed in")
			}
			if _, found := atk2StoredKeys(t, e, t1.Value); found {
				t.Errorf("idle-expired session revived in the store")
			}
		})
		t.Run("lifetime", func(t *testing.T) {
			e := newEnv(t, authtest.Options{ClientSecret: "s3cret"}, withStore(store(t)), func(o *apptest.Options) {
				o.Env[auth.EnvSessionIdle] = "2s"
				o.Env[auth.EnvSessionLifetime] = "3s"
			})
			b := e.app.Browser()
			mustSignIn(t, e, b)
			t1 := b.SessionCookie()
			deadline := time.Now().Add(3 * time.Second)
			for time.Now().Before(deadline.Add(-300 * time.Millisecond)) {
				if got := headerName(t, b); got != "Ada Lovelace" {
					t.Fatalf("signed out before the lifetime: %q", got)
				}
				time.Sleep(400 * time.Millisecond)
			}
			time.Sleep(time.Until(deadline) + 300*time.Millisecond)
			r := atk2WithCookie(t, e, http.MethodGet, "/fragments/header", t1.Value, "HX-Request", "true")
			if strings.Contains(r.Body, "Ada Lovelace") {
				t.Errorf("a session kept busy outlived SESSION_LIFETIME")
			}
			if c := atk2SetCookie(r, t1.Name); c != nil && c.Value == t1.Value {
				t.Errorf("a token past its lifetime was sent back by Set-Cookie")
			}
		})
	})
}

// TestAttack2StaleTokenWithoutStubSetsNoCookie: the baseline of the stub bug: with a single pending
// sign-in there is no stub, and a request still carrying T0 gets no cookie and leaves T1 alone.
func TestAttack2StaleTokenWithoutStubSetsNoCookie(t *testing.T) {
	atk2Stores(t, func(t *testing.T, store func(t *testing.T) scs.Store) {
		e := newEnv(t, authtest.Options{ClientSecret: "s3cret"}, withStore(store(t)))
		b := e.app.Browser()
		authA := b.StartSignIn("/a")
		t0 := b.SessionCookie()
		cb, err := e.op.Approve(authA)
		if err != nil {
			t.Fatal(err)
		}
		b.Get(cb)
		if _, found := atk2StoredKeys(t, e, t0.Value); found {
			t.Errorf("a session is kept under T0 although no other sign-in was pending")
		}
		r := atk2WithCookie(t, e, http.MethodGet, "/fragments/header", t0.Value, "HX-Request", "true")
		if c := atk2SetCookie(r, t0.Name); c != nil {
			t.Errorf("a request with the spent T0 got Set-Cookie %s=%.8s… MaxAge=%d", c.Name, c.Value, c.MaxAge)
		}
		if got := headerName(t, b); got != "Ada Lovelace" {
			t.Errorf("header %q", got)
		}
	})
}

// TestAttack2SignInStartedWithStaleTokenIsStranded: a tab's "Sign in" click that left with T0 just
// before another tab's callback renewed T0 (two pending, so a stub is kept) lands in the stub: its
// pending sign-in is saved under T0, no cookie is set (right: that would sign the browser out), but the
// browser holds T1, so that sign-in comes back to a session that never heard of it and fails.
func TestAttack2SignInStartedWithStaleTokenIsStranded(t *testing.T) {
	// Regression test for a fixed bug: (low): /auth/login carrying the pre-sign-in token adds its pending sign-in to the stub under T0, which the browser (now on T1) never presents again; that sign-in fails with 'Sign-in link not recognised'")
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	authA := b.StartSignIn("/a")
	b.StartSignIn("/b")
	t0 := b.SessionCookie()
	cb, err := e.op.Approve(authA)
	if err != nil {
		t.Fatal(err)
	}
	b.Get(cb)
	r := atk2WithCookie(t, e, http.MethodGet, "/auth/login?return_to=/c", t0.Value)
	// The stale request is asked to come again, without a cookie that would replace T1...
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Set-Cookie") != "" || !strings.Contains(r.Header.Get("Location"), "again=1") {
		t.Fatalf("login with T0: %d, Location %q, Set-Cookie %q", r.StatusCode, r.Header.Get("Location"), r.Header.Get("Set-Cookie"))
	}
	// ...and the browser comes again with the cookie it holds now.
	r2 := b.Get(r.Header.Get("Location"))
	if r2.StatusCode != http.StatusSeeOther {
		t.Fatalf("login again: %d", r2.StatusCode)
	}
	cbC, err := e.op.Approve(r2.Location())
	if err != nil {
		t.Fatal(err)
	}
	if res := b.Get(cbC); res.StatusCode != http.StatusSeeOther {
		t.Errorf("the sign-in started with the stale token failed: %d %s", res.StatusCode, strings.TrimSpace(res.Doc.Find("h1").First().Text()))
	}
}

// TestAttack2ParallelSignInClicks: several tabs click Sign in at the same moment (within the lock bound):
// no pending sign-in is lost, and each then completes, one after the other, through the renewed tokens.
func TestAttack2ParallelSignInClicks(t *testing.T) {
	atk2Stores(t, func(t *testing.T, store func(t *testing.T) scs.Store) {
		e := newEnv(t, authtest.Options{ClientSecret: "s3cret"}, withStore(store(t)))
		b := e.app.Browser()
		b.Get("/") // a session cookie first, so the clicks share it
		b.StartSignIn("/warm")
		const n = 4
		auths := make([]string, n)
		done := make(chan struct{})
		for i := range n {
			go func() {
				defer func() { done <- struct{}{} }()
				r := atkDo(t, e.app, b, http.MethodGet, "/auth/login?return_to=/tab"+string(rune('a'+i)), "")
				auths[i] = r.Header.Get("Location")
			}()
		}
		for range n {
			<-done
		}
		for i, a := range auths {
			cb, err := e.op.Approve(a)
			if err != nil {
				t.Fatalf("tab %d: %v", i, err)
			}
			if r := b.Get(cb); r.StatusCode != http.StatusSeeOther {
				t.Errorf("tab %d's sign-in failed: %d %s", i, r.StatusCode, strings.TrimSpace(r.Doc.Find("h1").First().Text()))
			}
		}
		if got := headerName(t, b); got != "Ada Lovelace" {
			t.Errorf("header %q", got)
		}
	})
}
