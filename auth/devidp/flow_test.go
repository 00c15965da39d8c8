package devidp_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/hxoidc/hxoidc/auth/devidp"
	"github.com/hxoidc/hxoidc/auth/devidp/devidptest"
)

const testSecret = "s3cret-for-tests"

// relyingParty is a fake app: it receives back-channel logout tokens and is the target of the
// redirect URIs (which SignIn does not follow).
type relyingParty struct {
	srv     *httptest.Server
	mu      sync.Mutex
	logouts []string
	// status is what the back-channel endpoint answers, after delay.
	status int
	delay  time.Duration
}

func newRelyingParty(t *testing.T) *relyingParty {
	t.Helper()
	rp := &relyingParty{status: http.StatusOK}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /backchannel-logout", func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Errorf("back-channel logout Content-Type = %q", ct)
		}
		rp.mu.Lock()
		rp.logouts = append(rp.logouts, r.PostFormValue("logout_token"))
		status, delay := rp.status, rp.delay
		rp.mu.Unlock()
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		}
		w.WriteHeader(status)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "relying party page "+r.URL.Path)
	})
	rp.srv = httptest.NewServer(mux)
	t.Cleanup(rp.srv.Close)
	return rp
}

func (rp *relyingParty) url(path string) string { return rp.srv.URL + path }

func (rp *relyingParty) takeLogouts() []string {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	out := rp.logouts
	rp.logouts = nil
	return out
}

// clients registers three clients at the relying party: one per token endpoint auth method.
func (rp *relyingParty) clients() []devidp.Client {
	mk := func(id, secret string) devidp.Client {
		return devidp.Client{
			ID:                     id,
			Secret:                 secret,
			RedirectURIs:           []string{rp.url("/auth/callback")},
			PostLogoutRedirectURIs: []string{rp.url("/"), rp.url("/auth/signed-out")},
			BackChannelLogoutURI:   rp.url("/backchannel-logout"),
		}
	}
	return []devidp.Client{mk("conf-basic", testSecret), mk("conf-post", testSecret), mk("public-spa", "")}
}

// rpClient is what a relying party built on go-oidc and x/oauth2 holds.
type rpClient struct {
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	oauth    *oauth2.Config
	ctx      context.Context
	issuer   string
}

func newRPClient(t *testing.T, issuer, clientID, secret string, style oauth2.AuthStyle, redirect string) *rpClient {
	t.Helper()
	ctx := oidc.ClientContext(t.Context(), &http.Client{Timeout: 10 * time.Second})
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	ep := provider.Endpoint()
	ep.AuthStyle = style
	return &rpClient{
		provider: provider,
		verifier: provider.Verifier(&oidc.Config{ClientID: clientID}),
		oauth: &oauth2.Config{
			ClientID:     clientID,
			ClientSecret: secret,
			Endpoint:     ep,
			RedirectURL:  redirect,
			Scopes:       []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess},
		},
		ctx:    ctx,
		issuer: issuer,
	}
}

// signedIn is the result of a complete sign-in.
type signedIn struct {
	token   *oauth2.Token
	rawID   string
	idToken *oidc.IDToken
	sid     string
}

// signIn runs authorize → login page → code → token exchange with PKCE and verifies the ID token.
func (c *rpClient) signIn(t *testing.T, browser *http.Client, username string) signedIn {
	t.Helper()
	state, nonce, verifier := "state-"+t.Name(), "nonce-"+oauth2.GenerateVerifier()[:16], oauth2.GenerateVerifier()
	authURL := c.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	cb, err := devidp.SignIn(t.Context(), browser, authURL, username, devidp.DefaultPassword)
	if err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	if got := cb.Scheme + "://" + cb.Host + cb.Path; got != c.oauth.RedirectURL {
		t.Fatalf("authorization response went to %q, want %q", got, c.oauth.RedirectURL)
	}
	q := cb.Query()
	if q.Get("state") != state {
		t.Fatalf("state = %q, want %q", q.Get("state"), state)
	}
	if q.Get("iss") != c.issuer {
		t.Fatalf("iss parameter = %q, want the issuer", q.Get("iss"))
	}
	tok, err := c.oauth.Exchange(c.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := c.verifier.Verify(c.ctx, rawID)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	if idt.Nonce != nonce {
		t.Fatalf("nonce = %q, want %q", idt.Nonce, nonce)
	}
	var claims struct {
		SID   string `json:"sid"`
		Email string `json:"email"`
		Name  string `json:"name"`
		User  string `json:"preferred_username"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatalf("ID token claims: %v", err)
	}
	if claims.SID == "" {
		t.Fatal("ID token has no sid claim")
	}
	if claims.User != username {
		t.Fatalf("preferred_username = %q, want %q", claims.User, username)
	}
	return signedIn{token: tok, rawID: rawID, idToken: idt, sid: claims.SID}
}

func (c *rpClient) endSessionURL(t *testing.T) string {
	t.Helper()
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := c.provider.Claims(&meta); err != nil || meta.EndSession == "" {
		t.Fatalf("end_session_endpoint missing from discovery: %v", err)
	}
	return meta.EndSession
}

// noRedirect is an HTTP client that returns redirects instead of following them.
func noRedirect(jar http.CookieJar) *http.Client {
	return &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func oauthErrorCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

func TestFullFlowPerClientAuthMethod(t *testing.T) {
	rp := newRelyingParty(t)
	idp := devidptest.Start(t, devidp.Config{Clients: rp.clients()})

	cases := []struct {
		name, clientID, secret string
		style                  oauth2.AuthStyle
	}{
		{"client_secret_basic", "conf-basic", testSecret, oauth2.AuthStyleInHeader},
		{"client_secret_post", "conf-post", testSecret, oauth2.AuthStyleInParams},
		{"public_none", "public-spa", "", oauth2.AuthStyleInParams},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rp.takeLogouts()
			c := newRPClient(t, idp.URL, tc.clientID, tc.secret, tc.style, rp.url("/auth/callback"))
			browser := devidptest.NewBrowser(t)
			s := c.signIn(t, browser, "ada")
			if s.idToken.Subject != "user-ada" {
				t.Fatalf("sub = %q", s.idToken.Subject)
			}

			// Userinfo with the access token names the same subject.
			info, err := c.provider.UserInfo(c.ctx, oauth2.StaticTokenSource(s.token))
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			if info.Subject != s.idToken.Subject || info.Email != "ada@example.test" || !info.EmailVerified {
				t.Fatalf("userinfo = %+v", info)
			}

			// Refresh rotates the refresh token; the new ID token keeps the sid.
			if s.token.RefreshToken == "" {
				t.Fatal("no refresh token although offline_access was requested")
			}
			refreshed, err := c.oauth.TokenSource(c.ctx, &oauth2.Token{RefreshToken: s.token.RefreshToken}).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if refreshed.RefreshToken == "" || refreshed.RefreshToken == s.token.RefreshToken {
				t.Fatalf("refresh token not rotated: old %q new %q", s.token.RefreshToken, refreshed.RefreshToken)
			}
			rawID2, _ := refreshed.Extra("id_token").(string)
			idt2, err := c.verifier.Verify(c.ctx, rawID2)
			if err != nil {
				t.Fatalf("verify refreshed ID token: %v", err)
			}
			var claims2 struct {
				SID string `json:"sid"`
			}
			_ = idt2.Claims(&claims2)
			if claims2.SID != s.sid || idt2.Subject != s.idToken.Subject {
				t.Fatalf("refreshed ID token sid %q sub %q, want %q %q", claims2.SID, idt2.Subject, s.sid, s.idToken.Subject)
			}
			// The new refresh token works once more (rotation again).
			refreshed2, err := c.oauth.TokenSource(c.ctx, &oauth2.Token{RefreshToken: refreshed.RefreshToken}).Token()
			if err != nil {
				t.Fatalf("second refresh: %v", err)
			}

			// RP-initiated logout with id_token_hint, post_logout_redirect_uri and state.
			endSession := c.endSessionURL(t)
			q := url.Values{
				"id_token_hint":            {s.rawID},
				"post_logout_redirect_uri": {rp.url("/auth/signed-out")},
				"state":                    {"bye-" + tc.name},
			}
			resp, err := noRedirect(browser.Jar).Get(endSession + "?" + q.Encode())
			if err != nil {
				t.Fatalf("end_session: %v", err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("end_session status = %d, want 302", resp.StatusCode)
			}
			loc, _ := resp.Location()
			if got := loc.Scheme + "://" + loc.Host + loc.Path; got != rp.url("/auth/signed-out") || loc.Query().Get("state") != "bye-"+tc.name {
				t.Fatalf("end_session redirect = %s", loc)
			}

			// The back-channel logout token was delivered before the redirect.
			logouts := rp.takeLogouts()
			if len(logouts) != 1 {
				t.Fatalf("got %d back-channel logout tokens, want 1", len(logouts))
			}
			lt, err := c.verifier.VerifyLogout(c.ctx, logouts[0])
			if err != nil {
				t.Fatalf("VerifyLogout: %v", err)
			}
			if lt.SessionID != s.sid || lt.Subject != "user-ada" || lt.TokenID == "" {
				t.Fatalf("logout token sid %q sub %q jti %q; want sid %q", lt.SessionID, lt.Subject, lt.TokenID, s.sid)
			}
			if len(lt.Audience) != 1 || lt.Audience[0] != tc.clientID {
				t.Fatalf("logout token aud = %v", lt.Audience)
			}
			var raw map[string]any
			if err := lt.Claims(&raw); err != nil {
				t.Fatal(err)
			}
			if _, ok := raw["nonce"]; ok {
				t.Fatal("logout token has a nonce")
			}
			if ev, ok := raw["events"].(map[string]any); !ok || ev["http://schemas.openid.net/event/backchannel-logout"] == nil {
				t.Fatalf("logout token events = %v", raw["events"])
			}
			if exp, iat := raw["exp"].(float64), raw["iat"].(float64); exp <= iat || exp-iat > 600 {
				t.Fatalf("logout token iat %v exp %v", iat, exp)
			}

			// The session's tokens are gone.
			if _, err := c.oauth.TokenSource(c.ctx, &oauth2.Token{RefreshToken: refreshed2.RefreshToken}).Token(); oauthErrorCode(err) != "invalid_grant" {
				t.Fatalf("refresh after logout: err = %v, want invalid_grant", err)
			}
			if _, err := c.provider.UserInfo(c.ctx, oauth2.StaticTokenSource(refreshed2)); err == nil {
				t.Fatal("userinfo accepted an access token of an ended session")
			}
		})
	}
}

func TestRefreshTokenReuseRevokesFamily(t *testing.T) {
	rp := newRelyingParty(t)
	idp := devidptest.Start(t, devidp.Config{Clients: rp.clients()})
	c := newRPClient(t, idp.URL, "conf-basic", testSecret, oauth2.AuthStyleInHeader, rp.url("/auth/callback"))
	s := c.signIn(t, devidptest.NewBrowser(t), "grace")

	next, err := c.oauth.TokenSource(c.ctx, &oauth2.Token{RefreshToken: s.token.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	// The old refresh token is rejected after use...
	_, err = c.oauth.TokenSource(c.ctx, &oauth2.Token{RefreshToken: s.token.RefreshToken}).Token()
	if oauthErrorCode(err) != "invalid_grant" {
		t.Fatalf("reusing the old refresh token: err = %v, want invalid_grant", err)
	}
	// ...and its reuse revoked the family: the token that replaced it is dead too.
	if _, err := c.oauth.TokenSource(c.ctx, &oauth2.Token{RefreshToken: next.RefreshToken}).Token(); oauthErrorCode(err) != "invalid_grant" {
		t.Fatalf("refresh with the rotated-in token after reuse: err = %v, want invalid_grant", err)
	}
	if _, err := c.provider.UserInfo(c.ctx, oauth2.StaticTokenSource(next)); err == nil {
		t.Fatal("access token of a revoked family still works at userinfo")
	}
}

func TestRefreshTokenBoundToClient(t *testing.T) {
	rp := newRelyingParty(t)
	idp := devidptest.Start(t, devidp.Config{Clients: rp.clients()})
	basic := newRPClient(t, idp.URL, "conf-basic", testSecret, oauth2.AuthStyleInHeader, rp.url("/auth/callback"))
	s := basic.signIn(t, devidptest.NewBrowser(t), "ada")
	other := newRPClient(t, idp.URL, "conf-post", testSecret, oauth2.AuthStyleInParams, rp.url("/auth/callback"))
	if _, err := other.oauth.TokenSource(other.ctx, &oauth2.Token{RefreshToken: s.token.RefreshToken}).Token(); err == nil {
		t.Fatal("another client could use the refresh token")
	}
	wrong := newRPClient(t, idp.URL, "conf-basic", "wrong-secret", oauth2.AuthStyleInHeader, rp.url("/auth/callback"))
	if _, err := wrong.oauth.TokenSource(wrong.ctx, &oauth2.Token{RefreshToken: s.token.RefreshToken}).Token(); oauthErrorCode(err) != "invalid_client" {
		t.Fatalf("wrong client secret: err = %v, want invalid_client", err)
	}
}

func TestCodeIsSingleUseAndReplayRevokes(t *testing.T) {
	rp := newRelyingParty(t)
	idp := devidptest.Start(t, devidp.Config{Clients: rp.clients()})
	c := newRPClient(t, idp.URL, "conf-basic", testSecret, oauth2.AuthStyleInHeader, rp.url("/auth/callback"))
	verifier := oauth2.GenerateVerifier()
	cb, err := devidp.SignIn(t.Context(), devidptest.NewBrowser(t), c.oauth.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), "ada", "dev")
	if err != nil {
		t.Fatal(err)
	}
	code := cb.Query().Get("code")

	// A wrong PKCE verifier is refused.
	if _, err := c.oauth.Exchange(c.ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); oauthErrorCode(err) != "invalid_grant" {
		t.Fatalf("wrong code_verifier: err = %v, want invalid_grant", err)
	}
	tok, err := c.oauth.Exchange(c.ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if _, err := c.oauth.Exchange(c.ctx, code, oauth2.VerifierOption(verifier)); oauthErrorCode(err) != "invalid_grant" {
		t.Fatalf("second exchange of the code: err = %v, want invalid_grant", err)
	}
	if _, err := c.provider.UserInfo(c.ctx, oauth2.StaticTokenSource(tok)); err == nil {
		t.Fatal("tokens of a replayed code were not revoked")
	}
}

func TestPKCEPolicy(t *testing.T) {
	rp := newRelyingParty(t)
	idp := devidptest.Start(t, devidp.Config{Clients: rp.clients()})

	t.Run("public client without PKCE is refused", func(t *testing.T) {
		c := newRPClient(t, idp.URL, "public-spa", "", oauth2.AuthStyleInParams, rp.url("/auth/callback"))
		u, err := devidp.SignIn(t.Context(), devidptest.NewBrowser(t), c.oauth.AuthCodeURL("st"), "ada", "dev")
		if !errors.Is(err, devidp.ErrSignInFailed) || u == nil {
			t.Fatalf("err = %v, url = %v; want an error redirect", err, u)
		}
		q := u.Query()
		if q.Get("error") != "invalid_request" || q.Get("state") != "st" || q.Get("iss") != idp.URL {
			t.Fatalf("error redirect = %s", u)
		}
	})
	t.Run("plain method is refused", func(t *testing.T) {
		c := newRPClient(t, idp.URL, "conf-basic", testSecret, oauth2.AuthStyleInHeader, rp.url("/auth/callback"))
		authURL := c.oauth.AuthCodeURL("st", oauth2.SetAuthURLParam("code_challenge", oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("code_challenge_method", "plain"))
		u, err := devidp.SignIn(t.Context(), devidptest.NewBrowser(t), authURL, "ada", "dev")
		if !errors.Is(err, devidp.ErrSignInFailed) || u == nil || u.Query().Get("error") != "invalid_request" {
			t.Fatalf("err = %v, url = %v; want invalid_request", err, u)
		}
	})
	t.Run("confidential client without PKCE is accepted", func(t *testing.T) {
		c := newRPClient(t, idp.URL, "conf-basic", testSecret, oauth2.AuthStyleInHeader, rp.url("/auth/callback"))
		u, err := devidp.SignIn(t.Context(), devidptest.NewBrowser(t), c.oauth.AuthCodeURL("st"), "ada", "dev")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.oauth.Exchange(c.ctx, u.Query().Get("code")); err != nil {
			t.Fatalf("exchange without PKCE: %v", err)
		}
	})
	t.Run("prompt=none gets login_required", func(t *testing.T) {
		c := newRPClient(t, idp.URL, "conf-basic", testSecret, oauth2.AuthStyleInHeader, rp.url("/auth/callback"))
		u, err := devidp.SignIn(t.Context(), devidptest.NewBrowser(t), c.oauth.AuthCodeURL("st", oauth2.SetAuthURLParam("prompt", "none")), "ada", "dev")
		if !errors.Is(err, devidp.ErrSignInFailed) || u == nil || u.Query().Get("error") != "login_required" || u.Query().Get("iss") != idp.URL {
			t.Fatalf("err = %v, url = %v; want login_required with iss", err, u)
		}
	})
	t.Run("fragment response mode carries iss in the fragment", func(t *testing.T) {
		c := newRPClient(t, idp.URL, "conf-basic", testSecret, oauth2.AuthStyleInHeader, rp.url("/auth/callback"))
		u, err := devidp.SignIn(t.Context(), devidptest.NewBrowser(t), c.oauth.AuthCodeURL("st", oauth2.SetAuthURLParam("response_mode", "fragment")), "ada", "dev")
		if err != nil {
			t.Fatal(err)
		}
		frag, err := url.ParseQuery(u.EscapedFragment())
		if err != nil || frag.Get("code") == "" || frag.Get("state") != "st" || frag.Get("iss") != idp.URL || u.RawQuery != "" {
			t.Fatalf("fragment response = %s", u)
		}
	})
	t.Run("form_post response mode is refused", func(t *testing.T) {
		c := newRPClient(t, idp.URL, "conf-basic", testSecret, oauth2.AuthStyleInHeader, rp.url("/auth/callback"))
		u, err := devidp.SignIn(t.Context(), devidptest.NewBrowser(t), c.oauth.AuthCodeURL("st", oauth2.SetAuthURLParam("response_mode", "form_post")), "ada", "dev")
		if !errors.Is(err, devidp.ErrSignInFailed) || u == nil || u.Query().Get("error") != "invalid_request" {
			t.Fatalf("err = %v, url = %v; want invalid_request", err, u)
		}
	})
	t.Run("unregistered redirect_uri is not redirected to", func(t *testing.T) {
		c := newRPClient(t, idp.URL, "conf-basic", testSecret, oauth2.AuthStyleInHeader, "http://127.0.0.1:1/evil")
		u, err := devidp.SignIn(t.Context(), devidptest.NewBrowser(t), c.oauth.AuthCodeURL("st"), "ada", "dev")
		if err == nil || u != nil {
			t.Fatalf("err = %v, url = %v; want a refusal without redirect", err, u)
		}
	})
}

func TestEndSessionRefusesUnregisteredPostLogoutRedirect(t *testing.T) {
	rp := newRelyingParty(t)
	idp := devidptest.Start(t, devidp.Config{Clients: rp.clients()})
	c := newRPClient(t, idp.URL, "conf-basic", testSecret, oauth2.AuthStyleInHeader, rp.url("/auth/callback"))
	browser := devidptest.NewBrowser(t)
	s := c.signIn(t, browser, "ada")

	q := url.Values{
		"id_token_hint":            {s.rawID},
		"post_logout_redirect_uri": {"https://evil.example/"},
		"state":                    {"x"},
	}
	resp, err := noRedirect(browser.Jar).Get(c.endSessionURL(t) + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Fatalf("status %d, Location %q; want 400 without redirect", resp.StatusCode, resp.Header.Get("Location"))
	}
	if !strings.Contains(string(body), "post_logout_redirect_uri") {
		t.Fatalf("error body = %s", body)
	}
	// The session was not ended: no logout token, and the refresh token still works.
	if got := rp.takeLogouts(); len(got) != 0 {
		t.Fatalf("back-channel logout sent for a refused logout: %d", len(got))
	}
	if _, err := c.oauth.TokenSource(c.ctx, &oauth2.Token{RefreshToken: s.token.RefreshToken}).Token(); err != nil {
		t.Fatalf("refresh after refused logout: %v", err)
	}
}

func TestEndSessionWithoutHintEndsBrowserSession(t *testing.T) {
	rp := newRelyingParty(t)
	idp := devidptest.Start(t, devidp.Config{Clients: rp.clients()})
	basic := newRPClient(t, idp.URL, "conf-basic", testSecret, oauth2.AuthStyleInHeader, rp.url("/auth/callback"))
	post := newRPClient(t, idp.URL, "conf-post", testSecret, oauth2.AuthStyleInParams, rp.url("/auth/callback"))
	browser := devidptest.NewBrowser(t)
	s1 := basic.signIn(t, browser, "ada")
	s2 := post.signIn(t, browser, "ada")
	if s1.sid != s2.sid {
		t.Fatalf("same person, same browser: sids %q and %q differ", s1.sid, s2.sid)
	}
	other := basic.signIn(t, devidptest.NewBrowser(t), "ada")
	if other.sid == s1.sid {
		t.Fatal("another browser got the same session")
	}

	resp, err := noRedirect(browser.Jar).Get(basic.endSessionURL(t))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	loc, _ := resp.Location()
	if resp.StatusCode != http.StatusFound || loc == nil || loc.String() != idp.URL+"/logged-out" {
		t.Fatalf("status %d, Location %v; want the provider's signed-out page", resp.StatusCode, loc)
	}
	// Both clients of the session get a logout token with its sid.
	logouts := rp.takeLogouts()
	if len(logouts) != 2 {
		t.Fatalf("got %d logout tokens, want 2", len(logouts))
	}
	auds := map[string]bool{}
	for _, raw := range logouts {
		lt, err := oidc.NewVerifier(idp.URL, oidc.NewRemoteKeySet(t.Context(), idp.URL+"/keys"), &oidc.Config{SkipClientIDCheck: true}).VerifyLogout(t.Context(), raw)
		if err != nil {
			t.Fatal(err)
		}
		if lt.SessionID != s1.sid {
			t.Fatalf("logout sid %q, want %q", lt.SessionID, s1.sid)
		}
		auds[lt.Audience[0]] = true
	}
	if !auds["conf-basic"] || !auds["conf-post"] {
		t.Fatalf("logout audiences %v", auds)
	}
	// The other browser's session is untouched.
	if _, err := basic.oauth.TokenSource(basic.ctx, &oauth2.Token{RefreshToken: other.token.RefreshToken}).Token(); err != nil {
		t.Fatalf("other browser's session was ended: %v", err)
	}
}

func TestBackChannelFailureDoesNotBlockLogout(t *testing.T) {
	rp := newRelyingParty(t)
	rp.status = http.StatusInternalServerError
	idp := devidptest.Start(t, devidp.Config{Clients: rp.clients()})
	c := newRPClient(t, idp.URL, "conf-basic", testSecret, oauth2.AuthStyleInHeader, rp.url("/auth/callback"))
	browser := devidptest.NewBrowser(t)
	s := c.signIn(t, browser, "ada")
	q := url.Values{"id_token_hint": {s.rawID}, "post_logout_redirect_uri": {rp.url("/")}}
	resp, err := noRedirect(browser.Jar).Get(c.endSessionURL(t) + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d, want 302 even though the back-channel endpoint failed", resp.StatusCode)
	}
	if n := len(rp.takeLogouts()); n != 1 {
		t.Fatalf("%d back-channel attempts, want 1", n)
	}
}

func TestBackChannelUsesConfiguredClientTimeout(t *testing.T) {
	rp := newRelyingParty(t)
	rp.delay = 5 * time.Second
	var used atomic.Bool
	hc := &http.Client{
		Timeout: 200 * time.Millisecond,
		Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			used.Store(true)
			return http.DefaultTransport.RoundTrip(r)
		}),
	}
	idp := devidptest.Start(t, devidp.Config{Clients: rp.clients(), HTTPClient: hc})
	c := newRPClient(t, idp.URL, "conf-basic", testSecret, oauth2.AuthStyleInHeader, rp.url("/auth/callback"))
	browser := devidptest.NewBrowser(t)
	s := c.signIn(t, browser, "ada")
	q := url.Values{"id_token_hint": {s.rawID}, "post_logout_redirect_uri": {rp.url("/")}}
	start := time.Now()
	resp, err := noRedirect(browser.Jar).Get(c.endSessionURL(t) + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if elapsed := time.Since(start); resp.StatusCode != http.StatusFound || elapsed > 3*time.Second {
		t.Fatalf("status %d after %s; want a redirect within the client's timeout", resp.StatusCode, elapsed)
	}
	if !used.Load() {
		t.Fatal("Config.HTTPClient was not used for the back-channel logout")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRestartKeepsKeyAndTokens(t *testing.T) {
	rp := newRelyingParty(t)
	idp := devidptest.Start(t, devidp.Config{Clients: rp.clients()})
	c := newRPClient(t, idp.URL, "conf-basic", testSecret, oauth2.AuthStyleInHeader, rp.url("/auth/callback"))
	s := c.signIn(t, devidptest.NewBrowser(t), "ada")

	idp.Restart(t)

	// A fresh relying party (fresh JWKS cache) verifies the ID token issued before the restart.
	fresh := newRPClient(t, idp.URL, "conf-basic", testSecret, oauth2.AuthStyleInHeader, rp.url("/auth/callback"))
	if _, err := fresh.verifier.Verify(fresh.ctx, s.rawID); err != nil {
		t.Fatalf("ID token from before the restart: %v", err)
	}
	info, err := fresh.provider.UserInfo(fresh.ctx, oauth2.StaticTokenSource(s.token))
	if err != nil || info.Subject != "user-ada" {
		t.Fatalf("access token from before the restart: %v, %+v", err, info)
	}
	next, err := fresh.oauth.TokenSource(fresh.ctx, &oauth2.Token{RefreshToken: s.token.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh token from before the restart: %v", err)
	}
	// The session survived too: logging out with the old ID token sends the logout token.
	q := url.Values{"id_token_hint": {s.rawID}, "post_logout_redirect_uri": {rp.url("/")}}
	resp, err := noRedirect(nil).Get(fresh.endSessionURL(t) + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	logouts := rp.takeLogouts()
	if len(logouts) != 1 {
		t.Fatalf("%d logout tokens after restart, want 1", len(logouts))
	}
	lt, err := fresh.verifier.VerifyLogout(fresh.ctx, logouts[0])
	if err != nil || lt.SessionID != s.sid {
		t.Fatalf("logout token after restart: %v, %+v", err, lt)
	}
	if _, err := fresh.oauth.TokenSource(fresh.ctx, &oauth2.Token{RefreshToken: next.RefreshToken}).Token(); err == nil {
		t.Fatal("refresh token still valid after logout")
	}

	// With Config.Clients nil, the persisted registry is used (secrets only as hashes).
	idp.Config.Clients = nil
	idp.Restart(t)
	again := newRPClient(t, idp.URL, "conf-basic", testSecret, oauth2.AuthStyleInHeader, rp.url("/auth/callback"))
	again.signIn(t, devidptest.NewBrowser(t), "grace")
}

func TestDiscovery(t *testing.T) {
	rp := newRelyingParty(t)
	idp := devidptest.Start(t, devidp.Config{Clients: rp.clients()})
	resp, err := http.Get(idp.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var d map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"backchannel_logout_supported", "backchannel_logout_session_supported", "authorization_response_iss_parameter_supported"} {
		if d[key] != true {
			t.Errorf("%s = %v, want true", key, d[key])
		}
	}
	wantList := map[string]string{
		"response_types_supported":              "code",
		"code_challenge_methods_supported":      "S256",
		"grant_types_supported":                 "authorization_code refresh_token",
		"token_endpoint_auth_methods_supported": "client_secret_basic client_secret_post none",
		"id_token_signing_alg_values_supported": "RS256",
	}
	for key, want := range wantList {
		var got []string
		for _, v := range d[key].([]any) {
			got = append(got, v.(string))
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%s = %v, want %s", key, got, want)
		}
	}
	if d["issuer"] != idp.URL || d["end_session_endpoint"] != idp.URL+"/end_session" || d["jwks_uri"] != idp.URL+"/keys" {
		t.Errorf("issuer/end_session/jwks = %v %v %v", d["issuer"], d["end_session_endpoint"], d["jwks_uri"])
	}
	if _, ok := d["device_authorization_endpoint"]; ok {
		t.Error("device_authorization_endpoint advertised but not supported")
	}
	claims := d["claims_supported"].([]any)
	found := false
	for _, c := range claims {
		found = found || c == "sid"
	}
	if !found {
		t.Errorf("claims_supported %v lacks sid", claims)
	}
}

func TestHostMustMatchIssuer(t *testing.T) {
	rp := newRelyingParty(t)
	idp := devidptest.Start(t, devidp.Config{Clients: rp.clients()})
	req, _ := http.NewRequest(http.MethodGet, idp.URL+"/.well-known/openid-configuration", nil)
	req.Host = "rebound.example:80"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("status = %d, want 421", resp.StatusCode)
	}
}

func TestRevocationAndIntrospection(t *testing.T) {
	rp := newRelyingParty(t)
	idp := devidptest.Start(t, devidp.Config{Clients: rp.clients()})
	c := newRPClient(t, idp.URL, "conf-basic", testSecret, oauth2.AuthStyleInHeader, rp.url("/auth/callback"))
	s := c.signIn(t, devidptest.NewBrowser(t), "ada")
	var meta struct {
		Revocation    string `json:"revocation_endpoint"`
		Introspection string `json:"introspection_endpoint"`
	}
	if err := c.provider.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	post := func(endpoint string, form url.Values) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("conf-basic", testSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}

	status, body := post(meta.Introspection, url.Values{"token": {s.token.AccessToken}})
	if status != http.StatusOK || body["active"] != true || body["sub"] != "user-ada" || body["client_id"] != "conf-basic" {
		t.Fatalf("introspection: %d %v", status, body)
	}
	// Revoking the refresh token revokes it and its access token.
	if status, _ := post(meta.Revocation, url.Values{"token": {s.token.RefreshToken}, "token_type_hint": {"refresh_token"}}); status != http.StatusOK {
		t.Fatalf("revocation status %d", status)
	}
	if _, err := c.oauth.TokenSource(c.ctx, &oauth2.Token{RefreshToken: s.token.RefreshToken}).Token(); oauthErrorCode(err) != "invalid_grant" {
		t.Fatalf("refresh after revocation: %v", err)
	}
	if _, body := post(meta.Introspection, url.Values{"token": {s.token.AccessToken}}); body["active"] == true {
		t.Fatalf("access token still active after revoking its refresh token: %v", body)
	}
}
