package handlers_test

// Abuse of POST /auth/backchannel-logout: token confusion (an ID token, another client's token, HS256 and
// none), oversize and malformed bodies, browsers posting cross-site, replay in parallel, and key-refetch
// amplification.

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hxoidc/hxoidc/auth"
	"github.com/hxoidc/hxoidc/auth/authtest"
	"github.com/hxoidc/hxoidc/handlers/apptest"
)

func atkPostLogoutToken(t *testing.T, e *env, body, contentType string, hdr ...string) *atkResp {
	t.Helper()
	all := append([]string{"Content-Type", contentType}, hdr...)
	r := atkDo(t, e.app, nil, http.MethodPost, "/auth/backchannel-logout", body, all...)
	return r
}

// TestAttackBackchannelTokenConfusion: nothing but a logout token of this provider for this client ends
// a session.
func TestAttackBackchannelTokenConfusion(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	var mu sync.Mutex
	var idToken string
	e.op.SetBehavior(func(b *authtest.Behavior) {
		b.TokenResponse = func(r map[string]any) { mu.Lock(); idToken = r["id_token"].(string); mu.Unlock() }
	})
	ada := e.app.Browser()
	mustSignIn(t, e, ada)
	sid := e.op.Requests().LastSID
	e.op.SetBehavior(func(b *authtest.Behavior) { *b = authtest.Behavior{} })
	mu.Lock()
	raw := idToken
	mu.Unlock()

	sign := func(mode string, mutate func(map[string]any)) string {
		e.op.SetBehavior(func(b *authtest.Behavior) { b.Sign = mode })
		defer e.op.SetBehavior(func(b *authtest.Behavior) { b.Sign = "" })
		return e.op.LogoutToken(func(c map[string]any) {
			c["sid"] = sid
			if mutate != nil {
				mutate(c)
			}
		})
	}
	form := func(tok string) string { return url.Values{"logout_token": {tok}}.Encode() }
	for _, tc := range []struct{ name, body, ctype string }{
		{"the person's own ID token", form(raw), "application/x-www-form-urlencoded"},
		{"HS256 with the client secret", form(sign(authtest.SignHS256, nil)), "application/x-www-form-urlencoded"},
		{"HS256 with the public key", form(sign(authtest.SignHS256PublicKey, nil)), "application/x-www-form-urlencoded"},
		{"alg none", form(sign(authtest.SignNone, nil)), "application/x-www-form-urlencoded"},
		{"wrong key", form(sign(authtest.SignWrongKey, nil)), "application/x-www-form-urlencoded"},
		{"another client's token", form(sign("", func(c map[string]any) { c["aud"] = []string{"other-client"} })), "application/x-www-form-urlencoded"},
		{"events claim of another kind", form(sign("", func(c map[string]any) {
			c["events"] = map[string]any{"http://schemas.openid.net/event/other": map[string]any{}}
		})), "application/x-www-form-urlencoded"},
		{"events as a string", form(sign("", func(c map[string]any) { c["events"] = "http://schemas.openid.net/event/backchannel-logout" })), "application/x-www-form-urlencoded"},
		{"JSON body", `{"logout_token":"` + sign("", nil) + `"}`, "application/json"},
		{"malformed form", "logout_token=%zz%", "application/x-www-form-urlencoded"},
		{"multipart without boundary", "logout_token=" + sign("", nil), "multipart/form-data"},
		{"token twice, bad one first", "logout_token=x&logout_token=" + sign("", nil), "application/x-www-form-urlencoded"},
		{"JWE-looking token", form("a.b.c.d.e"), "application/x-www-form-urlencoded"},
		{"huge garbage token", form(strings.Repeat("A", 60000)), "application/x-www-form-urlencoded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := atkPostLogoutToken(t, e, tc.body, tc.ctype)
			if r.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400; %.200s", r.StatusCode, r.Body)
			}
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
			}
			if got := headerName(t, ada); got != "Ada Lovelace" {
				t.Fatalf("the session was ended by %s", tc.name)
			}
		})
	}
	// A valid token for a sid naming another subject ends nothing.
	r := atkPostLogoutToken(t, e, form(sign("", func(c map[string]any) { c["sub"] = "user-666" })), "application/x-www-form-urlencoded")
	if r.StatusCode != http.StatusOK || headerName(t, ada) != "Ada Lovelace" {
		t.Errorf("sid of Ada with sub of someone else: status %d, Ada signed in: %q", r.StatusCode, headerName(t, ada))
	}
}

// TestAttackBackchannelFromABrowser: the endpoint is for servers; a browser-made cross-site POST, a GET,
// an oversize body are refused without touching a session.
func TestAttackBackchannelFromABrowser(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	ada := e.app.Browser()
	mustSignIn(t, e, ada)
	valid := e.op.LogoutToken(func(c map[string]any) { c["sid"] = e.op.Requests().LastSID })
	body := url.Values{"logout_token": {valid}}.Encode()

	r := atkPostLogoutToken(t, e, body, "application/x-www-form-urlencoded", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site browser POST: %d", r.StatusCode)
	}
	r = atkDo(t, e.app, nil, http.MethodGet, "/auth/backchannel-logout?logout_token="+url.QueryEscape(valid), "")
	if r.StatusCode < 400 || r.StatusCode >= 500 {
		t.Errorf("GET: %d", r.StatusCode)
	}
	before := atkCount(e.app, atkFailedLine)
	r = atkPostLogoutToken(t, e, body+"&pad="+strings.Repeat("A", 100<<10), "application/x-www-form-urlencoded")
	if r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversize body: %d", r.StatusCode)
	}
	if n := atkCount(e.app, atkFailedLine) - before; n != 1 {
		t.Errorf("oversize body: %d log lines", n)
	}
	if got := headerName(t, ada); got != "Ada Lovelace" {
		t.Fatalf("a refused request ended the session")
	}
	// The very token still works from the provider afterwards.
	if r := atkPostLogoutToken(t, e, body, "application/x-www-form-urlencoded"); r.StatusCode != http.StatusOK {
		t.Errorf("the valid token after the refused attempts: %d", r.StatusCode)
	}
}

// TestAttackBackchannelParallelReplay: one logout token posted many times at once is accepted once.
func TestAttackBackchannelParallelReplay(t *testing.T) {
	// Regression test for a fixed bug: the jti replay check is check-then-act (Seen, EndSessions, MarkSeen): the same logout token posted concurrently is accepted several times
	// A store whose walk over all sessions takes a moment, as a real one with many sessions does.
	store := &slowIterStore{MemoryStore: auth.NewMemoryStore(0)}
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"}, func(o *apptest.Options) { o.Store = store })
	mustSignIn(t, e, e.app.Browser())
	tok := e.op.LogoutToken(func(c map[string]any) { delete(c, "sid") })
	body := url.Values{"logout_token": {tok}}.Encode()
	const n = 16
	var wg sync.WaitGroup
	codes := make([]int, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := http.Post(e.app.URL+"/auth/backchannel-logout", "application/x-www-form-urlencoded", strings.NewReader(body))
			if err == nil {
				codes[i] = resp.StatusCode
				resp.Body.Close()
			}
		}()
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, c := range codes {
		if c == http.StatusOK {
			ok++
		}
	}
	if ok != 1 {
		t.Errorf("the same logout token (one jti) was accepted %d times: %v", ok, codes)
	}
}

type slowIterStore struct{ *auth.MemoryStore }

func (s *slowIterStore) All() (map[string][]byte, error) {
	time.Sleep(200 * time.Millisecond)
	return s.MemoryStore.All()
}

// TestAttackBackchannelUnknownKidAmplification: anybody can post tokens with the public iss, aud and a
// made-up kid; each one must not make the app refetch the provider's JWKS.
func TestAttackBackchannelUnknownKidAmplification(t *testing.T) {
	// Regression test for a fixed bug: every unauthenticated POST /auth/backchannel-logout with a forged token naming an unknown kid makes the app refetch the provider's JWKS (go-oidc refetches on every unknown kid, no rate limit)
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	e.op.SetBehavior(func(b *authtest.Behavior) { b.Sign = authtest.SignUnknownKID })
	tok := e.op.LogoutToken(nil)
	body := url.Values{"logout_token": {tok}}.Encode()
	before := e.op.Requests().JWKS
	// A burst of forged tokens at once: each waits at most one refetch interval, and they share fetches.
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			if r := atkPostLogoutToken(t, e, body, "application/x-www-form-urlencoded"); r.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d", r.StatusCode)
			}
		})
	}
	wg.Wait()
	if n := e.op.Requests().JWKS - before; n > 2 {
		t.Errorf("30 forged tokens caused %d JWKS fetches at the provider (at most one per %s allowed)", n, auth.LogoutKeyRefresh)
	}
}
