package interop

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2/memstore"

	"github.com/hxoidc/hxoidc/auth"
	"github.com/hxoidc/hxoidc/auth/devidp"
	"github.com/hxoidc/hxoidc/auth/devidp/devidptest"
	"github.com/hxoidc/hxoidc/handlers/apptest"
)

// The relying party as registered at every provider: a confidential client (client_secret_basic).
const (
	clientID     = "hxoidc-interop"
	clientSecret = "interop-secret-3f9c2a7d1e8b4c6a"
	// scopes: offline_access is how devidp is asked for a refresh token; oidc-provider drops it without
	// prompt=consent and issues refresh tokens by its issueRefreshToken policy instead (provider.mjs).
	scopes = "openid profile email offline_access"
)

// provider is one real OpenID provider the app is tested against; every provider gets the same assertions.
type provider struct {
	name string
	// start runs the provider with the app's client registered (redirect, post-logout and back-channel
	// logout URIs under appURL) and returns its issuer.
	start func(t *testing.T, appURL string) string
	// who signs in, and what the provider says about them.
	who                          person
	wantSub, wantName, wantEmail string
}

var providers = []provider{
	{
		name:    "devidp",
		start:   startDevIDP,
		who:     person{Username: "ada", Password: devidp.DefaultPassword},
		wantSub: "user-ada", wantName: "Ada Lovelace", wantEmail: "ada@example.test",
	},
	{
		name: "oidc-provider",
		start: func(t *testing.T, appURL string) string {
			return startOIDCProvider(t, oidcProviderClient{
				ID: clientID, Secret: clientSecret,
				RedirectURIs:          []string{appURL + "/auth/callback"},
				PostLogoutRedirectURI: []string{appURL + "/"},
				BackchannelLogoutURI:  appURL + "/auth/backchannel-logout",
			})
		},
		// oidc-provider's development interactions take any password.
		who:     person{Username: "ada", Password: "any"},
		wantSub: "ada", wantName: "Ada Lovelace", wantEmail: "ada@example.test",
	},
}

// startDevIDP runs the development provider in-process on a 127.0.0.1 port. Its logs are shown when the
// test fails.
func startDevIDP(t *testing.T, appURL string) string {
	logs := &apptest.SyncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("devidp log:\n%s", logs.String())
		}
	})
	idp := devidptest.Start(t, devidp.Config{
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Clients: []devidp.Client{{
			ID: clientID, Secret: clientSecret,
			RedirectURIs:           []string{appURL + "/auth/callback"},
			PostLogoutRedirectURIs: []string{appURL + "/"},
			BackChannelLogoutURI:   appURL + "/auth/backchannel-logout",
		}},
	})
	return idp.URL
}

// env is the app wired to one running provider.
type env struct {
	provider
	issuer string
	app    *apptest.App
}

func (e *env) providerOrigin() string {
	u, _ := url.Parse(e.issuer)
	return origin(u)
}

func TestInterop(t *testing.T) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			// The app's address must be registered at the provider before the app starts, and the app
			// needs the provider's issuer: listen first, start the provider, then the app on the listener.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = ln.Close() })
			appURL := "http://" + ln.Addr().String()
			issuer := p.start(t, appURL)
			app := apptest.Start(t, apptest.Options{
				Issuer: issuer, ClientID: clientID, ClientSecret: clientSecret, Listener: ln,
				// Without a cleanup goroutine: apptest's own memstore.New + StopCleanup is a data race
				// (scs writes stopCleanup from the goroutine it starts), which -race reports.
				Store: memstore.NewWithCleanupInterval(0),
				Env:   map[string]string{auth.EnvScopes: scopes},
			})
			if err := app.Client.Ready(); err != nil {
				t.Fatalf("app discovery: %v", err)
			}
			e := &env{provider: p, issuer: issuer, app: app}

			t.Run("discovery", e.testDiscovery)
			t.Run("sign-in through the app", e.testSignIn)
			t.Run("userinfo", e.testUserInfo)
			t.Run("refresh with rotation", e.testRefresh)
			t.Run("RP-initiated logout", e.testRPInitiatedLogout)
			t.Run("back-channel logout", e.testBackchannelLogout)
		})
	}
}

// discoveryDoc is what these tests read from the provider's discovery document themselves.
type discoveryDoc struct {
	Issuer                      string   `json:"issuer"`
	IssParameterSupported       bool     `json:"authorization_response_iss_parameter_supported"`
	CodeChallengeMethods        []string `json:"code_challenge_methods_supported"`
	TokenAuthMethods            []string `json:"token_endpoint_auth_methods_supported"`
	EndSessionEndpoint          string   `json:"end_session_endpoint"`
	UserinfoEndpoint            string   `json:"userinfo_endpoint"`
	BackchannelLogout           bool     `json:"backchannel_logout_supported"`
	BackchannelLogoutSession    bool     `json:"backchannel_logout_session_supported"`
	GrantTypesSupported         []string `json:"grant_types_supported"`
	IDTokenSigningAlgsSupported []string `json:"id_token_signing_alg_values_supported"`
}

func (e *env) discovery(t *testing.T) discoveryDoc {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(e.issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	defer resp.Body.Close()
	var d discoveryDoc
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery: status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return d
}

// appEnv is the configuration apptest gives the app, for clients built the same way.
func (e *env) appEnv(issuer string) func(string) string {
	m := map[string]string{
		auth.EnvIssuer: issuer, auth.EnvClientID: clientID, auth.EnvClientSecret: clientSecret,
		auth.EnvBaseURL: e.app.URL, auth.EnvSessionStore: "memory", auth.EnvHTTPTimeout: "5s", auth.EnvScopes: scopes,
	}
	return func(k string) string { return m[k] }
}

func (e *env) testDiscovery(t *testing.T) {
	d := e.discovery(t)
	if d.Issuer != e.issuer {
		t.Errorf("discovery issuer %q, want %q", d.Issuer, e.issuer)
	}
	// RFC 9207: advertised, so the app requires and checks iss on every authorization response.
	if !d.IssParameterSupported {
		t.Errorf("authorization_response_iss_parameter_supported is not true")
	}
	if !slices.Contains(d.CodeChallengeMethods, "S256") {
		t.Errorf("code_challenge_methods_supported %v lacks S256", d.CodeChallengeMethods)
	}
	if !slices.Contains(d.TokenAuthMethods, "client_secret_basic") {
		t.Errorf("token_endpoint_auth_methods_supported %v lacks client_secret_basic", d.TokenAuthMethods)
	}
	if !d.BackchannelLogout || d.EndSessionEndpoint == "" || d.UserinfoEndpoint == "" {
		t.Errorf("backchannel_logout_supported %t, end_session_endpoint %q, userinfo_endpoint %q", d.BackchannelLogout, d.EndSessionEndpoint, d.UserinfoEndpoint)
	}
	t.Logf("discovery: backchannel_logout_session_supported=%t grant_types_supported=%v id_token_signing_alg_values_supported=%v token_endpoint_auth_methods_supported=%v",
		d.BackchannelLogoutSession, d.GrantTypesSupported, d.IDTokenSigningAlgsSupported, d.TokenAuthMethods)

	// A client built through auth.LoadConfig, as cmd/server and apptest build theirs.
	cfg, err := auth.LoadConfig(e.appEnv(e.issuer))
	if err != nil {
		t.Fatal(err)
	}
	c := auth.NewClient(cfg, nil, slog.New(slog.DiscardHandler))
	if err := c.Discover(t.Context()); err != nil {
		t.Fatalf("Discover: %v", err)
	}
	if err := c.Ready(); err != nil {
		t.Fatalf("Ready after Discover: %v", err)
	}
	if got := c.ProviderOrigins(); !slices.Contains(got, e.providerOrigin()) {
		t.Errorf("ProviderOrigins %v lacks %s", got, e.providerOrigin())
	}
	end, err := url.Parse(c.EndSessionURL(t.Context(), "hint", "st"))
	if err != nil || origin(end)+end.Path != d.EndSessionEndpoint {
		t.Errorf("EndSessionURL %v is not at end_session_endpoint %q", end, d.EndSessionEndpoint)
	}
	_, authURL, err := c.AuthCodeURL(t.Context(), "/", false)
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := url.Parse(authURL); u == nil || origin(u) != e.providerOrigin() || u.Query().Get("code_challenge_method") != "S256" {
		t.Errorf("AuthCodeURL %q: not at the provider or without S256", authURL)
	}

	// The issuer is compared exactly: a trailing slash is a configuration error, named as such.
	cfg, err = auth.LoadConfig(e.appEnv(e.issuer + "/"))
	if err != nil {
		t.Fatal(err)
	}
	err = auth.NewClient(cfg, nil, slog.New(slog.DiscardHandler)).Discover(t.Context())
	var mismatch *auth.IssuerMismatchError
	if !errors.As(err, &mismatch) || mismatch.Discovered != e.issuer {
		t.Errorf("Discover with issuer %q: %v, want an IssuerMismatchError naming %q", e.issuer+"/", err, e.issuer)
	}
}

// signIn signs b in through the app: /auth/login, the provider's pages, the callback. It returns the
// provider walk.
func (e *env) signIn(t *testing.T, b *apptest.Browser, returnTo string) *visit {
	t.Helper()
	authURL := b.StartSignIn(returnTo)
	if u, _ := url.Parse(authURL); u == nil || origin(u) != e.providerOrigin() {
		t.Fatalf("/auth/login sent the browser to %q, not to the provider %s", authURL, e.providerOrigin())
	}
	v, err := walk(b.HTTP, authURL, e.providerOrigin(), e.who)
	if err != nil {
		t.Fatalf("provider interaction: %v\ntrace: %s", err, strings.Join(v.Trace, "\n  "))
	}
	if v.Left == nil || !strings.HasPrefix(v.Left.String(), e.app.URL+"/auth/callback?") {
		t.Fatalf("provider did not redirect to the callback: left %v, page %q\ntrace: %s", v.Left, v.Page, strings.Join(v.Trace, "\n  "))
	}
	q := v.Left.Query()
	if q.Get("error") != "" {
		t.Fatalf("authorization error %q: %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("iss") != e.issuer {
		t.Errorf("authorization response iss %q, want %q (RFC 9207)", q.Get("iss"), e.issuer)
	}
	r := b.Get(v.Left.String())
	if r.StatusCode != http.StatusSeeOther || r.Location() != e.app.URL+returnTo {
		t.Fatalf("callback: status %d location %q, want 303 to %s; body %.500s", r.StatusCode, r.Location(), returnTo, r.Body)
	}
	return v
}

func headerName(t *testing.T, b *apptest.Browser) string {
	t.Helper()
	r := b.Get("/fragments/header", "HX-Request", "true")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("/fragments/header: status %d", r.StatusCode)
	}
	return strings.TrimSpace(r.TestID("user-name").Text())
}

func (e *env) testSignIn(t *testing.T) {
	b := e.app.Browser()
	if got := headerName(t, b); got != "" {
		t.Fatalf("a new browser is signed in as %q", got)
	}
	v := e.signIn(t, b, "/profile")
	t.Logf("provider pages: %s", strings.Join(v.Trace, ", "))
	if v.Passwords == 0 {
		t.Errorf("no login form with a password was submitted: %v", v.Forms)
	}
	if got := headerName(t, b); got != e.wantName {
		t.Errorf("/fragments/header shows %q, want %q", got, e.wantName)
	}
	prof := b.Get("/profile")
	if prof.StatusCode != http.StatusOK {
		t.Fatalf("/profile: status %d", prof.StatusCode)
	}
	if got := strings.TrimSpace(prof.TestID("profile-name").Text()); got != e.wantName {
		t.Errorf("profile name %q, want %q", got, e.wantName)
	}
	// oidc-provider puts profile and email claims only in userinfo for the code flow (Core §5.4), so the
	// e-mail here proves the app read userinfo.
	if email := prof.TestID("claim-email"); email.Length() != 1 || !strings.Contains(email.Text(), e.wantEmail) {
		t.Errorf("profile claim-email %q, want %q", email.Text(), e.wantEmail)
	}
	if sub := prof.TestID("claim-sub"); sub.Length() == 1 && !strings.Contains(sub.Text(), e.wantSub) {
		t.Errorf("profile claim-sub %q, want %q", sub.Text(), e.wantSub)
	}
}

// directSignIn drives the app's auth.Client without the app's handlers: AuthCodeURL, the provider's pages
// in a fresh browser, Exchange with the pending sign-in.
func (e *env) directSignIn(t *testing.T) (*auth.Identity, auth.Pending) {
	t.Helper()
	ctx := t.Context()
	c := e.app.Client
	p, authURL, err := c.AuthCodeURL(ctx, "/", false)
	if err != nil {
		t.Fatal(err)
	}
	v, err := walk(e.app.Browser().HTTP, authURL, e.providerOrigin(), e.who)
	if err != nil || v.Left == nil {
		t.Fatalf("provider interaction: %v, left %v\ntrace: %s", err, v.Left, strings.Join(v.Trace, "\n  "))
	}
	q := v.Left.Query()
	if q.Get("state") != p.State {
		t.Fatalf("authorization response state %q, want %q", q.Get("state"), p.State)
	}
	// RFC 9207 is enforced with this provider: without iss the response is refused before the code is
	// spent...
	noIss := url.Values{}
	for k, vs := range q {
		if k != "iss" {
			noIss[k] = vs
		}
	}
	if _, err := c.Exchange(ctx, p, noIss); !errors.Is(err, auth.ErrIssuerMismatch) {
		t.Errorf("Exchange without iss: %v, want ErrIssuerMismatch", err)
	}
	// ...and with the provider's own iss it passes.
	id, err := c.Exchange(ctx, p, q)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if id.User.Subject != e.wantSub || id.User.Issuer != e.issuer || id.User.Name != e.wantName || id.User.Email != e.wantEmail {
		t.Errorf("identity sub %q iss %q name %q email %q; want %q %q %q %q",
			id.User.Subject, id.User.Issuer, id.User.Name, id.User.Email, e.wantSub, e.issuer, e.wantName, e.wantEmail)
	}
	if id.User.SessionID == "" {
		t.Errorf("ID token without sid: back-channel logout could only end every session of the user")
	}
	if id.Tokens.IDToken == "" || id.Tokens.AccessToken == "" {
		t.Fatalf("tokens: id_token %t access_token %t", id.Tokens.IDToken != "", id.Tokens.AccessToken != "")
	}
	return id, p
}

func (e *env) testUserInfo(t *testing.T) {
	id, _ := e.directSignIn(t)
	raw, err := e.app.Client.UserInfo(t.Context(), id.User, id.Tokens)
	if err != nil {
		t.Fatalf("UserInfo: %v", err)
	}
	var claims struct {
		Sub   string `json:"sub"`
		Name  string `json:"name"`
		Email string `json:"email"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatalf("userinfo claims %s: %v", raw, err)
	}
	if claims.Sub != id.User.Subject || claims.Sub != e.wantSub {
		t.Errorf("userinfo sub %q, ID token sub %q, want %q", claims.Sub, id.User.Subject, e.wantSub)
	}
	if claims.Name != e.wantName || claims.Email != e.wantEmail {
		t.Errorf("userinfo name %q email %q, want %q %q", claims.Name, claims.Email, e.wantName, e.wantEmail)
	}
	// The userinfo check of the subject is the app's: another user's claims are refused.
	other := id.User
	other.Subject = "someone-else"
	if _, err := e.app.Client.UserInfo(t.Context(), other, id.Tokens); !errors.Is(err, auth.ErrUserinfo) {
		t.Errorf("UserInfo for another subject: %v, want ErrUserinfo", err)
	}
}

func (e *env) testRefresh(t *testing.T) {
	ctx := t.Context()
	c := e.app.Client
	id, _ := e.directSignIn(t)
	t0 := id.Tokens
	if t0.RefreshToken == "" {
		t.Fatalf("no refresh token (scopes %q)", scopes)
	}
	t1, err := c.Refresh(ctx, id.User, t0)
	if err != nil {
		t.Fatalf("first refresh: %v", err)
	}
	if t1.RefreshToken == "" || t1.RefreshToken == t0.RefreshToken {
		t.Fatalf("refresh token not rotated by the first refresh")
	}
	if t1.AccessToken == "" || t1.AccessToken == t0.AccessToken {
		t.Errorf("first refresh: no new access token")
	}
	t2, err := c.Refresh(ctx, id.User, t1)
	if err != nil {
		t.Fatalf("second refresh: %v", err)
	}
	if t2.RefreshToken == "" || t2.RefreshToken == t1.RefreshToken || t2.RefreshToken == t0.RefreshToken {
		t.Fatalf("refresh token not rotated by the second refresh")
	}
	if t2.IDToken == "" || t2.Nonce != t0.Nonce {
		t.Errorf("after refresh: id_token %t, nonce %q want %q", t2.IDToken != "", t2.Nonce, t0.Nonce)
	}
	// The refreshed access token works at userinfo, for the same subject.
	raw, err := c.UserInfo(ctx, id.User, t2)
	if err != nil {
		t.Fatalf("UserInfo with the refreshed access token: %v", err)
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil || claims.Sub != e.wantSub {
		t.Errorf("userinfo after refresh: sub %q (%v), want %q", claims.Sub, err, e.wantSub)
	}

	// Re-using the first (rotated) refresh token is refused: invalid_grant from the token endpoint.
	_, err = c.Refresh(ctx, id.User, t0)
	var ae *auth.Error
	if !errors.As(err, &ae) || !errors.Is(ae.Err, auth.ErrTokenEndpoint) || !strings.Contains(ae.Err.Error(), "invalid_grant") {
		t.Fatalf("refresh with a rotated refresh token: %v, want an auth.Error wrapping ErrTokenEndpoint (invalid_grant)", err)
	}
	if ae.Status != http.StatusBadRequest {
		t.Errorf("rotated refresh token: status %d, want 400", ae.Status)
	}
	// Both providers treat that reuse as theft and revoke the whole family, the newest token included.
	if _, err := c.Refresh(ctx, id.User, t2); !errors.Is(err, auth.ErrTokenEndpoint) {
		t.Errorf("refresh with the newest token after a reuse: %v, want it revoked (invalid_grant)", err)
	}
}

func (e *env) testRPInitiatedLogout(t *testing.T) {
	b := e.app.Browser()
	e.signIn(t, b, "/")
	if got := headerName(t, b); got != e.wantName {
		t.Fatalf("signed in as %q, want %q", got, e.wantName)
	}
	d := e.discovery(t)

	out := b.Post("/auth/logout", url.Values{"csrf_token": {b.CSRFToken()}})
	if out.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /auth/logout: status %d, body %.300s", out.StatusCode, out.Body)
	}
	end, err := url.Parse(out.Location())
	if err != nil || origin(end)+end.Path != d.EndSessionEndpoint {
		t.Fatalf("logout redirect %q is not to end_session_endpoint %q", out.Location(), d.EndSessionEndpoint)
	}
	eq := end.Query()
	if eq.Get("id_token_hint") == "" || eq.Get("post_logout_redirect_uri") != e.app.URL+"/" || eq.Get("client_id") != clientID || eq.Get("state") == "" {
		t.Fatalf("logout redirect %q lacks id_token_hint, post_logout_redirect_uri=%s/, client_id or state", out.Location(), e.app.URL)
	}
	if got := headerName(t, b); got != "" {
		t.Errorf("still signed in to the app as %q after POST /auth/logout", got)
	}

	// The provider ends its session (oidc-provider asks for confirmation, a form) and sends the browser back.
	v, err := walk(b.HTTP, out.Location(), e.providerOrigin(), e.who)
	if err != nil {
		t.Fatalf("provider logout: %v\ntrace: %s", err, strings.Join(v.Trace, "\n  "))
	}
	t.Logf("provider logout: %s", strings.Join(v.Trace, ", "))
	want := e.app.URL + "/?state=" + url.QueryEscape(eq.Get("state"))
	if v.Left == nil || v.Left.String() != want {
		t.Fatalf("provider logout ended at %v (page %q), want a redirect to %s\ntrace: %s", v.Left, v.Page, want, strings.Join(v.Trace, "\n  "))
	}
	back := b.Get(v.Left.String())
	if back.StatusCode != http.StatusOK || strings.TrimSpace(back.TestID("flash-message").Text()) != "You are signed out." {
		t.Errorf("return from the provider: status %d, flash %q, want \"You are signed out.\"", back.StatusCode, back.TestID("flash-message").Text())
	}

	// The provider session is gone too: signing in again asks for the password.
	v = e.signIn(t, b, "/")
	if v.Passwords == 0 {
		t.Errorf("signing in again after logout did not ask for a password: the provider session survived (forms %v)", v.Forms)
	}
	if got := headerName(t, b); got != e.wantName {
		t.Errorf("signed in again as %q, want %q", got, e.wantName)
	}
}

var (
	signedInSID = regexp.MustCompile(`msg="signed in" .*\bsid=(\S+)`)
	backchannel = regexp.MustCompile(`msg="back-channel logout" .*\bsid=(\S+) sessions_ended=(\d+)`)
)

func (e *env) testBackchannelLogout(t *testing.T) {
	// Two browsers of the same person, each with its own provider session.
	a, other := e.app.Browser(), e.app.Browser()
	mark := len(e.app.Logs.String())
	e.signIn(t, a, "/")
	m := signedInSID.FindStringSubmatch(e.app.Logs.String()[mark:])
	if m == nil {
		t.Fatalf("no \"signed in\" log line with a sid for browser A")
	}
	sidA := m[1]
	e.signIn(t, other, "/")
	if headerName(t, a) != e.wantName || headerName(t, other) != e.wantName {
		t.Fatalf("not signed in")
	}

	// Browser A ends its provider session at the provider itself, never asking the app: no id_token_hint,
	// no post_logout_redirect_uri, only the provider's cookies. The provider tells the app over the back
	// channel.
	mark = len(e.app.Logs.String())
	d := e.discovery(t)
	v, err := walk(a.HTTP, d.EndSessionEndpoint, e.providerOrigin(), e.who)
	if err != nil {
		t.Fatalf("provider logout: %v\ntrace: %s", err, strings.Join(v.Trace, "\n  "))
	}
	if v.Left != nil {
		t.Fatalf("provider logout without post_logout_redirect_uri left the provider for %s", v.Left)
	}
	t.Logf("provider logout: %s; page %q", strings.Join(v.Trace, ", "), v.Page)

	var ended []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		ended = nil
		for _, m := range backchannel.FindAllStringSubmatch(e.app.Logs.String()[mark:], -1) {
			ended = append(ended, "sid="+m[1]+" sessions_ended="+m[2])
		}
		if len(ended) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // the back-channel POST is the provider's, asynchronous to us
	}
	if !slices.Contains(ended, "sid="+sidA+" sessions_ended=1") {
		t.Fatalf("app logged back-channel logouts %v, want one for sid=%s with sessions_ended=1; refused ones:\n%s",
			ended, sidA, grepLines(e.app.Logs.String()[mark:], "back-channel"))
	}
	if got := headerName(t, a); got != "" {
		t.Errorf("browser A still signed in as %q after the provider's back-channel logout", got)
	}
	if got := headerName(t, other); got != e.wantName {
		t.Errorf("the other browser's session (another provider session) was ended too: header %q", got)
	}
}

func grepLines(s, substr string) string {
	var out []string
	for line := range strings.Lines(s) {
		if strings.Contains(line, substr) {
			out = append(out, strings.TrimRight(line, "\n"))
		}
	}
	return strings.Join(out, "\n")
}
