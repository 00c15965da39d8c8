package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// ClockSkew is how far the provider's clock may be off from ours when checking iat.
const ClockSkew = 5 * time.Minute

// Client is the relying party: discovery, the authorization request, the code exchange and every check
// of the response. It is safe for concurrent use. Discovery happens once; until it succeeds the client
// keeps retrying in the background (Run) and sign-in answers "provider unavailable".
type Client struct {
	cfg        Config
	httpClient *http.Client
	log        *slog.Logger
	now        func() time.Time

	mu          sync.RWMutex
	md          *metadata
	lastErr     error
	lastAttempt time.Time
	discovering sync.Mutex // one discovery at a time
}

// metadata is what discovery taught us about the provider.
type metadata struct {
	provider      *oidc.Provider
	verifier      *oidc.IDTokenVerifier
	logoutVerify  *oidc.IDTokenVerifier // over a key set whose refetches are rate-limited
	oauth2        oauth2.Config
	issParameter  bool // RFC 9207 authorization_response_iss_parameter_supported
	endSession    string
	userinfo      bool
	authMethod    string
	providerHosts []string // origins the browser is sent to (CSP form-action)
}

// discoveryDoc holds the discovery fields go-oidc does not expose.
type discoveryDoc struct {
	EndSessionEndpoint     string   `json:"end_session_endpoint"`
	JWKSURI                string   `json:"jwks_uri"`
	IssParameterSupported  bool     `json:"authorization_response_iss_parameter_supported"`
	TokenAuthMethods       []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethods   []string `json:"code_challenge_methods_supported"`
	ResponseTypesSupported []string `json:"response_types_supported"`
	IDTokenSigningAlgs     []string `json:"id_token_signing_alg_values_supported"`
}

// NewClient makes a client; it does no I/O. httpClient carries the timeout for every provider call (nil:
// a client with cfg.HTTPTimeout).
func NewClient(cfg Config, httpClient *http.Client, log *slog.Logger) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: cfg.HTTPTimeout}
	}
	return &Client{cfg: cfg, httpClient: httpClient, log: log, now: time.Now}
}

func (c *Client) ctx(ctx context.Context) context.Context {
	ctx = oidc.ClientContext(ctx, c.httpClient)
	return context.WithValue(ctx, oauth2.HTTPClient, c.httpClient)
}

// Discover fetches the provider's metadata once. An *oidc.IssuerMismatchError means OIDC_ISSUER is wrong:
// the error says both values and never gets "fixed" by skipping the check.
func (c *Client) Discover(ctx context.Context) error { return c.tryDiscover(ctx, time.Time{}) }

// tryDiscover runs one discovery at a time. A caller that waited while another discovery ran since it
// asked takes that one's result instead of trying again, so a crowd of sign-ins against a hanging provider
// waits for one timeout, not one each.
func (c *Client) tryDiscover(ctx context.Context, asked time.Time) error {
	c.discovering.Lock()
	defer c.discovering.Unlock()
	if c.Ready() == nil {
		return nil
	}
	c.mu.RLock()
	last, lastErr := c.lastAttempt, c.lastErr
	c.mu.RUnlock()
	if !asked.IsZero() && !last.Before(asked) && lastErr != nil {
		return lastErr
	}
	md, err := c.discover(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastAttempt = c.now()
	if err != nil {
		c.lastErr = err
		return err
	}
	c.md, c.lastErr = md, nil
	return nil
}

func (c *Client) discover(ctx context.Context) (*metadata, error) {
	dctx, cancel := context.WithTimeout(c.ctx(ctx), c.cfg.HTTPTimeout)
	defer cancel()
	// go-oidc keeps only the HTTP client from this context: its JWKS refreshes run on their own context.
	provider, err := oidc.NewProvider(dctx, c.cfg.Issuer)
	if err != nil {
		var mismatch *oidc.IssuerMismatchError
		if errors.As(err, &mismatch) {
			return nil, &IssuerMismatchError{Configured: mismatch.Provided, Discovered: mismatch.Discovered}
		}
		wellKnown := strings.TrimSuffix(c.cfg.Issuer, "/") + "/.well-known/openid-configuration"
		// go-oidc puts the whole response body in the error; a provider's HTML error page does not
		// belong in a log line.
		msg := err.Error()
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		if strings.HasPrefix(msg, "404 ") {
			return nil, &DiscoveryNotFoundError{URL: wellKnown}
		}
		return nil, fmt.Errorf("auth: discovery at %s: %s (check %s: it must be the provider's issuer exactly, e.g. https://api.asgardeo.io/t/<org>/oauth2/token for Asgardeo)",
			wellKnown, msg, EnvIssuer)
	}
	var doc discoveryDoc
	if err := provider.Claims(&doc); err != nil {
		return nil, fmt.Errorf("auth: discovery: %w", err)
	}
	md := &metadata{
		provider:     provider,
		issParameter: doc.IssParameterSupported,
		endSession:   doc.EndSessionEndpoint,
		userinfo:     provider.UserInfoEndpoint() != "",
	}
	if len(doc.ResponseTypesSupported) > 0 && !slices.Contains(doc.ResponseTypesSupported, "code") {
		return nil, fmt.Errorf("auth: the provider does not support response_type=code (response_types_supported: %v): enable the authorization code flow for this client", doc.ResponseTypesSupported)
	}
	if len(doc.CodeChallengeMethods) > 0 && !slices.Contains(doc.CodeChallengeMethods, "S256") {
		return nil, fmt.Errorf("auth: the provider does not support PKCE S256 (code_challenge_methods_supported: %v): hxoidc requires PKCE with S256", doc.CodeChallengeMethods)
	}
	style, method, err := chooseAuthStyle(doc.TokenAuthMethods, c.cfg.ClientSecret != "")
	if err != nil {
		return nil, err
	}
	md.authMethod = method
	endpoint := provider.Endpoint()
	endpoint.AuthStyle = style
	md.oauth2 = oauth2.Config{
		ClientID:     c.cfg.ClientID,
		ClientSecret: c.cfg.ClientSecret,
		Endpoint:     endpoint,
		RedirectURL:  c.cfg.RedirectURL,
		Scopes:       c.cfg.Scopes,
	}
	vcfg := &oidc.Config{ClientID: c.cfg.ClientID, Now: c.now, SupportedSigningAlgs: signingAlgs(doc.IDTokenSigningAlgs)}
	md.verifier = provider.Verifier(vcfg)
	md.logoutVerify = oidc.NewVerifier(c.cfg.Issuer, &limitedKeySet{url: doc.JWKSURI, client: c.httpClient, now: c.now}, vcfg)
	for _, raw := range []string{endpoint.AuthURL, doc.EndSessionEndpoint} {
		if u, err := url.Parse(raw); err == nil && u.Host != "" {
			origin := u.Scheme + "://" + u.Host
			if !slices.Contains(md.providerHosts, origin) {
				md.providerHosts = append(md.providerHosts, origin)
			}
		}
	}
	return md, nil
}

// asymmetricAlgs are the ID token algorithms hxoidc accepts: never none, never HS* (whose key would be the
// client secret, or worse, a public key used as an HMAC secret).
var asymmetricAlgs = []string{oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512, oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA}

// signingAlgs keeps the asymmetric algorithms the provider advertises; with none advertised, RS256 alone
// (the algorithm every provider must support, Core §15.1).
func signingAlgs(advertised []string) []string {
	var algs []string
	for _, a := range advertised {
		if slices.Contains(asymmetricAlgs, a) {
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		algs = []string{oidc.RS256}
	}
	return algs
}

// chooseAuthStyle picks the token endpoint client authentication explicitly, never x/oauth2's
// auto-detection, which retries a failed request with the other style and so can spend the code twice.
func chooseAuthStyle(supported []string, confidential bool) (oauth2.AuthStyle, string, error) {
	if !confidential {
		// A public client sends client_id in the body and proves possession with PKCE alone.
		if len(supported) > 0 && !slices.Contains(supported, "none") {
			return 0, "", fmt.Errorf("auth: OIDC_CLIENT_SECRET is empty (a public client) but the provider's token endpoint does not accept public clients (token_endpoint_auth_methods_supported: %v): set the client secret, or make the application public at the provider", supported)
		}
		return oauth2.AuthStyleInParams, "none", nil
	}
	// Discovery's default when the field is absent is client_secret_basic (OpenID Connect Discovery §3).
	if len(supported) == 0 || slices.Contains(supported, "client_secret_basic") {
		return oauth2.AuthStyleInHeader, "client_secret_basic", nil
	}
	if slices.Contains(supported, "client_secret_post") {
		return oauth2.AuthStyleInParams, "client_secret_post", nil
	}
	return 0, "", fmt.Errorf("auth: the provider's token endpoint accepts none of client_secret_basic, client_secret_post (token_endpoint_auth_methods_supported: %v)", supported)
}

// IssuerMismatchError is a configuration error: OIDC_ISSUER differs from the issuer in the provider's
// discovery document. The check is exact (OpenID Connect Discovery §4.3); the fix is the configuration.
type IssuerMismatchError struct {
	Configured, Discovered string
}

func (e *IssuerMismatchError) Error() string {
	hint := "set " + EnvIssuer + " to exactly the discovered value"
	switch {
	case strings.TrimSuffix(e.Configured, "/") == strings.TrimSuffix(e.Discovered, "/"):
		hint += " (the trailing slash matters)"
	case strings.HasSuffix(e.Discovered, "/oauth2/token"):
		hint += " (Asgardeo's issuer ends in /oauth2/token)"
	}
	return fmt.Sprintf("auth: %s is %q but the provider's discovery document says its issuer is %q: %s", EnvIssuer, e.Configured, e.Discovered, hint)
}

// DiscoveryNotFoundError is a configuration error: there is no discovery document at the issuer, so
// OIDC_ISSUER is not the provider's issuer.
type DiscoveryNotFoundError struct{ URL string }

func (e *DiscoveryNotFoundError) Error() string {
	return fmt.Sprintf("auth: discovery at %s: 404 Not Found: %s is not the provider's issuer; use the issuer its documentation or console shows (for Asgardeo https://api.asgardeo.io/t/<org>/oauth2/token)", e.URL, EnvIssuer)
}

// Run retries discovery until it succeeds or ctx ends, backing off from 1 s to 1 min.
func (c *Client) Run(ctx context.Context) {
	delay := time.Second
	for c.Ready() != nil {
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		if err := c.Discover(ctx); err != nil {
			c.log.Warn("provider discovery failed; will retry", "issuer", c.cfg.Issuer, "retry_in", (2 * delay).String(), "err", err)
		} else {
			c.log.Info("provider discovery succeeded", "issuer", c.cfg.Issuer)
		}
		delay = min(2*delay, time.Minute)
	}
}

// Ready is nil once the provider's metadata is loaded, else the last discovery error.
func (c *Client) Ready() error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.md != nil {
		return nil
	}
	if c.lastErr != nil {
		return c.lastErr
	}
	return ErrProviderUnavailable
}

// metadata returns the loaded metadata, trying discovery once more (at most every 2 s) when it is missing
// so that a provider that came back is used at once.
func (c *Client) metadata(ctx context.Context) (*metadata, error) {
	c.mu.RLock()
	md, last := c.md, c.lastAttempt
	c.mu.RUnlock()
	if md != nil {
		return md, nil
	}
	if now := c.now(); now.Sub(last) > 2*time.Second {
		if err := c.tryDiscover(ctx, now); err == nil {
			c.mu.RLock()
			defer c.mu.RUnlock()
			return c.md, nil
		}
	}
	return nil, errUnavailable(c.Ready())
}

// ProviderOrigins are the origins the browser is sent to (authorization and end-session endpoints), for
// the Content-Security-Policy's form-action. Empty until discovery succeeds.
func (c *Client) ProviderOrigins() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.md == nil {
		return nil
	}
	return c.md.providerHosts
}

// Pending is one sign-in that has left for the provider and not come back yet. It lives server-side in
// the session, keyed by State.
type Pending struct {
	State    string    `json:"state"`
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"`
	ReturnTo string    `json:"return_to"`
	Popup    bool      `json:"popup,omitempty"`
	Created  time.Time `json:"created"`
}

// AuthCodeURL starts a sign-in: fresh state, nonce and PKCE verifier, and the provider URL to send the
// browser to.
func (c *Client) AuthCodeURL(ctx context.Context, returnTo string, popup bool) (Pending, string, error) {
	md, err := c.metadata(ctx)
	if err != nil {
		return Pending{}, "", err
	}
	p := Pending{
		State:    randomString(),
		Nonce:    randomString(),
		Verifier: oauth2.GenerateVerifier(),
		ReturnTo: returnTo,
		Popup:    popup,
		Created:  c.now(),
	}
	u := md.oauth2.AuthCodeURL(p.State, oidc.Nonce(p.Nonce), oauth2.S256ChallengeOption(p.Verifier))
	return p, u, nil
}

// User is the signed-in person as kept in the session.
type User struct {
	Issuer            string          `json:"iss"`
	Subject           string          `json:"sub"`
	SessionID         string          `json:"sid,omitempty"`
	Name              string          `json:"name,omitempty"`
	PreferredUsername string          `json:"preferred_username,omitempty"`
	Email             string          `json:"email,omitempty"`
	Picture           string          `json:"picture,omitempty"`
	IDTokenClaims     json.RawMessage `json:"id_token_claims,omitempty"`
	UserinfoClaims    json.RawMessage `json:"userinfo_claims,omitempty"`
	SignedInAt        time.Time       `json:"signed_in_at"`
}

// DisplayName is the name claim, else preferred_username, email or sub.
func (u User) DisplayName() string {
	for _, s := range []string{u.Name, u.PreferredUsername, u.Email} {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return u.Subject
}

// Tokens stay server-side: the raw ID token for the logout hint, the access and refresh tokens.
type Tokens struct {
	IDToken      string    `json:"id_token"`
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	Nonce        string    `json:"nonce,omitempty"` // of the original ID token, checked on refresh (Core §12.2)
}

// Identity is what a completed sign-in yields.
type Identity struct {
	User   User
	Tokens Tokens
}

// Exchange completes a sign-in whose state already matched p: it checks the iss parameter (RFC 9207),
// redeems the code with the PKCE verifier, verifies the ID token (Core §3.1.3.7) and checks userinfo.
func (c *Client) Exchange(ctx context.Context, p Pending, query url.Values) (*Identity, error) {
	md, err := c.metadata(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.checkIssuer(md, query); err != nil {
		return nil, err
	}
	code := query.Get("code")
	if code == "" || len(query["code"]) != 1 {
		return nil, newError(http.StatusBadRequest, "Incomplete sign-in response",
			"The sign-in response had no authorization code. Please try again.", errors.New("auth: callback without exactly one code parameter"))
	}

	cctx := c.ctx(ctx)
	tok, err := md.oauth2.Exchange(cctx, code, oauth2.VerifierOption(p.Verifier))
	if err != nil {
		return nil, c.tokenError(err, md.authMethod)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return nil, newError(http.StatusBadGateway, "Sign-in failed", "The provider did not return an ID token. Check that the openid scope is allowed for this application.",
			fmt.Errorf("%w: token response without id_token", ErrInvalidIDToken))
	}
	idt, claims, err := c.verifyIDToken(cctx, md, rawID, p.Nonce, p.Created)
	if err != nil {
		return nil, err
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, invalidToken(fmt.Errorf("at_hash: %w", err))
		}
	}

	user := User{Issuer: idt.Issuer, Subject: idt.Subject, IDTokenClaims: claims, SignedInAt: c.now()}
	var std standardClaims
	_ = json.Unmarshal(claims, &std)
	user.SessionID = std.SessionID

	if md.userinfo {
		info, err := md.provider.UserInfo(cctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			if isTimeout(err) {
				return nil, timeoutError("userinfo", err)
			}
			return nil, newError(http.StatusBadGateway, "Sign-in failed", "The provider's user information could not be read. Please try again.",
				fmt.Errorf("%w: %w", ErrUserinfo, err))
		}
		// Core §5.3.4: the userinfo sub must be exactly the ID token's, or the response may be substituted.
		if subtle.ConstantTimeCompare([]byte(info.Subject), []byte(idt.Subject)) != 1 {
			return nil, newError(http.StatusBadGateway, "Sign-in failed", "The provider's user information belongs to another user, so it was refused.",
				fmt.Errorf("%w: userinfo sub %q differs from ID token sub %q", ErrUserinfo, info.Subject, idt.Subject))
		}
		var raw json.RawMessage
		if err := info.Claims(&raw); err == nil {
			user.UserinfoClaims = raw
			var ui standardClaims
			if json.Unmarshal(raw, &ui) == nil {
				std.merge(ui)
			}
		}
	}
	user.Name, user.PreferredUsername, user.Email = std.Name, std.PreferredUsername, std.Email
	user.Picture = safePicture(std.Picture)

	return &Identity{User: user, Tokens: Tokens{
		IDToken: rawID, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken,
		TokenType: tok.TokenType, Expiry: tok.Expiry, Nonce: p.Nonce,
	}}, nil
}

// CheckIssuer applies RFC 9207 to an authorization response, success or error: a present iss must equal
// the issuer exactly, and a provider that advertises the parameter must send it. Exchange calls it too.
func (c *Client) CheckIssuer(ctx context.Context, query url.Values) error {
	md, err := c.metadata(ctx)
	if err != nil {
		return err
	}
	return c.checkIssuer(md, query)
}

func (c *Client) checkIssuer(md *metadata, query url.Values) error {
	iss, present := query["iss"]
	if !present && !md.issParameter {
		return nil
	}
	if !present || len(iss) != 1 || iss[0] != c.cfg.Issuer {
		return newError(http.StatusBadRequest, "Sign-in response from the wrong provider",
			"The sign-in response did not come from the expected provider, so it was refused. Please try again.",
			fmt.Errorf("%w: expected %q, got %q (present=%t, advertised=%t)", ErrIssuerMismatch, c.cfg.Issuer, strings.Join(iss, ","), present, md.issParameter))
	}
	return nil
}

type standardClaims struct {
	SessionID         string   `json:"sid"`
	Name              string   `json:"name"`
	PreferredUsername string   `json:"preferred_username"`
	Email             string   `json:"email"`
	Picture           string   `json:"picture"`
	AuthorizedParty   string   `json:"azp"`
	Audience          audience `json:"aud"`
	IssuedAt          *float64 `json:"iat"`
}

// merge takes userinfo's display claims over the ID token's; identity claims stay the ID token's.
func (s *standardClaims) merge(ui standardClaims) {
	for _, f := range []struct{ dst, src *string }{
		{&s.Name, &ui.Name}, {&s.PreferredUsername, &ui.PreferredUsername}, {&s.Email, &ui.Email}, {&s.Picture, &ui.Picture},
	} {
		if *f.src != "" {
			*f.dst = *f.src
		}
	}
}

type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*a = audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*a = l
	return nil
}

// verifyIDToken runs go-oidc's checks (signature with an advertised asymmetric algorithm and a JWKS key,
// refetched on an unknown kid; exact iss; aud contains the client; exp) and the ones it leaves to the
// relying party: azp, iat, sub and the nonce.
func (c *Client) verifyIDToken(ctx context.Context, md *metadata, raw, nonce string, started time.Time) (*oidc.IDToken, json.RawMessage, error) {
	if !isCompactJWS(raw) {
		return nil, nil, invalidToken(errors.New("not a compact JWS"))
	}
	idt, err := md.verifier.Verify(ctx, raw)
	if err != nil {
		if isTimeout(err) {
			return nil, nil, timeoutError("JWKS", err)
		}
		return nil, nil, invalidToken(err)
	}
	var claims json.RawMessage
	if err := idt.Claims(&claims); err != nil {
		return nil, nil, invalidToken(err)
	}
	var std standardClaims
	if err := json.Unmarshal(claims, &std); err != nil {
		return nil, nil, invalidToken(err)
	}
	if idt.Subject == "" {
		return nil, nil, invalidToken(errors.New("no sub claim"))
	}
	// Core §3.1.3.7 items 3-5: several audiences only with azp naming us; a present azp must be us.
	if len(std.Audience) > 1 && std.AuthorizedParty == "" {
		return nil, nil, invalidToken(fmt.Errorf("several audiences %v and no azp", []string(std.Audience)))
	}
	if std.AuthorizedParty != "" && std.AuthorizedParty != c.cfg.ClientID {
		return nil, nil, invalidToken(fmt.Errorf("azp %q is not this client %q", std.AuthorizedParty, c.cfg.ClientID))
	}
	// Item 10: iat is required; a token issued in the future or before this sign-in began is refused.
	now := c.now()
	switch {
	case std.IssuedAt == nil:
		return nil, nil, invalidToken(errors.New("no iat claim"))
	case idt.IssuedAt.After(now.Add(ClockSkew)):
		return nil, nil, invalidToken(fmt.Errorf("iat %s is in the future (now %s): check the clocks", idt.IssuedAt.UTC(), now.UTC()))
	case !started.IsZero() && idt.IssuedAt.Before(started.Add(-ClockSkew)):
		return nil, nil, invalidToken(fmt.Errorf("iat %s is before this sign-in started (%s)", idt.IssuedAt.UTC(), started.UTC()))
	}
	// Item 11: the nonce must be present and equal to the one sent, compared in constant time.
	if nonce != "" {
		if idt.Nonce == "" {
			return nil, nil, invalidToken(errors.New("no nonce claim"))
		}
		if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
			return nil, nil, invalidToken(errors.New("nonce mismatch"))
		}
	}
	return idt, claims, nil
}

func invalidToken(err error) *Error {
	return newError(http.StatusBadGateway, "Sign-in failed",
		"The provider's answer did not pass the security checks, so you were not signed in. Please try again; if it keeps happening, the provider or this app is misconfigured.",
		fmt.Errorf("%w: %w", ErrInvalidIDToken, err))
}

func timeoutError(what string, err error) *Error {
	return newError(http.StatusGatewayTimeout, "Sign-in provider did not answer",
		"The sign-in provider took too long to answer. Please try again in a moment.",
		fmt.Errorf("%w: %s: %w", ErrTimeout, what, err))
}

func (c *Client) tokenError(err error, method string) *Error {
	if isTimeout(err) {
		return timeoutError("token endpoint", err)
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		wrapped := fmt.Errorf("%w: %s (status %d, client auth %s)", ErrTokenEndpoint, re.Error(), re.Response.StatusCode, method)
		switch re.ErrorCode {
		case "invalid_grant":
			return newError(http.StatusBadRequest, "Sign-in expired",
				"This sign-in link was already used or has expired. Please sign in again.", wrapped)
		case "invalid_client", "unauthorized_client":
			return newError(http.StatusBadGateway, "Sign-in failed",
				"The provider refused this application's credentials. The administrator should check OIDC_CLIENT_ID, OIDC_CLIENT_SECRET and the token endpoint authentication method ("+method+") registered at the provider.", wrapped)
		}
		return newError(http.StatusBadGateway, "Sign-in failed", "The provider could not complete the sign-in. Please try again.", wrapped)
	}
	return newError(http.StatusBadGateway, "Sign-in failed", "The provider could not be reached to complete the sign-in. Please try again.",
		fmt.Errorf("%w: %w", ErrTokenEndpoint, err))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// Refresh redeems the refresh token. A rotated refresh token replaces the old one; a new ID token must
// keep the original iss, sub and aud and, when it carries one, the original nonce (Core §12.2).
func (c *Client) Refresh(ctx context.Context, u User, t Tokens) (Tokens, error) {
	md, err := c.metadata(ctx)
	if err != nil {
		return t, err
	}
	if t.RefreshToken == "" {
		return t, newError(http.StatusUnauthorized, "Session expired", "Your session has expired. Please sign in again.", errors.New("auth: no refresh token"))
	}
	cctx := c.ctx(ctx)
	tok, err := md.oauth2.TokenSource(cctx, &oauth2.Token{RefreshToken: t.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
	if err != nil {
		return t, c.tokenError(err, md.authMethod)
	}
	next := Tokens{IDToken: t.IDToken, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, TokenType: tok.TokenType, Expiry: tok.Expiry, Nonce: t.Nonce}
	if next.RefreshToken == "" {
		next.RefreshToken = t.RefreshToken
	}
	if rawID, _ := tok.Extra("id_token").(string); rawID != "" {
		idt, _, err := c.verifyIDToken(cctx, md, rawID, "", time.Time{})
		if err != nil {
			return t, err
		}
		if idt.Subject != u.Subject || idt.Issuer != u.Issuer {
			return t, invalidToken(fmt.Errorf("refreshed ID token is for sub %q iss %q, not %q %q", idt.Subject, idt.Issuer, u.Subject, u.Issuer))
		}
		if idt.Nonce != "" && subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(t.Nonce)) != 1 {
			return t, invalidToken(errors.New("refreshed ID token nonce differs from the original"))
		}
		next.IDToken = rawID
	}
	return next, nil
}

// UserInfo fetches the userinfo claims with the access token and checks their sub.
func (c *Client) UserInfo(ctx context.Context, u User, t Tokens) (json.RawMessage, error) {
	md, err := c.metadata(ctx)
	if err != nil {
		return nil, err
	}
	if !md.userinfo {
		return nil, nil
	}
	info, err := md.provider.UserInfo(c.ctx(ctx), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: t.AccessToken, TokenType: t.TokenType}))
	if err != nil {
		return nil, newError(http.StatusBadGateway, "Provider error", "The provider's user information could not be read.", fmt.Errorf("%w: %w", ErrUserinfo, err))
	}
	if info.Subject != u.Subject {
		return nil, newError(http.StatusBadGateway, "Provider error", "The provider's user information belongs to another user.", fmt.Errorf("%w: sub %q != %q", ErrUserinfo, info.Subject, u.Subject))
	}
	var raw json.RawMessage
	return raw, info.Claims(&raw)
}

// EndSessionURL is where the browser goes to end the provider session (RP-Initiated Logout 1.0), or ""
// when the provider has no end_session_endpoint.
func (c *Client) EndSessionURL(ctx context.Context, idTokenHint, state string) string {
	md, err := c.metadata(ctx)
	if err != nil || md.endSession == "" {
		return ""
	}
	u, err := url.Parse(md.endSession)
	if err != nil {
		return ""
	}
	q := u.Query()
	if idTokenHint != "" {
		q.Set("id_token_hint", idTokenHint)
	}
	q.Set("post_logout_redirect_uri", c.cfg.PostLogoutRedirectURL)
	q.Set("client_id", c.cfg.ClientID)
	q.Set("state", state)
	u.RawQuery = q.Encode()
	return u.String()
}

// VerifyLogout validates a back-channel logout token: go-oidc's checks (signature, iss, aud, exp, the
// events claim, no nonce, jti, sub or sid) plus iat, which it leaves to us.
func (c *Client) VerifyLogout(ctx context.Context, raw string) (*oidc.LogoutToken, error) {
	md, err := c.metadata(ctx)
	if err != nil {
		return nil, err
	}
	// A JWT is the compact serialisation only (RFC 7519 §7.2); go-jose would also take JWS JSON, whose
	// unprotected header an attacker can fill.
	if !isCompactJWS(raw) {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrBadLogoutToken)
	}
	lt, err := md.logoutVerify.VerifyLogout(c.ctx(ctx), raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadLogoutToken, err)
	}
	now := c.now()
	if lt.IssuedAt.IsZero() {
		return nil, fmt.Errorf("%w: no iat claim", ErrBadLogoutToken)
	}
	if lt.IssuedAt.After(now.Add(ClockSkew)) {
		return nil, fmt.Errorf("%w: iat %s is in the future", ErrBadLogoutToken, lt.IssuedAt.UTC())
	}
	if lt.IssuedAt.Before(now.Add(-LogoutTokenMaxAge)) {
		return nil, fmt.Errorf("%w: iat %s is older than %s", ErrBadLogoutToken, lt.IssuedAt.UTC(), LogoutTokenMaxAge)
	}
	return lt, nil
}

// LogoutTokenMaxAge bounds how old a logout token's iat may be, which also bounds how long its jti must
// be remembered to refuse a replay.
const LogoutTokenMaxAge = 10 * time.Minute

// isCompactJWS reports three base64url parts separated by dots.
func isCompactJWS(raw string) bool {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts[:2] {
		if p == "" || strings.Trim(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return false
		}
	}
	return strings.Trim(parts[2], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == ""
}

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// safePicture keeps only https picture URLs (and http on loopback, for the development provider), so a
// claim cannot smuggle javascript: or data: into an img src.
func safePicture(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	if u.Scheme == "https" || (u.Scheme == "http" && isLoopbackHost(u.Hostname())) {
		return u.String()
	}
	return ""
}
