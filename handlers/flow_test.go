package handlers_test

import (
	"context"
	"errors"
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

// env is one app wired to one controllable provider.
type env struct {
	op  *authtest.Provider
	app *apptest.App
}

func newEnv(t *testing.T, opts authtest.Options, appOpts ...func(*apptest.Options)) *env {
	t.Helper()
	if opts.ClientSecret == "" && len(opts.AuthMethods) == 0 && !publicClient(opts) {
		opts.ClientSecret = "s3cret"
	}
	op := authtest.New(t, opts)
	o := apptest.Options{Issuer: op.Issuer(), ClientID: op.ClientID(), ClientSecret: op.ClientSecret(),
		Env: map[string]string{auth.EnvHTTPTimeout: "2s"}}
	for _, f := range appOpts {
		f(&o)
	}
	app := apptest.Start(t, o)
	op.RegisterRedirectURI(app.URL + "/auth/callback")
	op.RegisterPostLogoutURI(app.URL + "/")
	op.RegisterPostLogoutURI(app.URL + "/auth/signed-out")
	return &env{op: op, app: app}
}

func publicClient(o authtest.Options) bool {
	return len(o.AuthMethods) == 1 && o.AuthMethods[0] == authtest.AuthMethodNone
}

// signIn runs the whole sign-in and returns the callback response.
func (e *env) signIn(t *testing.T, b *apptest.Browser, returnTo string) *apptest.Response {
	t.Helper()
	cb, err := e.op.Approve(b.StartSignIn(returnTo))
	if err != nil {
		t.Fatalf("provider refused the authorization request: %v", err)
	}
	return b.Get(cb)
}

func mustSignIn(t *testing.T, e *env, b *apptest.Browser) {
	t.Helper()
	r := e.signIn(t, b, "/")
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback: status %d, want 303; body %.500s", r.StatusCode, r.Body)
	}
}

func headerName(t *testing.T, b *apptest.Browser) string {
	t.Helper()
	r := b.Get("/fragments/header", "HX-Request", "true")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("/fragments/header: status %d", r.StatusCode)
	}
	return strings.TrimSpace(r.TestID("user-name").Text())
}

func TestSignInAndOut(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts authtest.Options
	}{
		{"client_secret_basic", authtest.Options{ClientSecret: "s3cret", AuthMethods: []string{authtest.AuthMethodBasic}}},
		{"client_secret_post", authtest.Options{ClientSecret: "s3cret", AuthMethods: []string{authtest.AuthMethodPost}}},
		{"public client", authtest.Options{AuthMethods: []string{authtest.AuthMethodNone}}},
		{"iss parameter and Asgardeo-like issuer", authtest.Options{ClientSecret: "s3cret", IssParameterSupported: true, IssuerSuffix: "/oauth2/token"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts)
			b := e.app.Browser()

			home := b.Get("/")
			if home.StatusCode != http.StatusOK || home.TestID("sign-in").Length() == 0 {
				t.Fatalf("signed-out home: status %d, sign-in control %d", home.StatusCode, home.TestID("sign-in").Length())
			}

			authURL := b.StartSignIn("/profile?tab=claims")
			q := mustParse(t, authURL).Query()
			for k, want := range map[string]string{"response_type": "code", "code_challenge_method": "S256", "client_id": e.op.ClientID(), "redirect_uri": e.app.URL + "/auth/callback"} {
				if q.Get(k) != want {
					t.Errorf("authorization request %s = %q, want %q", k, q.Get(k), want)
				}
			}
			for _, k := range []string{"state", "nonce", "code_challenge"} {
				if len(q.Get(k)) < 43 {
					t.Errorf("authorization request %s = %q: want >= 256 bits of randomness", k, q.Get(k))
				}
			}
			if !strings.Contains(" "+q.Get("scope")+" ", " openid ") {
				t.Errorf("scope %q lacks openid", q.Get("scope"))
			}
			before := b.SessionCookie()
			cb, err := e.op.Approve(authURL)
			if err != nil {
				t.Fatal(err)
			}
			r := b.Get(cb)
			if r.StatusCode != http.StatusSeeOther || r.Location() != e.app.URL+"/profile?tab=claims" {
				t.Fatalf("callback: status %d location %q, want 303 to /profile?tab=claims; body %.300s", r.StatusCode, r.Location(), r.Body)
			}
			wantMethod := authtest.AuthMethodBasic // preferred when the provider offers both
			if len(tc.opts.AuthMethods) > 0 {
				wantMethod = tc.opts.AuthMethods[0]
			}
			if got := e.op.Requests().LastTokenAuthMethod; got != wantMethod {
				t.Errorf("token endpoint auth method %q, want %v", got, tc.opts.AuthMethods)
			}
			after := b.SessionCookie()
			if after == nil || (before != nil && before.Value == after.Value) {
				t.Errorf("session token not renewed at sign-in (fixation): before %v after %v", before, after)
			}
			if got := headerName(t, b); got != "Ada Lovelace" {
				t.Errorf("header shows %q, want Ada Lovelace", got)
			}
			prof := b.Get("/profile")
			if prof.StatusCode != http.StatusOK || prof.TestID("claim-email").Length() != 1 || !strings.Contains(prof.TestID("claim-email").Text(), "ada@example.test") {
				t.Errorf("profile: status %d, email row %q", prof.StatusCode, prof.TestID("claim-email").Text())
			}

			// Sign out: CSRF token, session destroyed, browser sent to the provider's end-session endpoint.
			out := b.Post("/auth/logout", url.Values{"csrf_token": {b.CSRFToken()}})
			if out.StatusCode != http.StatusSeeOther {
				t.Fatalf("logout: status %d, body %.300s", out.StatusCode, out.Body)
			}
			end := mustParse(t, out.Location())
			eq := end.Query()
			if !strings.HasPrefix(out.Location(), e.op.URL()) || eq.Get("id_token_hint") == "" || eq.Get("post_logout_redirect_uri") != e.app.URL+"/" ||
				eq.Get("client_id") != e.op.ClientID() || eq.Get("state") == "" {
				t.Fatalf("logout redirect %q lacks id_token_hint/post_logout_redirect_uri/client_id/state", out.Location())
			}
			if got := headerName(t, b); got != "" {
				t.Errorf("still signed in as %q after logout", got)
			}
			back := b.Get(eq.Get("post_logout_redirect_uri") + "?state=" + url.QueryEscape(eq.Get("state")))
			if back.StatusCode != http.StatusOK || !strings.Contains(back.TestID("flash-message").Text(), "signed out") {
				t.Errorf("return from provider logout: status %d, flash %q", back.StatusCode, back.TestID("flash-message").Text())
			}
			if p := b.Get("/profile"); p.StatusCode != http.StatusSeeOther || !strings.HasPrefix(p.Location(), e.app.URL+"/auth/login?return_to=%2Fprofile") {
				t.Errorf("profile after logout: status %d location %q", p.StatusCode, p.Location())
			}
		})
	}
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return u
}

// TestCallbackFailures: each misbehaviour of the provider or the request ends in a readable page with the
// right status, one log line with the reason, and an existing session unharmed.
func TestCallbackFailures(t *testing.T) {
	type row struct {
		name     string
		opts     authtest.Options
		behave   func(*authtest.Behavior)
		callback func(cb string) string // rewrites the callback URL
		status   int
		logHas   string
	}
	setID := func(f func(map[string]any)) func(*authtest.Behavior) {
		return func(b *authtest.Behavior) { b.IDToken = f }
	}
	rows := []row{
		{name: "access_denied", behave: func(b *authtest.Behavior) { b.AuthorizeError = "access_denied" }, status: 403, logHas: "access_denied"},
		{name: "temporarily_unavailable", behave: func(b *authtest.Behavior) { b.AuthorizeError = "temporarily_unavailable" }, status: 503, logHas: "temporarily_unavailable"},
		{name: "unknown state", callback: func(cb string) string { return withParam(cb, "state", "forged") }, status: 400, logHas: "unknown state"},
		{name: "no state", callback: func(cb string) string { return withParam(cb, "state", "") }, status: 400, logHas: "unknown state"},
		{name: "no code", callback: func(cb string) string { return withParam(cb, "code", "") }, status: 400, logHas: "code"},
		{name: "wrong iss parameter", opts: authtest.Options{IssParameterSupported: true}, behave: func(b *authtest.Behavior) { b.IssParam = authtest.IssWrong }, status: 400, logHas: "iss mismatch"},
		{name: "iss advertised but missing", opts: authtest.Options{IssParameterSupported: true}, behave: func(b *authtest.Behavior) { b.IssParam = authtest.IssOmit }, status: 400, logHas: "iss mismatch"},
		{name: "wrong iss without advertising", behave: func(b *authtest.Behavior) { b.IssParam = authtest.IssWrong }, status: 400, logHas: "iss mismatch"},
		{name: "token endpoint 400", behave: func(b *authtest.Behavior) { b.TokenStatus = 400; b.TokenError = "invalid_grant" }, status: 400, logHas: "invalid_grant"},
		{name: "token endpoint 500", behave: func(b *authtest.Behavior) { b.TokenStatus = 500 }, status: 502, logHas: "token endpoint"},
		{name: "token endpoint hangs", behave: func(b *authtest.Behavior) { b.TokenHang = true }, status: 504, logHas: "timeout"},
		{name: "bad signature", behave: func(b *authtest.Behavior) { b.Sign = authtest.SignWrongKey }, status: 502, logHas: "invalid ID token"},
		{name: "unknown kid", behave: func(b *authtest.Behavior) { b.Sign = authtest.SignUnknownKID }, status: 502, logHas: "invalid ID token"},
		{name: "alg none", behave: func(b *authtest.Behavior) { b.Sign = authtest.SignNone }, status: 502, logHas: "invalid ID token"},
		{name: "HS256 with the client secret", behave: func(b *authtest.Behavior) { b.Sign = authtest.SignHS256 }, status: 502, logHas: "invalid ID token"},
		{name: "HS256 with the public key", behave: func(b *authtest.Behavior) { b.Sign = authtest.SignHS256PublicKey }, status: 502, logHas: "invalid ID token"},
		{name: "HS256 even when advertised", opts: authtest.Options{SigningAlgs: []string{"RS256", "HS256"}}, behave: func(b *authtest.Behavior) { b.Sign = authtest.SignHS256 }, status: 502, logHas: "invalid ID token"},
		{name: "wrong iss claim", behave: setID(func(c map[string]any) { c["iss"] = "https://evil.example" }), status: 502, logHas: "different provider"},
		{name: "wrong aud", behave: setID(func(c map[string]any) { c["aud"] = []string{"other-client"} }), status: 502, logHas: "audience"},
		{name: "extra aud without azp", behave: setID(func(c map[string]any) { c["aud"] = []string{"test-client", "other"} }), status: 502, logHas: "azp"},
		{name: "azp of another client", behave: setID(func(c map[string]any) { c["azp"] = "other" }), status: 502, logHas: "azp"},
		{name: "expired", behave: setID(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }), status: 502, logHas: "expired"},
		{name: "iat in the future", behave: setID(func(c map[string]any) { c["iat"] = time.Now().Add(time.Hour).Unix() }), status: 502, logHas: "future"},
		{name: "iat missing", behave: setID(func(c map[string]any) { delete(c, "iat") }), status: 502, logHas: "iat"},
		{name: "nonce missing", behave: setID(func(c map[string]any) { delete(c, "nonce") }), status: 502, logHas: "nonce"},
		{name: "nonce wrong", behave: setID(func(c map[string]any) { c["nonce"] = "other" }), status: 502, logHas: "nonce"},
		{name: "at_hash wrong", behave: setID(func(c map[string]any) { c["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAA" }), status: 502, logHas: "at_hash"},
		{name: "no id_token", behave: func(b *authtest.Behavior) { b.TokenResponse = func(r map[string]any) { delete(r, "id_token") } }, status: 502, logHas: "without id_token"},
		{name: "userinfo sub mismatch", behave: func(b *authtest.Behavior) { b.UserinfoSub = "someone-else" }, status: 502, logHas: "userinfo sub"},
		{name: "userinfo 500", behave: func(b *authtest.Behavior) { b.UserinfoStatus = 500 }, status: 502, logHas: "userinfo"},
		{name: "userinfo hangs", behave: func(b *authtest.Behavior) { b.UserinfoHang = true }, status: 504, logHas: "timeout"},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.opts.ClientSecret == "" {
				tc.opts.ClientSecret = "s3cret"
			}
			e := newEnv(t, tc.opts, func(o *apptest.Options) { o.CallbackTimeout = 3 * time.Second })
			b := e.app.Browser()
			// An existing valid session must survive every failure.
			mustSignIn(t, e, b)
			e.op.SetUser(map[string]any{"sub": "user-2", "name": "Mallory"})
			if tc.behave != nil {
				e.op.SetBehavior(tc.behave)
			}
			cb, err := e.op.Approve(b.StartSignIn("/profile"))
			if err != nil {
				t.Fatal(err)
			}
			if tc.callback != nil {
				cb = tc.callback(cb)
			}
			start := time.Now()
			r := b.Get(cb)
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %.400s", r.StatusCode, tc.status, r.Body)
			}
			if took := time.Since(start); took > 30*time.Second {
				t.Errorf("callback took %s; it must answer within 30 s", took)
			}
			if r.TestID("error").Length() != 1 || r.TestID("try-again").Length() != 1 {
				t.Errorf("no readable error page with a Try again link: %.400s", r.Body)
			}
			if href, _ := r.TestID("try-again").Attr("href"); !strings.HasPrefix(href, "/auth/login?return_to=") {
				t.Errorf("Try again link %q does not start a new sign-in", href)
			}
			if !strings.Contains(r.Body, "<html") {
				t.Errorf("not a full page")
			}
			if logs := e.app.Logs.String(); !strings.Contains(logs, `msg="request failed"`) || !strings.Contains(logs, tc.logHas) {
				t.Errorf("log lacks the reason %q:\n%s", tc.logHas, logs)
			}
			e.op.SetBehavior(func(b *authtest.Behavior) { *b = authtest.Behavior{} })
			if got := headerName(t, b); got != "Ada Lovelace" {
				t.Errorf("existing session harmed: header shows %q, want Ada Lovelace", got)
			}
		})
	}
}

func withParam(raw, k, v string) string {
	u, _ := url.Parse(raw)
	q := u.Query()
	if v == "" {
		q.Del(k)
	} else {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func TestReplayedCallbackIsRefused(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	cb, err := e.op.Approve(b.StartSignIn("/"))
	if err != nil {
		t.Fatal(err)
	}
	if r := b.Get(cb); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("first callback: %d", r.StatusCode)
	}
	r := b.Get(cb)
	if r.StatusCode != http.StatusBadRequest {
		t.Fatalf("replayed callback: status %d, want 400", r.StatusCode)
	}
	if got := headerName(t, b); got != "Ada Lovelace" {
		t.Errorf("replay harmed the session: %q", got)
	}
	// The state is spent even in another browser that never started a sign-in.
	if r := e.app.Browser().Get(cb); r.StatusCode != http.StatusBadRequest {
		t.Errorf("callback in another browser: status %d, want 400", r.StatusCode)
	}
	if n := e.op.Requests().Token; n != 1 {
		t.Errorf("token endpoint called %d times; a replayed callback must not reach it", n)
	}
}

// TestParallelSignIns: several tabs of one browser sign in at once and all succeed.
func TestParallelSignIns(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	b.Get("/")
	const tabs = 4
	var cbs []string
	for i := range tabs {
		cb, err := e.op.Approve(b.StartSignIn("/tab/" + string(rune('a'+i))))
		if err != nil {
			t.Fatal(err)
		}
		cbs = append(cbs, cb)
	}
	var wg sync.WaitGroup
	results := make([]*apptest.Response, tabs)
	for i, cb := range cbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = b.Get(cb)
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.StatusCode != http.StatusSeeOther || !strings.HasSuffix(r.Location(), "/tab/"+string(rune('a'+i))) {
			t.Errorf("tab %d: status %d location %q; body %.300s", i, r.StatusCode, r.Location(), r.Body)
		}
	}
	if got := headerName(t, b); got != "Ada Lovelace" {
		t.Errorf("header %q after parallel sign-ins", got)
	}
}

func TestKeyRotation(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	mustSignIn(t, e, e.app.Browser())
	e.op.RotateKeys()
	b := e.app.Browser()
	mustSignIn(t, e, b)
	if got := headerName(t, b); got != "Ada Lovelace" {
		t.Errorf("after key rotation: header %q", got)
	}
}

func TestIssuerMismatchNamesBothValues(t *testing.T) {
	for _, tc := range []struct {
		name       string
		suffix     string // the provider's issuer path
		configured func(op *authtest.Provider) string
		discovered func(op *authtest.Provider) string // advertised issuer; "" = the real one
		want       []string
	}{
		{"trailing slash", "", func(op *authtest.Provider) string { return op.Issuer() + "/" }, nil, []string{"trailing slash"}},
		{"asgardeo suffix missing", "", func(op *authtest.Provider) string { return op.Issuer() },
			func(op *authtest.Provider) string { return op.Issuer() + "/oauth2/token" }, []string{"/oauth2/token"}},
		{"no discovery document there", "/oauth2/token", func(op *authtest.Provider) string { return op.URL() }, nil, []string{"404", "/oauth2/token"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := authtest.New(t, authtest.Options{ClientSecret: "s3cret", IssuerSuffix: tc.suffix})
			configured := tc.configured(op)
			want := append([]string{configured, "OIDC_ISSUER"}, tc.want...)
			if tc.discovered != nil {
				d := tc.discovered(op)
				op.SetBehavior(func(b *authtest.Behavior) { b.DiscoveryIssuer = d })
				want = append(want, d)
			} else if tc.configured(op) != op.Issuer()+"/" {
				want = append(want, "discovery")
			} else {
				want = append(want, op.Issuer())
			}
			cfg, err := auth.LoadConfig(mapEnv(map[string]string{auth.EnvIssuer: configured, auth.EnvClientID: "test-client"}))
			if err != nil {
				t.Fatal(err)
			}
			err = auth.NewClient(cfg, nil, discardLogger()).Discover(t.Context())
			if err == nil {
				t.Fatal("discovery accepted a mismatched issuer")
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestProviderDownThenUp(t *testing.T) {
	op := authtest.New(t, authtest.Options{ClientSecret: "s3cret"})
	op.SetBehavior(func(b *authtest.Behavior) { b.DiscoveryStatus = 503 })
	app := apptest.Start(t, apptest.Options{Issuer: op.Issuer(), ClientID: op.ClientID(), ClientSecret: op.ClientSecret()})
	op.RegisterRedirectURI(app.URL + "/auth/callback")
	b := app.Browser()

	if r := b.Get("/"); r.StatusCode != http.StatusOK {
		t.Errorf("home while the provider is down: %d", r.StatusCode)
	}
	if r := b.Get("/readyz"); r.StatusCode != http.StatusServiceUnavailable || !strings.Contains(r.Body, "503") {
		t.Errorf("readyz while down: %d %s", r.StatusCode, r.Body)
	}
	r := b.Get("/auth/login?return_to=/x")
	if r.StatusCode != http.StatusServiceUnavailable || !strings.Contains(r.Body, "try again") && !strings.Contains(r.Body, "Try again") {
		t.Fatalf("login while down: status %d body %.300s", r.StatusCode, r.Body)
	}
	if href, _ := r.TestID("try-again").Attr("href"); href != "/auth/login?return_to=%2Fx" {
		t.Errorf("Try again %q", href)
	}
	op.SetBehavior(func(b *authtest.Behavior) { b.DiscoveryStatus = 0 })
	deadline := time.Now().Add(10 * time.Second)
	for app.Client.Ready() != nil && time.Now().Before(deadline) {
		b.Get("/auth/login?return_to=/x") // a sign-in attempt re-tries discovery (at most every 2 s)
		time.Sleep(200 * time.Millisecond)
	}
	if r := b.Get("/readyz"); r.StatusCode != http.StatusOK {
		t.Fatalf("readyz after the provider came back: %d %s", r.StatusCode, r.Body)
	}
	e := &env{op: op, app: app}
	mustSignIn(t, e, b)
}

// flakyStore is a real in-memory store that can be switched to fail, like a session database going down.
type flakyStore struct {
	*auth.MemoryStore
	mu   sync.Mutex
	down bool
}

func (f *flakyStore) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errors.New("connection refused")
	}
	return nil
}

func (f *flakyStore) setDown(d bool) { f.mu.Lock(); f.down = d; f.mu.Unlock() }

func (f *flakyStore) Find(t string) ([]byte, bool, error) {
	if err := f.err(); err != nil {
		return nil, false, err
	}
	return f.MemoryStore.Find(t)
}

func (f *flakyStore) Commit(t string, b []byte, e time.Time) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.MemoryStore.Commit(t, b, e)
}

func (f *flakyStore) Delete(t string) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.MemoryStore.Delete(t)
}

func (f *flakyStore) Ping(ctx context.Context) error { return f.err() }

func TestSessionStoreDown(t *testing.T) {
	store := &flakyStore{MemoryStore: auth.NewMemoryStore(0)}
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"}, func(o *apptest.Options) { o.Store = store })
	b := e.app.Browser()
	mustSignIn(t, e, b)
	authURL := b.StartSignIn("/") // a sign-in in progress when the store goes down
	store.setDown(true)

	for _, path := range []string{"/", "/fragments/header", "/profile", "/auth/login?return_to=/"} {
		r := b.Get(path)
		if r.StatusCode != http.StatusServiceUnavailable || r.TestID("error").Length() != 1 {
			t.Errorf("%s with the store down: status %d, want a 503 page; %.200s", path, r.StatusCode, r.Body)
		}
	}
	cb, err := e.op.Approve(authURL)
	if err != nil {
		t.Fatal(err)
	}
	if r := b.Get(cb); r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("callback with the store down: %d", r.StatusCode)
	}
	if r := b.Post("/auth/logout", url.Values{"csrf_token": {"x"}}); r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("logout with the store down: %d", r.StatusCode)
	}
	if r := b.Get("/healthz"); r.StatusCode != http.StatusOK {
		t.Errorf("healthz: %d", r.StatusCode)
	}
	if r := b.Get("/readyz"); r.StatusCode != http.StatusServiceUnavailable || !strings.Contains(r.Body, "connection refused") {
		t.Errorf("readyz: %d %s", r.StatusCode, r.Body)
	}
	if !strings.Contains(e.app.Logs.String(), "session store error") {
		t.Errorf("no log line naming the store failure")
	}
	store.setDown(false)
	if got := headerName(t, b); got != "Ada Lovelace" {
		t.Errorf("session lost while the store was down: header %q", got)
	}
}

// TestStaleRequestAfterSignInKeepsTheNewCookie: a request that still carries the pre-sign-in token (sent
// before the callback's answer arrived), while another tab's sign-in is pending, must not hand the
// browser its old token back.
func TestStaleRequestAfterSignInKeepsTheNewCookie(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	first := b.StartSignIn("/")
	b.StartSignIn("/other-tab") // keeps a stub under the old token after the first sign-in
	old := b.SessionCookie()
	cb, err := e.op.Approve(first)
	if err != nil {
		t.Fatal(err)
	}
	if r := b.Get(cb); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback %d", r.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, e.app.URL+"/fragments/header", nil)
	req.Header.Set("HX-Request", "true")
	req.AddCookie(old)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if sc := resp.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("a request with the old token got Set-Cookie %q: it would sign the browser out", sc)
	}
	if headerName(t, b) != "Ada Lovelace" {
		t.Errorf("not signed in")
	}
}
