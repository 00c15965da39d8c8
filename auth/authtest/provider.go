package authtest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Endpoint paths, relative to [Provider.URL]. The discovery document lives
// at Issuer()+"/.well-known/openid-configuration" instead.
const (
	pathAuthorize  = "/authorize"
	pathToken      = "/token"
	pathUserinfo   = "/userinfo"
	pathJWKS       = "/jwks"
	pathEndSession = "/end_session"
	pathRevoke     = "/revoke"
	wellKnown      = "/.well-known/openid-configuration"
)

// Client authentication methods understood by the token and revocation
// endpoints (values of token_endpoint_auth_methods_supported).
const (
	AuthMethodBasic = "client_secret_basic"
	AuthMethodPost  = "client_secret_post"
	AuthMethodNone  = "none"
)

const (
	codeTTL          = 60 * time.Second
	idTokenTTL       = time.Hour
	logoutTokenTTL   = 2 * time.Minute
	defaultExpiresIn = 3600
)

// Options configure a [Provider]. They are fixed for its lifetime.
type Options struct {
	// ClientID is the one registered client; default "test-client".
	ClientID string
	// ClientSecret is the client's secret; "" makes it a public client
	// (token_endpoint_auth_method "none").
	ClientSecret string
	// AuthMethods is advertised as token_endpoint_auth_methods_supported and
	// is the exact set of client authentication methods the token and
	// revocation endpoints accept (AuthMethodBasic, AuthMethodPost,
	// AuthMethodNone; anything else is advertised but never accepted).
	// Default [client_secret_basic client_secret_post], or [none] for a
	// public client.
	AuthMethods []string
	// IssParameterSupported advertises
	// authorization_response_iss_parameter_supported and sends iss on every
	// authorization response (RFC 9207). See also [Behavior.IssParam].
	IssParameterSupported bool
	// NoEndSession omits end_session_endpoint (and the endpoint answers 404).
	NoEndSession bool
	// NoUserinfo omits userinfo_endpoint (and the endpoint answers 404).
	NoUserinfo bool
	// SigningAlgs is advertised as id_token_signing_alg_values_supported;
	// default [RS256]. It changes only the advertisement: tokens are signed
	// as [Behavior.Sign] says.
	SigningAlgs []string
	// IssuerSuffix is a path appended to the server URL to form the issuer,
	// e.g. "/oauth2/token" (Asgardeo-like) or "/realms/test" (Keycloak-like).
	IssuerSuffix string
}

// Stats counts requests per endpoint and records the last interesting
// parameters. [Provider.Requests] returns a copy.
type Stats struct {
	Discovery  int // discovery document requests
	Authorize  int // authorization endpoint requests (including via Approve)
	Token      int // token endpoint requests, whatever their outcome
	Userinfo   int // userinfo endpoint requests
	EndSession int // end_session endpoint requests
	JWKS       int // JWKS requests
	Revoke     int // revocation endpoint requests

	// CodeReuse counts token requests that presented an authorization code
	// that had already been redeemed (each one also revokes every token
	// issued from that code, RFC 6749 §4.1.2).
	CodeReuse int
	// RefreshReuse counts token requests that presented a refresh token
	// that had already been rotated (each one also revokes the whole grant,
	// RFC 9700 §4.14.2).
	RefreshReuse int

	// LastTokenAuthMethod is the client authentication method the last
	// token request used ("client_secret_basic", "client_secret_post",
	// "none", "client_assertion" or "multiple"), recorded whether or not
	// authentication then succeeded.
	LastTokenAuthMethod string
	// LastTokenGrantType is the grant_type of the last token request.
	LastTokenGrantType string
	// LastAuthorize holds the parameters of the last authorization request.
	LastAuthorize url.Values
	// LastEndSession holds the parameters of the last end_session request.
	LastEndSession url.Values
	// LastSID is the sid of the last sign-in for which an ID token was
	// issued from an authorization code (the default sid of LogoutToken).
	LastSID string
}

// Provider is a running test OpenID provider. All methods are safe for
// concurrent use; those that may call t.Fatal on misuse (RegisterRedirectURI,
// RegisterPostLogoutURI, RotateKeys, LogoutToken) belong on the test
// goroutine, like New.
type Provider struct {
	t       testing.TB
	srv     *httptest.Server
	baseURL string
	opts    Options
	issuer  string
	// discoveryPath is the discovery document path.
	discoveryPath string
	stop          chan struct{} // closed by cleanup, before srv.Close
	testCtx       context.Context

	mu             sync.Mutex
	behavior       Behavior
	release        chan struct{} // closed (and replaced) by SetBehavior
	user           map[string]any
	redirectURIs   map[string]bool
	postLogoutURIs map[string]bool
	cur            *signingKey   // published in the JWKS
	next           *signingKey   // used by SignUnknownKID, promoted by RotateKeys
	wrong          *signingKey   // used by SignWrongKey, never published
	allKeys        []*signingKey // every key ever published (id_token_hint checks)
	codes          map[string]*authCode
	access         map[string]*accessToken
	refresh        map[string]*refreshToken
	stats          Stats
}

// grant is one sign-in: everything issued from one authorization code.
type grant struct {
	clientID string
	scope    []string
	user     map[string]any // snapshot at authorization time
	sid      string
	authTime time.Time
	revoked  bool
}

type authCode struct {
	g           *grant
	redirectURI string
	challenge   string
	nonce       string
	expires     time.Time
	used        bool
}

type accessToken struct {
	g       *grant
	expires time.Time
	revoked bool
}

type refreshToken struct {
	g       *grant
	rotated bool
}

// DefaultUser returns the claims of the default user: sub "user-1", name
// "Ada Lovelace", email "ada@example.test" (verified), preferred_username
// "ada", given_name "Ada", family_name "Lovelace".
func DefaultUser() map[string]any {
	return map[string]any{
		"sub":                "user-1",
		"name":               "Ada Lovelace",
		"given_name":         "Ada",
		"family_name":        "Lovelace",
		"preferred_username": "ada",
		"email":              "ada@example.test",
		"email_verified":     true,
	}
}

// New starts a provider on an httptest server listening on 127.0.0.1. It is
// closed by t.Cleanup; requests hanging on a Hang knob are released when the
// test's context is cancelled (before any cleanup runs), so closing never
// deadlocks.
func New(t testing.TB, opts Options) *Provider {
	t.Helper()
	if opts.ClientID == "" {
		opts.ClientID = "test-client"
	}
	if len(opts.AuthMethods) == 0 {
		if opts.ClientSecret == "" {
			opts.AuthMethods = []string{AuthMethodNone}
		} else {
			opts.AuthMethods = []string{AuthMethodBasic, AuthMethodPost}
		}
	} else {
		opts.AuthMethods = slices.Clone(opts.AuthMethods)
	}
	if len(opts.SigningAlgs) == 0 {
		opts.SigningAlgs = []string{"RS256"}
	} else {
		opts.SigningAlgs = slices.Clone(opts.SigningAlgs)
	}
	if opts.IssuerSuffix != "" && !strings.HasPrefix(opts.IssuerSuffix, "/") {
		opts.IssuerSuffix = "/" + opts.IssuerSuffix
	}
	if strings.ContainsAny(opts.IssuerSuffix, "?#") {
		t.Fatalf("authtest: IssuerSuffix %q must be a plain path", opts.IssuerSuffix)
	}

	key, err := newSigningKey()
	if err != nil {
		t.Fatalf("authtest: generating signing key: %v", err)
	}
	p := &Provider{
		t:              t,
		opts:           opts,
		stop:           make(chan struct{}),
		testCtx:        t.Context(),
		release:        make(chan struct{}),
		user:           DefaultUser(),
		redirectURIs:   map[string]bool{},
		postLogoutURIs: map[string]bool{},
		cur:            key,
		allKeys:        []*signingKey{key},
		codes:          map[string]*authCode{},
		access:         map[string]*accessToken{},
		refresh:        map[string]*refreshToken{},
	}
	// Everything handlers read is set before Start, so it happens-before
	// every request.
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(p.serveHTTP))
	p.baseURL = "http://" + p.srv.Listener.Addr().String() // what Start sets as srv.URL
	p.issuer = p.baseURL + opts.IssuerSuffix
	p.discoveryPath = strings.TrimSuffix(opts.IssuerSuffix, "/") + wellKnown
	p.srv.Start()
	if p.srv.URL != p.baseURL {
		p.srv.Close()
		t.Fatalf("authtest: server URL %q, expected %q", p.srv.URL, p.baseURL)
	}
	t.Cleanup(func() {
		close(p.stop) // releases hanging handlers so Close cannot deadlock
		p.srv.Close()
	})
	return p
}

// Issuer returns the issuer identifier: URL() + Options.IssuerSuffix.
func (p *Provider) Issuer() string { return p.issuer }

// URL returns the server's base URL, e.g. "http://127.0.0.1:41234".
func (p *Provider) URL() string { return p.baseURL }

// ClientID returns the registered client's ID (Options.ClientID or its
// default).
func (p *Provider) ClientID() string { return p.opts.ClientID }

// ClientSecret returns the registered client's secret ("" for a public
// client).
func (p *Provider) ClientSecret() string { return p.opts.ClientSecret }

// SetBehavior calls f with the current behaviour, under the provider's lock,
// and keeps what f leaves. Requests hanging on a Hang knob that f switched
// off proceed normally.
func (p *Provider) SetBehavior(f func(*Behavior)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.behavior
	f(&b)
	p.behavior = b
	close(p.release)
	p.release = make(chan struct{})
}

// Behavior returns a copy of the current behaviour.
func (p *Provider) Behavior() Behavior {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.behavior
}

// RegisterRedirectURI allows uri as a redirect_uri of the client. Matching
// is exact string comparison (RFC 9700 §4.1.3). uri must be an absolute URL
// without a fragment.
func (p *Provider) RegisterRedirectURI(uri string) {
	p.t.Helper()
	p.checkRegisteredURI("redirect", uri)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.redirectURIs[uri] = true
}

// RegisterPostLogoutURI allows uri as a post_logout_redirect_uri of the
// client (exact match).
func (p *Provider) RegisterPostLogoutURI(uri string) {
	p.t.Helper()
	p.checkRegisteredURI("post-logout redirect", uri)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.postLogoutURIs[uri] = true
}

func (p *Provider) checkRegisteredURI(kind, uri string) {
	p.t.Helper()
	u, err := url.Parse(uri)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" || strings.Contains(uri, "#") {
		p.t.Fatalf("authtest: %s URI %q must be an absolute URL without fragment", kind, uri)
	}
}

// RotateKeys retires the current signing key: the key used by
// SignUnknownKID (or, if none was made yet, a fresh key) becomes current,
// with its own kid, and the JWKS now serves only that key. Tokens signed
// before are no longer verifiable. Call it from the test goroutine.
func (p *Provider) RotateKeys() {
	p.t.Helper()
	p.mu.Lock()
	next := p.next
	p.mu.Unlock()
	if next == nil {
		k, err := newSigningKey()
		if err != nil {
			p.t.Fatalf("authtest: generating signing key: %v", err)
		}
		next = k
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next != nil {
		next = p.next
	}
	p.cur = next
	p.next = nil
	p.allKeys = append(p.allKeys, next)
}

// KeyID returns the kid of the current (published) signing key.
func (p *Provider) KeyID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur.kid
}

// SetUser replaces the claims of the user signed in by the next
// authorization requests (sign-ins already under way keep theirs). claims
// is deep-copied. If it has no "sub", sub "user-1" is used. Protocol
// claims (iss, aud, exp, ...) in it are overwritten in ID tokens. Standard
// claims are released per scope (OIDC Core §5.4: profile, email, address,
// phone); other claims are always released.
func (p *Provider) SetUser(claims map[string]any) {
	c := deepCopyMap(claims)
	if _, ok := c["sub"]; !ok {
		c["sub"] = "user-1"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = c
}

// Requests returns a copy of the request statistics.
func (p *Provider) Requests() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.LastAuthorize = cloneValues(s.LastAuthorize)
	s.LastEndSession = cloneValues(s.LastEndSession)
	return s
}

// LogoutToken returns a back-channel logout token (OIDC Back-Channel Logout
// 1.0 §2.4) signed as Behavior.Sign says, with typ "logout+jwt" and claims
// iss, aud ([client_id]), iat, exp (now+2m), jti (random), sub (the current
// user's), sid (Stats.LastSID, or a random one before any sign-in) and
// events {"http://schemas.openid.net/event/backchannel-logout": {}}. mutate,
// if not nil, may change the claims before signing (add nonce, drop events,
// ...). Deliver it with
// http.PostForm(backchannelURI, url.Values{"logout_token": {tok}}).
// Call it from the test goroutine.
func (p *Provider) LogoutToken(mutate func(claims map[string]any)) string {
	p.t.Helper()
	now := time.Now()
	p.mu.Lock()
	sub := p.user["sub"]
	sid := p.stats.LastSID
	mode := p.behavior.Sign
	p.mu.Unlock()
	if sid == "" {
		sid = randomString(16)
	}
	claims := map[string]any{
		"iss": p.issuer,
		"aud": []string{p.opts.ClientID},
		"iat": now.Unix(),
		"exp": now.Add(logoutTokenTTL).Unix(),
		"jti": randomString(16),
		"sub": sub,
		"sid": sid,
		"events": map[string]any{
			"http://schemas.openid.net/event/backchannel-logout": map[string]any{},
		},
	}
	if mutate != nil {
		mutate(claims)
	}
	tok, err := p.sign(claims, mode, "logout+jwt")
	if err != nil {
		p.t.Fatalf("authtest: signing logout token: %v", err)
	}
	return tok
}

// Approve plays the browser for one authorization request: it sends
// authorizeURL (the full URL the app redirected to, which must point at
// this provider's authorization endpoint) to the provider and returns the
// Location of its redirect, i.e. the app's callback URL with
// code/state/iss or error/error_description/state/iss. When the provider
// refuses to redirect (unknown client, unregistered redirect_uri), Approve
// returns an error holding the status and page text. It is safe to call
// from any goroutine.
func (p *Provider) Approve(authorizeURL string) (callbackURL string, err error) {
	u, err := url.Parse(authorizeURL)
	if err != nil {
		return "", fmt.Errorf("authtest: parsing authorize URL: %w", err)
	}
	base, _ := url.Parse(p.baseURL)
	if u.Scheme != base.Scheme || u.Host != base.Host || u.Path != pathAuthorize {
		return "", fmt.Errorf("authtest: %q is not this provider's authorization endpoint %s", authorizeURL, p.baseURL+pathAuthorize)
	}
	client := *p.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	client.Timeout = 30 * time.Second
	resp, err := client.Get(authorizeURL)
	if err != nil {
		return "", fmt.Errorf("authtest: authorization request: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		return "", &AuthorizeRefusedError{Status: resp.StatusCode, Body: string(body)}
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", errors.New("authtest: authorization redirect without Location")
	}
	return loc, nil
}

// AuthorizeRefusedError is returned by [Provider.Approve] when the
// authorization endpoint answers with an error page instead of a redirect
// (as it must when client_id or redirect_uri are not valid).
type AuthorizeRefusedError struct {
	Status int    // HTTP status, e.g. 400
	Body   string // page text (truncated to 4 KiB)
}

// Error describes the refusal.
func (e *AuthorizeRefusedError) Error() string {
	return fmt.Sprintf("authtest: authorization endpoint refused to redirect (%d): %s", e.Status, e.Body)
}

// randomString returns n random bytes, base64url-encoded without padding.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b)
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = slices.Clone(vs)
	}
	return c
}

func deepCopyMap(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = deepCopy(v)
	}
	return c
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return deepCopyMap(v)
	case []any:
		c := make([]any, len(v))
		for i, e := range v {
			c[i] = deepCopy(e)
		}
		return c
	case []string:
		return slices.Clone(v)
	default:
		return v
	}
}

// signingKey is an RSA key with its kid.
type signingKey struct {
	kid  string
	priv *rsa.PrivateKey
}

func newSigningKey() (*signingKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return &signingKey{kid: randomString(9), priv: priv}, nil
}
