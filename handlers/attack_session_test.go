package handlers_test

// Attacks on the session itself: fixation, the renamed-token window, sign-out and back-channel logout
// racing requests in flight, parallel callbacks and sign-outs.

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hxoidc/hxoidc/auth/authtest"
	"github.com/hxoidc/hxoidc/handlers/apptest"
)

// TestAttackFixationWithUnknownToken: a cookie value the attacker made up is never adopted as a session
// token, and the token a browser ends up with after signing in is new.
func TestAttackFixationWithUnknownToken(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	victim := e.app.Browser()
	name := e.app.Sessions.CookieName()
	const chosen = "attacker-chosen-token-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	atkPlantCookie(victim, e.app, name, chosen)
	mustSignIn(t, e, victim)
	if c := victim.SessionCookie(); c == nil || c.Value == chosen {
		t.Fatalf("session token after sign-in is the attacker's chosen value: %v", c)
	}
	attacker := e.app.Browser()
	atkPlantCookie(attacker, e.app, name, chosen)
	if got := headerName(t, attacker); got != "" {
		t.Errorf("the attacker's made-up token shows %q", got)
	}
	if got := headerName(t, victim); got != "Ada Lovelace" {
		t.Errorf("victim header %q", got)
	}
}

// TestAttackFixationThroughRenamedToken: an attacker mints an anonymous session T0 (one GET of
// /auth/login), fixes it into the victim's browser (shared kiosk, cookie tossing over http, a leaked
// cookie), and waits. The victim signs in; the app renews T0 to T1 against fixation. The attacker's
// requests with T0 must not reach the victim's session.
func TestAttackFixationThroughRenamedToken(t *testing.T) {
	// Regression test for a fixed bug: for 60 s after sign-in any request carrying the pre-sign-in token T0 is rewritten to the renewed token T1 (Sessions.Serialize/follow) and is even sent Set-Cookie: T1, defeating RenewToken's anti-fixation
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	attacker := e.app.Browser()
	attacker.StartSignIn("/") // creates the anonymous session T0 in the store
	t0 := attacker.SessionCookie()
	if t0 == nil {
		t.Fatal("no anonymous session after /auth/login")
	}

	victim := e.app.Browser()
	atkPlantCookie(victim, e.app, t0.Name, t0.Value)
	mustSignIn(t, e, victim)
	t1 := victim.SessionCookie()
	if t1 == nil || t1.Value == t0.Value {
		t.Fatalf("token not renewed at sign-in: %v -> %v", t0, t1)
	}

	// The attacker keeps polling with T0.
	if got := headerName(t, attacker); got != "" {
		t.Errorf("attacker holding the pre-sign-in token sees the victim's session: header %q", got)
	}
	if c := attacker.SessionCookie(); c != nil && c.Value == t1.Value {
		t.Errorf("attacker holding the pre-sign-in token was handed the victim's renewed token by Set-Cookie")
	}
	if p := attacker.Get("/profile"); p.StatusCode == http.StatusOK {
		t.Errorf("attacker reads the victim's profile: %s", p.TestID("profile-name").Text())
	}
}

// blockRefresh makes the provider's next refresh-token responses wait until release is closed, and
// reports on entered when one is waiting. It lets a test hold a request of the app inside its refresh.
func blockRefresh(op *authtest.Provider, expiresIn int) (entered chan struct{}, release chan struct{}) {
	entered, release = make(chan struct{}, 16), make(chan struct{})
	op.SetBehavior(func(b *authtest.Behavior) {
		b.ExpiresIn = expiresIn
		b.TokenResponse = func(map[string]any) {
			entered <- struct{}{}
			select {
			case <-release:
			case <-time.After(20 * time.Second):
			}
		}
	})
	return entered, release
}

func waitEntered(t *testing.T, entered chan struct{}) {
	t.Helper()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the app never asked the provider for a refresh")
	}
}

// TestAttackStaleTokenRequestResurrectsSignedOutSession: a request that carries the token from before
// the sign-in (sent by the same browser a moment before the callback renewed it) is followed to the new
// token but locked under the old one, so it runs in parallel with a sign-out of the new token, and
// writes the destroyed session back.
func TestAttackStaleTokenRequestResurrectsSignedOutSession(t *testing.T) {
	// Was a bug: a request in flight (here one waiting on the provider longer than the session lock is held
	// for it) committed the session back after POST /auth/logout destroyed it. Sessions are now only
	// updated, never re-created, by requests that loaded them.
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	e.op.SetBehavior(func(b *authtest.Behavior) { b.ExpiresIn = 5 }) // /profile will refresh
	b := e.app.Browser()
	authURL := b.StartSignIn("/")
	t0 := b.SessionCookie()
	cb, err := e.op.Approve(authURL)
	if err != nil {
		t.Fatal(err)
	}
	if r := b.Get(cb); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback %d", r.StatusCode)
	}
	t1 := b.SessionCookie()
	csrf := b.CSRFToken()

	// The pre-sign-in token gives no access at all.
	old := e.app.Browser()
	atkPlantCookie(old, e.app, t0.Name, t0.Value)
	if got := headerName(t, old); got != "" {
		t.Fatalf("the pre-sign-in token T0 shows %q", got)
	}
	// A request of the same browser is held inside its token refresh.
	entered, release := blockRefresh(e.op, 5)
	stale := e.app.Browser()
	atkPlantCookie(stale, e.app, t1.Name, t1.Value)
	done := make(chan *apptest.Response, 1)
	go func() { done <- stale.Get("/profile") }()
	waitEntered(t, entered)

	// Meanwhile the person signs out with T1.
	out := b.Post("/auth/logout", url.Values{"csrf_token": {csrf}})
	if out.StatusCode != http.StatusSeeOther {
		close(release)
		t.Fatalf("logout %d", out.StatusCode)
	}
	probe := e.app.Browser()
	atkPlantCookie(probe, e.app, t1.Name, t1.Value)
	if got := headerName(t, probe); got != "" {
		close(release)
		t.Fatalf("logout did not end the session: %q", got)
	}
	close(release)
	<-done

	probe = e.app.Browser()
	atkPlantCookie(probe, e.app, t1.Name, t1.Value)
	if got := headerName(t, probe); got != "" {
		t.Errorf("the session signed out with POST /auth/logout is alive again (token T1 shows %q)", got)
	}
}

// TestAttackBackchannelLogoutUndoneByRequestInFlight: the provider ends the session by back-channel
// logout while the browser has a request in flight (here /profile refreshing its tokens; with an idle
// timeout every request commits the session). The session must stay ended.
func TestAttackBackchannelLogoutUndoneByRequestInFlight(t *testing.T) {
	// Regression test for a fixed bug: EndSessions deletes the store row without the session's lock; a request that loaded the session before commits it back afterwards (scs marks every loaded session Modified when IdleTimeout is set), undoing back-channel logout
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	e.op.SetBehavior(func(b *authtest.Behavior) { b.ExpiresIn = 5 })
	b := e.app.Browser()
	mustSignIn(t, e, b)
	sid := e.op.Requests().LastSID

	entered, release := blockRefresh(e.op, 5)
	done := make(chan *apptest.Response, 1)
	go func() { done <- b.Get("/profile") }()
	waitEntered(t, entered)

	tok := e.op.LogoutToken(func(c map[string]any) { c["sid"] = sid })
	resp, err := http.PostForm(e.app.URL+"/auth/backchannel-logout", url.Values{"logout_token": {tok}})
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	resp.Body.Close()
	close(release)
	if resp.StatusCode != http.StatusOK || !strings.Contains(e.app.Logs.String(), "sessions_ended=1") {
		t.Fatalf("back-channel logout: %d", resp.StatusCode)
	}
	<-done
	if got := headerName(t, b); got != "" {
		t.Errorf("the session ended by back-channel logout is alive again: header %q", got)
	}
}

// TestAttackBackchannelLogoutEndsIdleSession: without a request in flight back-channel logout does end
// the session (the regression baseline for the race above).
func TestAttackBackchannelLogoutEndsIdleSession(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	mustSignIn(t, e, b)
	tok := e.op.LogoutToken(func(c map[string]any) { c["sid"] = e.op.Requests().LastSID })
	resp, err := http.PostForm(e.app.URL+"/auth/backchannel-logout", url.Values{"logout_token": {tok}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := headerName(t, b); got != "" {
		t.Errorf("still signed in as %q", got)
	}
}

// TestAttackParallelReplayOfOneCallback: the same callback URL fired many times at once by one browser
// (double clicks, a replaying attacker with the cookie): one sign-in, the code redeemed once, every other
// answer a readable 400, no 5xx.
func TestAttackParallelReplayOfOneCallback(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	cb, err := e.op.Approve(b.StartSignIn("/landing"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	res := make([]*apptest.Response, n)
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); res[i] = b.Get(cb) }()
	}
	wg.Wait()
	ok := 0
	for i, r := range res {
		switch r.StatusCode {
		case http.StatusSeeOther:
			ok++
			atkSameOrigin(t, e.app, "callback", r.Header.Get("Location"))
		case http.StatusBadRequest:
			atkRefused(t, "replayed callback", 400, r.StatusCode, r.Header, r.Body)
		default:
			t.Errorf("callback %d: status %d; body %.300s", i, r.StatusCode, r.Body)
		}
	}
	if ok != 1 {
		t.Errorf("%d callbacks signed in, want exactly 1", ok)
	}
	if st := e.op.Requests(); st.Token != 1 || st.CodeReuse != 0 {
		t.Errorf("token endpoint called %d times (code reuse %d); want the code spent once", st.Token, st.CodeReuse)
	}
	if got := headerName(t, b); got != "Ada Lovelace" {
		t.Errorf("header %q after the replays", got)
	}
}

// TestAttackParallelLogouts: many sign-out POSTs of one session at once: one goes to the provider, the
// others find nobody signed in; no 5xx, and the session is gone.
func TestAttackParallelLogouts(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	mustSignIn(t, e, b)
	csrf := b.CSRFToken()
	const n = 8
	var wg sync.WaitGroup
	res := make([]*apptest.Response, n)
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); res[i] = b.Post("/auth/logout", url.Values{"csrf_token": {csrf}}) }()
	}
	wg.Wait()
	toProvider := 0
	for i, r := range res {
		if r.StatusCode != http.StatusSeeOther {
			t.Errorf("logout %d: status %d; %.300s", i, r.StatusCode, r.Body)
			continue
		}
		if strings.HasPrefix(r.Location(), e.op.URL()) {
			toProvider++
		} else if r.Location() != e.app.URL+"/" {
			t.Errorf("logout %d: Location %q", i, r.Location())
		}
	}
	if toProvider != 1 {
		t.Errorf("%d sign-outs went to the provider, want 1", toProvider)
	}
	if got := headerName(t, b); got != "" {
		t.Errorf("still signed in as %q", got)
	}
	if n := atkCount(e.app, `msg="signed out"`); n != 1 {
		t.Errorf("%d 'signed out' log lines, want 1", n)
	}
}

// TestAttackParallelCallbacksAndLogoutOfOneBrowser: tabs finishing sign-ins while another tab signs out:
// no 5xx, no panic, and the browser ends in a consistent state (signed in or out, never half).
func TestAttackParallelCallbacksAndLogoutOfOneBrowser(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	mustSignIn(t, e, b)
	csrf := b.CSRFToken()
	var cbs []string
	for i := range 4 {
		cb, err := e.op.Approve(b.StartSignIn("/tab/" + string(rune('a'+i))))
		if err != nil {
			t.Fatal(err)
		}
		cbs = append(cbs, cb)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var statuses []int
	for _, cb := range cbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := b.Get(cb)
			mu.Lock()
			statuses = append(statuses, r.StatusCode)
			mu.Unlock()
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := b.Post("/auth/logout", url.Values{"csrf_token": {csrf}})
		mu.Lock()
		statuses = append(statuses, r.StatusCode)
		mu.Unlock()
	}()
	wg.Wait()
	for _, s := range statuses {
		if s >= 500 {
			t.Errorf("a 5xx among %v", statuses)
		}
	}
	h := b.Get("/fragments/header", "HX-Request", "true")
	if h.StatusCode != http.StatusOK {
		t.Fatalf("header after the race: %d", h.StatusCode)
	}
	if name := strings.TrimSpace(h.TestID("user-name").Text()); name != "" && name != "Ada Lovelace" {
		t.Errorf("header shows %q", name)
	}
	if strings.Contains(e.app.Logs.String(), "PANIC") {
		t.Errorf("panic in the log")
	}
}

// TestAttackPendingFlood: thousands of sign-in starts in one session keep at most auth.MaxPending
// pending sign-ins (the oldest go first), the session stays small, and the newest still work.
func TestAttackPendingFlood(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	first := b.StartSignIn("/first")
	var last string
	for i := range 300 {
		last = b.StartSignIn("/p/" + strings.Repeat("x", 1000) + string(rune('a'+i%26)))
	}
	all, err := e.app.Store.(interface {
		All() (map[string][]byte, error)
	}).All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 {
		t.Errorf("%d sessions in the store, want 1", len(all))
	}
	for _, v := range all {
		if len(v) > 32<<10 {
			t.Errorf("session grew to %d bytes after 300 sign-in starts", len(v))
		}
	}
	cbFirst, err := e.op.Approve(first)
	if err != nil {
		t.Fatal(err)
	}
	if r := b.Get(cbFirst); r.StatusCode != http.StatusBadRequest {
		t.Errorf("the oldest pending sign-in should have been dropped: status %d", r.StatusCode)
	}
	cbLast, err := e.op.Approve(last)
	if err != nil {
		t.Fatal(err)
	}
	if r := b.Get(cbLast); r.StatusCode != http.StatusSeeOther {
		t.Errorf("the newest pending sign-in failed: %d %.300s", r.StatusCode, r.Body)
	}
}
