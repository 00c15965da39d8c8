package authtest_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/hxoidc/hxoidc/auth/authtest"
)

const (
	secret      = "s3cret/with+odd&chars"
	callbackURI = "https://app.example.test/auth/callback"
	logoutURI   = "https://app.example.test/"
)

// rp is a relying party built the way the app builds one.
type rp struct {
	op       *authtest.Provider
	provider *oidc.Provider
	cfg      oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newRP(t *testing.T, op *authtest.Provider, style oauth2.AuthStyle) *rp {
	t.Helper()
	op.RegisterRedirectURI(callbackURI)
	provider, err := oidc.NewProvider(t.Context(), op.Issuer())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	ep := provider.Endpoint()
	ep.AuthStyle = style
	return &rp{
		op:       op,
		provider: provider,
		cfg: oauth2.Config{
			ClientID:     op.ClientID(),
			ClientSecret: op.ClientSecret(),
			Endpoint:     ep,
			RedirectURL:  callbackURI,
			Scopes:       []string{oidc.ScopeOpenID, "profile", "email"},
		},
		verifier: provider.Verifier(&oidc.Config{ClientID: op.ClientID()}),
	}
}

type signIn struct {
	state, nonce, pkce string
	callback           url.Values
}

// authorize runs the front channel and returns the callback parameters.
func (r *rp) authorize(t *testing.T) signIn {
	t.Helper()
	s := signIn{state: oauth2.GenerateVerifier(), nonce: oauth2.GenerateVerifier(), pkce: oauth2.GenerateVerifier()}
	authURL := r.cfg.AuthCodeURL(s.state, oauth2.S256ChallengeOption(s.pkce), oidc.Nonce(s.nonce))
	cb, err := r.op.Approve(authURL)
	if err != nil {
		t.Fatalf("Approve: %v", err)
	}
	u, err := url.Parse(cb)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != callbackURI {
		t.Fatalf("redirected to %q, want %q", got, callbackURI)
	}
	s.callback = u.Query()
	if s.callback.Get("state") != s.state {
		t.Fatalf("state = %q, want %q", s.callback.Get("state"), s.state)
	}
	return s
}

func (r *rp) exchange(ctx context.Context, s signIn) (*oauth2.Token, error) {
	return r.cfg.Exchange(ctx, s.callback.Get("code"), oauth2.VerifierOption(s.pkce))
}

// signInAndVerify runs a full sign-in and returns the token and the
// verification result.
func (r *rp) signInAndVerify(t *testing.T) (*oauth2.Token, *oidc.IDToken, signIn, error) {
	t.Helper()
	s := r.authorize(t)
	tok, err := r.exchange(t.Context(), s)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("no id_token in token response")
	}
	idt, err := r.verifier.Verify(t.Context(), raw)
	return tok, idt, s, err
}

func retrieveError(t *testing.T, err error) *oauth2.RetrieveError {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("error %v is not an *oauth2.RetrieveError", err)
	}
	return re
}

func TestHappyPath(t *testing.T) {
	t.Parallel()
	op := authtest.New(t, authtest.Options{ClientSecret: secret})
	r := newRP(t, op, oauth2.AuthStyleInHeader)

	var meta struct {
		Methods  []string `json:"token_endpoint_auth_methods_supported"`
		PKCE     []string `json:"code_challenge_methods_supported"`
		EndSess  string   `json:"end_session_endpoint"`
		IssParam *bool    `json:"authorization_response_iss_parameter_supported"`
		Grants   []string `json:"grant_types_supported"`
	}
	if err := r.provider.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	if strings.Join(meta.Methods, ",") != "client_secret_basic,client_secret_post" ||
		strings.Join(meta.PKCE, ",") != "S256" || meta.EndSess == "" || meta.IssParam != nil ||
		strings.Join(meta.Grants, ",") != "authorization_code,refresh_token" {
		t.Errorf("unexpected discovery metadata %+v", meta)
	}

	tok, idt, s, err := r.signInAndVerify(t)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if s.callback.Has("iss") {
		t.Errorf("iss sent although not advertised: %v", s.callback)
	}
	if idt.Nonce != s.nonce {
		t.Errorf("nonce = %q, want %q", idt.Nonce, s.nonce)
	}
	if idt.Subject != "user-1" || idt.Issuer != op.Issuer() {
		t.Errorf("sub/iss = %q/%q", idt.Subject, idt.Issuer)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	var claims struct {
		Name     string `json:"name"`
		Email    string `json:"email"`
		SID      string `json:"sid"`
		AuthTime int64  `json:"auth_time"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Name != "Ada Lovelace" || claims.Email != "ada@example.test" || claims.SID == "" || claims.AuthTime == 0 {
		t.Errorf("claims = %+v", claims)
	}
	st := op.Requests()
	if st.LastTokenAuthMethod != "client_secret_basic" || st.Token != 1 || st.Authorize != 1 || st.LastSID != claims.SID {
		t.Errorf("stats = %+v", st)
	}
	if st.LastAuthorize.Get("code_challenge_method") != "S256" || st.LastAuthorize.Get("nonce") != s.nonce {
		t.Errorf("LastAuthorize = %v", st.LastAuthorize)
	}

	ui, err := r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("UserInfo: %v", err)
	}
	if ui.Subject != "user-1" || ui.Email != "ada@example.test" {
		t.Errorf("userinfo = %+v", ui)
	}

	// Refresh: rotation, then reuse of the old refresh token.
	expired := *tok
	expired.Expiry = time.Now().Add(-time.Minute)
	fresh, err := r.cfg.TokenSource(t.Context(), &expired).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.RefreshToken == tok.RefreshToken || fresh.AccessToken == tok.AccessToken {
		t.Fatal("refresh did not rotate tokens")
	}
	idt2, err := r.verifier.Verify(t.Context(), fresh.Extra("id_token").(string))
	if err != nil {
		t.Fatalf("Verify refreshed id_token: %v", err)
	}
	if idt2.Nonce != "" || idt2.Subject != idt.Subject {
		t.Errorf("refreshed id_token nonce/sub = %q/%q", idt2.Nonce, idt2.Subject)
	}
	_, err = r.cfg.TokenSource(t.Context(), &expired).Token()
	if re := retrieveError(t, err); re.ErrorCode != "invalid_grant" {
		t.Errorf("refresh reuse: %v", err)
	}
	if op.Requests().RefreshReuse != 1 {
		t.Errorf("RefreshReuse = %d", op.Requests().RefreshReuse)
	}
	// Reuse detection revoked the whole grant, including the new tokens.
	fresh.Expiry = time.Now().Add(-time.Minute)
	if _, err := r.cfg.TokenSource(t.Context(), fresh).Token(); err == nil {
		t.Error("rotated refresh token still valid after reuse detection")
	}
}

func TestSignatureKnobs(t *testing.T) {
	t.Parallel()
	op := authtest.New(t, authtest.Options{ClientSecret: secret})
	r := newRP(t, op, oauth2.AuthStyleInHeader)
	for _, tc := range []struct {
		mode string
		ok   bool
	}{
		{authtest.SignWrongKey, false},
		{authtest.SignUnknownKID, false},
		{authtest.SignNone, false},
		{authtest.SignHS256, false},
		{authtest.SignHS256PublicKey, false},
		{authtest.SignNoKID, true},
		{authtest.SignDefault, true},
	} {
		op.SetBehavior(func(b *authtest.Behavior) { b.Sign = tc.mode })
		_, _, _, err := r.signInAndVerify(t)
		t.Logf("Sign %q: %v", tc.mode, err)
		if (err == nil) != tc.ok {
			t.Errorf("Sign %q: Verify error = %v, want ok=%v", tc.mode, err, tc.ok)
		}
	}
}

func TestIDTokenKnobs(t *testing.T) {
	t.Parallel()
	op := authtest.New(t, authtest.Options{ClientSecret: secret})
	r := newRP(t, op, oauth2.AuthStyleInHeader)
	for _, tc := range []struct {
		name   string
		mutate func(map[string]any)
		check  func(idt *oidc.IDToken, s signIn, err error) bool // true = as expected
	}{
		{"wrong iss", func(c map[string]any) { c["iss"] = authtest.WrongIssuer },
			func(_ *oidc.IDToken, _ signIn, err error) bool { return err != nil }},
		{"wrong aud", func(c map[string]any) { c["aud"] = []string{"other-client"} },
			func(_ *oidc.IDToken, _ signIn, err error) bool { return err != nil }},
		{"expired", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() },
			func(_ *oidc.IDToken, _ signIn, err error) bool { return err != nil }},
		{"extra aud + azp", func(c map[string]any) {
			c["aud"] = append(c["aud"].([]string), "other-client")
			c["azp"] = "other-client"
		}, func(idt *oidc.IDToken, _ signIn, err error) bool { return err == nil && len(idt.Audience) == 2 }},
		{"iat in future", func(c map[string]any) { c["iat"] = time.Now().Add(time.Hour).Unix() },
			func(idt *oidc.IDToken, _ signIn, err error) bool {
				return err == nil && idt.IssuedAt.After(time.Now().Add(30*time.Minute))
			}},
		{"missing nonce", func(c map[string]any) { delete(c, "nonce") },
			func(idt *oidc.IDToken, _ signIn, err error) bool { return err == nil && idt.Nonce == "" }},
		{"wrong nonce", func(c map[string]any) { c["nonce"] = "evil" },
			func(idt *oidc.IDToken, s signIn, err error) bool { return err == nil && idt.Nonce != s.nonce }},
	} {
		op.SetBehavior(func(b *authtest.Behavior) { b.IDToken = tc.mutate })
		_, idt, s, err := r.signInAndVerify(t)
		t.Logf("%s: %v", tc.name, err)
		if !tc.check(idt, s, err) {
			t.Errorf("%s: unexpected result idt=%+v err=%v", tc.name, idt, err)
		}
	}
}

func TestCodeReplayAndPKCE(t *testing.T) {
	t.Parallel()
	op := authtest.New(t, authtest.Options{ClientSecret: secret})
	r := newRP(t, op, oauth2.AuthStyleInHeader)

	// Wrong verifier, missing verifier, wrong redirect_uri: invalid_grant and
	// the code survives.
	s := r.authorize(t)
	_, err := r.cfg.Exchange(t.Context(), s.callback.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
	if re := retrieveError(t, err); re.ErrorCode != "invalid_grant" || re.Response.StatusCode != 400 {
		t.Errorf("wrong verifier: %v", err)
	}
	_, err = r.cfg.Exchange(t.Context(), s.callback.Get("code"))
	if re := retrieveError(t, err); re.ErrorCode != "invalid_grant" {
		t.Errorf("missing verifier: %v", err)
	}
	other := r.cfg
	other.RedirectURL = callbackURI + "/other"
	_, err = other.Exchange(t.Context(), s.callback.Get("code"), oauth2.VerifierOption(s.pkce))
	if re := retrieveError(t, err); re.ErrorCode != "invalid_grant" {
		t.Errorf("wrong redirect_uri: %v", err)
	}

	tok, err := r.exchange(t.Context(), s)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	_, err = r.exchange(t.Context(), s)
	if re := retrieveError(t, err); re.ErrorCode != "invalid_grant" {
		t.Errorf("replay: %v", err)
	}
	if n := op.Requests().CodeReuse; n != 1 {
		t.Errorf("CodeReuse = %d, want 1", n)
	}
	// The replay revoked the tokens issued from the code.
	if _, err := r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok)); err == nil {
		t.Error("access token still valid after code replay")
	}
}

func TestAuthMethods(t *testing.T) {
	t.Parallel()
	t.Run("post only", func(t *testing.T) {
		t.Parallel()
		op := authtest.New(t, authtest.Options{ClientSecret: secret, AuthMethods: []string{"client_secret_post"}})
		r := newRP(t, op, oauth2.AuthStyleInHeader)
		_, err := r.exchange(t.Context(), r.authorize(t))
		if re := retrieveError(t, err); re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
			t.Errorf("basic against post-only: %v", err)
		}
		if m := op.Requests().LastTokenAuthMethod; m != "client_secret_basic" {
			t.Errorf("LastTokenAuthMethod = %q", m)
		}
		r.cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		if _, err := r.exchange(t.Context(), r.authorize(t)); err != nil {
			t.Fatalf("post: %v", err)
		}
		if m := op.Requests().LastTokenAuthMethod; m != "client_secret_post" {
			t.Errorf("LastTokenAuthMethod = %q", m)
		}
	})
	t.Run("basic wrong secret", func(t *testing.T) {
		t.Parallel()
		op := authtest.New(t, authtest.Options{ClientSecret: secret})
		r := newRP(t, op, oauth2.AuthStyleInHeader)
		r.cfg.ClientSecret = "nope"
		_, err := r.exchange(t.Context(), r.authorize(t))
		if re := retrieveError(t, err); re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
			t.Errorf("wrong secret: %v", err)
		}
	})
	t.Run("public client autodetect", func(t *testing.T) {
		t.Parallel()
		op := authtest.New(t, authtest.Options{})
		r := newRP(t, op, oauth2.AuthStyleAutoDetect)
		if _, idt, _, err := r.signInAndVerify(t); err != nil || idt == nil {
			t.Fatalf("public client: %v", err)
		}
		st := op.Requests()
		if st.LastTokenAuthMethod != "none" || st.Token != 2 { // Basic attempt refused, then params
			t.Errorf("stats = %+v", st)
		}
	})
}

// eventually polls cond for up to 2 s. go-oidc's RemoteKeySet hands a JWKS
// fetch's result to waiters before it updates its cache and forgets the
// fetch, so right after a rotation one Verify may still see the previous
// key set.
func eventually(cond func() bool) bool {
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

func TestRotateKeys(t *testing.T) {
	t.Parallel()
	op := authtest.New(t, authtest.Options{ClientSecret: secret})
	r := newRP(t, op, oauth2.AuthStyleInHeader)
	before, _, _, err := r.signInAndVerify(t)
	if err != nil {
		t.Fatal(err)
	}
	oldKID := op.KeyID()
	op.RotateKeys()
	if op.KeyID() == oldKID {
		t.Fatal("kid unchanged")
	}
	if _, _, _, err := r.signInAndVerify(t); err != nil {
		t.Fatalf("token after rotation: %v", err)
	}
	if !eventually(func() bool {
		_, err := r.verifier.Verify(t.Context(), before.Extra("id_token").(string))
		return err != nil
	}) {
		t.Error("token signed by the retired key still verifies")
	}

	// A token signed with the not-yet-published key verifies once it is.
	op.SetBehavior(func(b *authtest.Behavior) { b.Sign = authtest.SignUnknownKID })
	tok, _, _, err := r.signInAndVerify(t)
	if err == nil {
		t.Fatal("unknown kid verified before rotation")
	}
	op.RotateKeys()
	if !eventually(func() bool {
		_, err = r.verifier.Verify(t.Context(), tok.Extra("id_token").(string))
		return err == nil
	}) {
		t.Errorf("after promoting the next key: %v", err)
	}
}

func TestLogoutToken(t *testing.T) {
	t.Parallel()
	op := authtest.New(t, authtest.Options{ClientSecret: secret})
	r := newRP(t, op, oauth2.AuthStyleInHeader)
	_, idt, _, err := r.signInAndVerify(t)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		SID string `json:"sid"`
	}
	_ = idt.Claims(&c)
	lt, err := r.verifier.VerifyLogout(t.Context(), op.LogoutToken(nil))
	if err != nil {
		t.Fatalf("VerifyLogout: %v", err)
	}
	if lt.SessionID != c.SID || lt.Subject != "user-1" || lt.TokenID == "" {
		t.Errorf("logout token = %+v, want sid %q", lt, c.SID)
	}
	for name, mutate := range map[string]func(map[string]any){
		"nonce":     func(c map[string]any) { c["nonce"] = "n" },
		"no events": func(c map[string]any) { delete(c, "events") },
		"wrong aud": func(c map[string]any) { c["aud"] = "other" },
		"expired":   func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() },
		"no jti":    func(c map[string]any) { delete(c, "jti") },
	} {
		if _, err := r.verifier.VerifyLogout(t.Context(), op.LogoutToken(mutate)); err == nil {
			t.Errorf("%s: logout token verified", name)
		}
	}
	op.SetBehavior(func(b *authtest.Behavior) { b.Sign = authtest.SignWrongKey })
	if _, err := r.verifier.VerifyLogout(t.Context(), op.LogoutToken(nil)); err == nil {
		t.Error("wrong-key logout token verified")
	}
}

func TestIssParameter(t *testing.T) {
	t.Parallel()
	op := authtest.New(t, authtest.Options{ClientSecret: secret, IssParameterSupported: true, IssuerSuffix: "/oauth2/token"})
	r := newRP(t, op, oauth2.AuthStyleInHeader)
	if !strings.HasSuffix(op.Issuer(), "/oauth2/token") || !strings.HasPrefix(op.Issuer(), op.URL()) {
		t.Fatalf("issuer %q", op.Issuer())
	}
	var meta struct {
		IssParam bool `json:"authorization_response_iss_parameter_supported"`
	}
	_ = r.provider.Claims(&meta)
	if !meta.IssParam {
		t.Error("iss parameter support not advertised")
	}
	s := r.authorize(t)
	if s.callback.Get("iss") != op.Issuer() {
		t.Errorf("iss = %q", s.callback.Get("iss"))
	}
	for mode, want := range map[string]string{authtest.IssOmit: "", authtest.IssWrong: authtest.WrongIssuer} {
		op.SetBehavior(func(b *authtest.Behavior) { b.IssParam = mode })
		if got := r.authorize(t).callback.Get("iss"); got != want {
			t.Errorf("IssParam %q: iss = %q, want %q", mode, got, want)
		}
	}
	// Also on error responses.
	op.SetBehavior(func(b *authtest.Behavior) { b.IssParam = ""; b.AuthorizeError = "access_denied" })
	s = r.authorize(t)
	if s.callback.Get("error") != "access_denied" || s.callback.Get("iss") != op.Issuer() || s.callback.Has("code") {
		t.Errorf("error response = %v", s.callback)
	}

	// Not advertised: only IssForce and IssWrong send it.
	op2 := authtest.New(t, authtest.Options{ClientSecret: secret})
	r2 := newRP(t, op2, oauth2.AuthStyleInHeader)
	op2.SetBehavior(func(b *authtest.Behavior) { b.IssParam = authtest.IssForce })
	if got := r2.authorize(t).callback.Get("iss"); got != op2.Issuer() {
		t.Errorf("IssForce: iss = %q", got)
	}
}

func TestAuthorizeValidation(t *testing.T) {
	t.Parallel()
	op := authtest.New(t, authtest.Options{ClientSecret: secret})
	r := newRP(t, op, oauth2.AuthStyleInHeader)
	base := func() url.Values {
		return url.Values{
			"client_id": {op.ClientID()}, "redirect_uri": {callbackURI}, "response_type": {"code"},
			"scope": {"openid email"}, "state": {"st"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())},
			"code_challenge_method": {"S256"},
		}
	}
	authz := r.provider.Endpoint().AuthURL
	for name, tc := range map[string]struct {
		mutate  func(url.Values)
		refused bool   // no redirect at all
		errCode string // error= in the redirect
	}{
		"ok":                {func(url.Values) {}, false, ""},
		"unknown client":    {func(v url.Values) { v.Set("client_id", "x") }, true, ""},
		"unregistered uri":  {func(v url.Values) { v.Set("redirect_uri", callbackURI+"x") }, true, ""},
		"missing uri":       {func(v url.Values) { v.Del("redirect_uri") }, true, ""},
		"no pkce":           {func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }, false, "invalid_request"},
		"plain pkce":        {func(v url.Values) { v.Set("code_challenge_method", "plain") }, false, "invalid_request"},
		"no method":         {func(v url.Values) { v.Del("code_challenge_method") }, false, "invalid_request"},
		"no openid":         {func(v url.Values) { v.Set("scope", "email") }, false, "invalid_scope"},
		"token flow":        {func(v url.Values) { v.Set("response_type", "id_token") }, false, "unsupported_response_type"},
		"duplicated":        {func(v url.Values) { v.Add("scope", "openid") }, false, "invalid_request"},
		"fragment mode":     {func(v url.Values) { v.Set("response_mode", "fragment") }, false, "invalid_request"},
		"request parameter": {func(v url.Values) { v.Set("request", "eyJ") }, false, "request_not_supported"},
	} {
		v := base()
		tc.mutate(v)
		cb, err := op.Approve(authz + "?" + v.Encode())
		var refused *authtest.AuthorizeRefusedError
		if tc.refused {
			if !errors.As(err, &refused) || refused.Status != 400 {
				t.Errorf("%s: want refusal, got %q, %v", name, cb, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		u, _ := url.Parse(cb)
		q := u.Query()
		if q.Get("error") != tc.errCode || q.Get("state") != "st" || (tc.errCode == "") != q.Has("code") {
			t.Errorf("%s: callback %v, want error %q", name, q, tc.errCode)
		}
	}
	if _, err := op.Approve("http://127.0.0.1:1/authorize"); err == nil {
		t.Error("Approve accepted a foreign URL")
	}
}

func TestTokenKnobs(t *testing.T) {
	t.Parallel()
	op := authtest.New(t, authtest.Options{ClientSecret: secret})
	r := newRP(t, op, oauth2.AuthStyleInHeader)

	op.SetBehavior(func(b *authtest.Behavior) { b.TokenStatus = 400; b.TokenError = "invalid_grant" })
	_, err := r.exchange(t.Context(), r.authorize(t))
	if re := retrieveError(t, err); re.ErrorCode != "invalid_grant" {
		t.Errorf("forced error: %v", err)
	}
	op.SetBehavior(func(b *authtest.Behavior) { b.TokenStatus = 503; b.TokenError = "" })
	_, err = r.exchange(t.Context(), r.authorize(t))
	if re := retrieveError(t, err); re.ErrorCode != "server_error" || re.Response.StatusCode != 503 {
		t.Errorf("forced 503: %v", err)
	}

	op.SetBehavior(func(b *authtest.Behavior) {
		*b = authtest.Behavior{TokenResponse: func(resp map[string]any) { delete(resp, "id_token") }}
	})
	tok, err := r.exchange(t.Context(), r.authorize(t))
	if err != nil || tok.Extra("id_token") != nil {
		t.Errorf("TokenResponse knob: %v %v", err, tok)
	}

	// Hang: the client's deadline ends it.
	op.SetBehavior(func(b *authtest.Behavior) { *b = authtest.Behavior{TokenHang: true} })
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = r.exchange(ctx, r.authorize(t))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("hang: %v after %v", err, time.Since(start))
	}

	// Hang released by switching the knob off: the request then succeeds.
	s := r.authorize(t)
	done := make(chan error, 1)
	go func() {
		_, err := r.exchange(t.Context(), s)
		done <- err
	}()
	for op.Requests().Token < 5 {
		time.Sleep(5 * time.Millisecond)
	}
	op.SetBehavior(func(b *authtest.Behavior) { b.TokenHang = false })
	if err := <-done; err != nil {
		t.Errorf("released hang: %v", err)
	}

	// A request still hanging when the test ends must not block cleanup.
	op.SetBehavior(func(b *authtest.Behavior) { b.TokenHang = true })
	go func() { _, _ = r.exchange(context.Background(), s) }() // hangs before looking at the used code
	for op.Requests().Token < 6 {
		time.Sleep(5 * time.Millisecond)
	}
}

func TestUserinfoKnobs(t *testing.T) {
	t.Parallel()
	op := authtest.New(t, authtest.Options{ClientSecret: secret})
	r := newRP(t, op, oauth2.AuthStyleInHeader)
	tok, _, _, err := r.signInAndVerify(t)
	if err != nil {
		t.Fatal(err)
	}
	ts := oauth2.StaticTokenSource(tok)

	op.SetBehavior(func(b *authtest.Behavior) { b.UserinfoSub = "someone-else" })
	ui, err := r.provider.UserInfo(t.Context(), ts)
	if err != nil || ui.Subject != "someone-else" {
		t.Errorf("UserinfoSub: %v %v", err, ui)
	}
	op.SetBehavior(func(b *authtest.Behavior) { *b = authtest.Behavior{UserinfoStatus: 500} })
	if _, err := r.provider.UserInfo(t.Context(), ts); err == nil {
		t.Error("UserinfoStatus 500 succeeded")
	}
	op.SetBehavior(func(b *authtest.Behavior) { *b = authtest.Behavior{UserinfoHang: true} })
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := r.provider.UserInfo(ctx, ts); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("UserinfoHang: %v", err)
	}
	op.SetBehavior(func(b *authtest.Behavior) { *b = authtest.Behavior{} })

	bad := *tok
	bad.AccessToken = "unknown"
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, r.provider.UserInfoEndpoint(), nil)
	bad.SetAuthHeader(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("unknown token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}

	// Scope-based release: without the email scope, no email claim.
	op.SetUser(map[string]any{"sub": "u2", "name": "Grace", "email": "g@example.test", "groups": []any{"admins"}})
	r.cfg.Scopes = []string{"openid", "profile"}
	tok2, idt, _, err := r.signInAndVerify(t)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	_ = idt.Claims(&c)
	if c["sub"] != "u2" || c["name"] != "Grace" || c["email"] != nil || c["groups"] == nil {
		t.Errorf("id token claims = %v", c)
	}
	ui, err = r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok2))
	if err != nil || ui.Subject != "u2" || ui.Email != "" {
		t.Errorf("userinfo: %v %+v", err, ui)
	}
}

func TestDiscoveryKnobs(t *testing.T) {
	t.Parallel()
	op := authtest.New(t, authtest.Options{ClientSecret: secret, NoEndSession: true, NoUserinfo: true, SigningAlgs: []string{"RS256", "ES256"}})
	p, err := oidc.NewProvider(t.Context(), op.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]any
	_ = p.Claims(&meta)
	if meta["end_session_endpoint"] != nil || meta["userinfo_endpoint"] != nil || fmt.Sprint(meta["id_token_signing_alg_values_supported"]) != "[RS256 ES256]" {
		t.Errorf("metadata = %v", meta)
	}

	op.SetBehavior(func(b *authtest.Behavior) { b.DiscoveryIssuer = authtest.WrongIssuer })
	if _, err := oidc.NewProvider(t.Context(), op.Issuer()); err == nil || !strings.Contains(err.Error(), "issuer") {
		t.Errorf("issuer mismatch: %v", err)
	}
	op.SetBehavior(func(b *authtest.Behavior) { *b = authtest.Behavior{DiscoveryStatus: 500} })
	if _, err := oidc.NewProvider(t.Context(), op.Issuer()); err == nil {
		t.Error("discovery 500 accepted")
	}
	op.SetBehavior(func(b *authtest.Behavior) { *b = authtest.Behavior{DiscoveryHang: true} })
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := oidc.NewProvider(ctx, op.Issuer()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("discovery hang: %v", err)
	}
	if n := op.Requests().Discovery; n != 4 {
		t.Errorf("Discovery = %d", n)
	}
}

func TestEndSession(t *testing.T) {
	t.Parallel()
	op := authtest.New(t, authtest.Options{ClientSecret: secret})
	op.RegisterPostLogoutURI(logoutURI)
	r := newRP(t, op, oauth2.AuthStyleInHeader)
	tok, _, _, err := r.signInAndVerify(t)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	_ = r.provider.Claims(&meta)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(v url.Values) *http.Response {
		t.Helper()
		resp, err := client.Get(meta.EndSession + "?" + v.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	idToken := tok.Extra("id_token").(string)

	resp := get(url.Values{"post_logout_redirect_uri": {"https://evil.example.test/"}, "client_id": {op.ClientID()}})
	if resp.StatusCode != 400 {
		t.Errorf("unregistered post_logout_redirect_uri: %d", resp.StatusCode)
	}
	resp = get(url.Values{"post_logout_redirect_uri": {logoutURI}})
	if resp.StatusCode != 400 {
		t.Errorf("post_logout_redirect_uri without hint or client_id: %d", resp.StatusCode)
	}
	resp = get(url.Values{"id_token_hint": {idToken + "x"}})
	if resp.StatusCode != 400 {
		t.Errorf("bad id_token_hint: %d", resp.StatusCode)
	}
	resp = get(url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {logoutURI}, "state": {"bye"}, "client_id": {op.ClientID()}})
	if resp.StatusCode != 302 || resp.Header.Get("Location") != logoutURI+"?state=bye" {
		t.Errorf("logout: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	st := op.Requests()
	if st.EndSession != 4 || st.LastEndSession.Get("id_token_hint") != idToken || st.LastEndSession.Get("state") != "bye" {
		t.Errorf("stats = %+v", st)
	}
	// The OP session ended: its refresh token no longer works.
	tok.Expiry = time.Now().Add(-time.Minute)
	if _, err := r.cfg.TokenSource(t.Context(), tok).Token(); err == nil {
		t.Error("refresh token survived logout")
	}
	resp = get(url.Values{})
	if resp.StatusCode != 200 {
		t.Errorf("plain logout: %d", resp.StatusCode)
	}
}

func TestRevocation(t *testing.T) {
	t.Parallel()
	op := authtest.New(t, authtest.Options{ClientSecret: secret})
	r := newRP(t, op, oauth2.AuthStyleInHeader)
	tok, _, _, err := r.signInAndVerify(t)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Revocation string `json:"revocation_endpoint"`
	}
	_ = r.provider.Claims(&meta)
	req, _ := http.NewRequest(http.MethodPost, meta.Revocation, strings.NewReader(url.Values{"token": {tok.RefreshToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(op.ClientID()), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if _, err := r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok)); err == nil {
		t.Error("access token survived revocation of its refresh token")
	}
}

func TestParallelSignIns(t *testing.T) {
	t.Parallel()
	op := authtest.New(t, authtest.Options{ClientSecret: secret, IssParameterSupported: true})
	r := newRP(t, op, oauth2.AuthStyleAutoDetect)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			state, nonce, pkce := fmt.Sprint("s", i), oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
			cb, err := op.Approve(r.cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(pkce), oidc.Nonce(nonce)))
			if err != nil {
				errs <- err
				return
			}
			u, _ := url.Parse(cb)
			q := u.Query()
			if q.Get("state") != state || q.Get("iss") != op.Issuer() {
				errs <- fmt.Errorf("callback %v", q)
				return
			}
			tok, err := r.cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(pkce))
			if err != nil {
				errs <- err
				return
			}
			idt, err := r.verifier.Verify(context.Background(), tok.Extra("id_token").(string))
			if err != nil {
				errs <- err
				return
			}
			if idt.Nonce != nonce {
				errs <- fmt.Errorf("nonce mixed up")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := op.Requests(); st.Authorize != n || st.Token != n {
		t.Errorf("stats = %+v", st)
	}
}

// TestAttackTokensAreWellFormed proves the broken tokens are broken only in
// the intended way, so a relying party that accepts them really has the bug.
func TestAttackTokensAreWellFormed(t *testing.T) {
	t.Parallel()
	op := authtest.New(t, authtest.Options{ClientSecret: secret})
	r := newRP(t, op, oauth2.AuthStyleInHeader)
	raw := func(mode string) string {
		t.Helper()
		op.SetBehavior(func(b *authtest.Behavior) { b.Sign = mode })
		tok, err := r.exchange(t.Context(), r.authorize(t))
		if err != nil {
			t.Fatal(err)
		}
		return tok.Extra("id_token").(string)
	}

	// go-jose refuses HMAC keys under 256 bits, so check the MAC by hand.
	hs := strings.Split(raw(authtest.SignHS256), ".")
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(hs[0] + "." + hs[1]))
	if len(hs) != 3 || hs[2] != base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) {
		t.Errorf("HS256 token is not an HMAC-SHA256 keyed with the client secret: %q", hs)
	}

	wk, err := jose.ParseSigned(raw(authtest.SignWrongKey), []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	if kid := wk.Signatures[0].Header.KeyID; kid != op.KeyID() {
		t.Errorf("wrong-key kid = %q, want the current %q", kid, op.KeyID())
	}

	nk, err := jose.ParseSigned(raw(authtest.SignNoKID), []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	if kid := nk.Signatures[0].Header.KeyID; kid != "" {
		t.Errorf("no-kid token has kid %q", kid)
	}

	parts := strings.Split(raw(authtest.SignNone), ".")
	if len(parts) != 3 || parts[2] != "" {
		t.Fatalf("alg none token = %q", parts)
	}
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if !strings.Contains(string(header), `"alg":"none"`) {
		t.Errorf("alg none header = %s", header)
	}

	// A yolo verifier accepts the unsigned token: its claims are fine.
	yolo := r.provider.Verifier(&oidc.Config{ClientID: op.ClientID(), InsecureSkipSignatureCheck: true})
	if _, err := yolo.Verify(t.Context(), strings.Join(parts, ".")); err != nil {
		t.Errorf("alg none claims invalid: %v", err)
	}

	op.SetBehavior(func(b *authtest.Behavior) { b.Sign = "bogus" })
	_, err = r.exchange(t.Context(), r.authorize(t))
	if re := retrieveError(t, err); re.Response.StatusCode != 500 {
		t.Errorf("unknown Sign mode: %v", err)
	}
}
