package devidp

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// authRequest is a pending authorization request (in memory only). Adapted from the zitadel/oidc
// example storage (Apache-2.0).
type authRequest struct {
	ID            string
	CreatedAt     time.Time
	ClientID      string
	RedirectURI   string
	State         string
	Nonce         string
	Scopes        []string
	ResponseType  oidc.ResponseType
	ResponseMode  oidc.ResponseMode
	CodeChallenge *oidc.CodeChallenge
	LoginHint     string

	// Set by a successful login.
	done      bool
	subject   string
	authTime  time.Time
	sessionID string

	// Set when the authorization code is issued.
	code         string
	codeIssuedAt time.Time
}

var (
	_ op.AuthRequest    = (*authRequest)(nil)
	_ op.LogAuthRequest = (*authRequest)(nil)
)

// LogValue implements slog.LogValuer; it leaves out the nonce, state and code challenge.
func (a *authRequest) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", a.ID),
		slog.String("client_id", a.ClientID),
		slog.String("redirect_uri", a.RedirectURI),
		slog.Any("scopes", a.Scopes),
		slog.String("response_type", string(a.ResponseType)),
	)
}

// GetID implements op.AuthRequest.
func (a *authRequest) GetID() string { return a.ID }

// GetACR implements op.AuthRequest.
func (a *authRequest) GetACR() string { return "" }

// GetAMR implements op.AuthRequest.
func (a *authRequest) GetAMR() []string {
	if a.done {
		return []string{"pwd"}
	}
	return nil
}

// GetAudience implements op.AuthRequest.
func (a *authRequest) GetAudience() []string { return []string{a.ClientID} }

// GetAuthTime implements op.AuthRequest.
func (a *authRequest) GetAuthTime() time.Time { return a.authTime }

// GetClientID implements op.AuthRequest.
func (a *authRequest) GetClientID() string { return a.ClientID }

// GetCodeChallenge implements op.AuthRequest.
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.CodeChallenge }

// GetNonce implements op.AuthRequest.
func (a *authRequest) GetNonce() string { return a.Nonce }

// GetRedirectURI implements op.AuthRequest.
func (a *authRequest) GetRedirectURI() string { return a.RedirectURI }

// GetResponseType implements op.AuthRequest.
func (a *authRequest) GetResponseType() oidc.ResponseType { return a.ResponseType }

// GetResponseMode implements op.AuthRequest.
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.ResponseMode }

// GetScopes implements op.AuthRequest.
func (a *authRequest) GetScopes() []string { return a.Scopes }

// GetState implements op.AuthRequest.
func (a *authRequest) GetState() string { return a.State }

// GetSubject implements op.AuthRequest.
func (a *authRequest) GetSubject() string { return a.subject }

// Done implements op.AuthRequest.
func (a *authRequest) Done() bool { return a.done }

// session is a provider session: one sign-in of one person in one browser. Its ID is the "sid"
// claim of ID tokens and logout tokens.
type session struct {
	ID       string    `json:"id"`
	Subject  string    `json:"subject"`
	AuthTime time.Time `json:"auth_time"`
	// BrowserHash is the SHA-256 of the browser cookie the session was created in; it lets
	// end_session without id_token_hint find the session, and a later sign-in of the same person
	// in the same browser reuse it.
	BrowserHash string `json:"browser_hash"`
	// Clients are the IDs of the clients that received tokens in this session, in order.
	Clients []string `json:"clients,omitempty"`
	// ExpiresAt is pushed forward whenever a token is issued in the session.
	ExpiresAt time.Time `json:"expires_at"`
}

// accessToken is the server-side record of an opaque access token.
type accessToken struct {
	ID            string    `json:"id"`
	ClientID      string    `json:"client_id"`
	Subject       string    `json:"subject"`
	Audience      []string  `json:"audience"`
	Scopes        []string  `json:"scopes"`
	ExpiresAt     time.Time `json:"expires_at"`
	SessionID     string    `json:"session_id,omitempty"`
	RefreshFamily string    `json:"refresh_family,omitempty"`
	AuthRequestID string    `json:"auth_request_id,omitempty"`
}

// refreshToken is the server-side record of a refresh token. Only a hash of the token is kept.
type refreshToken struct {
	// Hash is the hex SHA-256 of the token value; it is also the token ID the library sees.
	Hash      string    `json:"hash"`
	Family    string    `json:"family"`
	ClientID  string    `json:"client_id"`
	Subject   string    `json:"subject"`
	Audience  []string  `json:"audience"`
	Scopes    []string  `json:"scopes"`
	AuthTime  time.Time `json:"auth_time"`
	AMR       []string  `json:"amr,omitempty"`
	SessionID string    `json:"session_id,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
	// AccessTokenID is the access token issued together with this refresh token.
	AccessTokenID string `json:"access_token_id"`
	AuthRequestID string `json:"auth_request_id,omitempty"`
}

// rotatedToken remembers a refresh token that has been exchanged, to detect its reuse.
type rotatedToken struct {
	Hash      string    `json:"hash"`
	Family    string    `json:"family"`
	ExpiresAt time.Time `json:"expires_at"`
}

// refreshTokenRequest is what the library gets back for a refresh token; it implements
// op.RefreshTokenRequest and op.IDTokenRequest. It is a copy: SetCurrentScopes narrows only the
// request at hand.
type refreshTokenRequest struct {
	token refreshToken
}

var _ op.RefreshTokenRequest = (*refreshTokenRequest)(nil)

// GetAMR implements op.RefreshTokenRequest.
func (r *refreshTokenRequest) GetAMR() []string { return r.token.AMR }

// GetAudience implements op.RefreshTokenRequest.
func (r *refreshTokenRequest) GetAudience() []string { return r.token.Audience }

// GetAuthTime implements op.RefreshTokenRequest.
func (r *refreshTokenRequest) GetAuthTime() time.Time { return r.token.AuthTime }

// GetClientID implements op.RefreshTokenRequest.
func (r *refreshTokenRequest) GetClientID() string { return r.token.ClientID }

// GetScopes implements op.RefreshTokenRequest.
func (r *refreshTokenRequest) GetScopes() []string { return r.token.Scopes }

// GetSubject implements op.RefreshTokenRequest.
func (r *refreshTokenRequest) GetSubject() string { return r.token.Subject }

// SetCurrentScopes implements op.RefreshTokenRequest.
func (r *refreshTokenRequest) SetCurrentScopes(scopes []string) {
	r.token.Scopes = slices.Clone(scopes)
}

// storedClient is a registered client as kept in memory and in clients.json.
type storedClient struct {
	ID string `json:"id"`
	// SecretHash is the hex SHA-256 of the secret; empty for a public client.
	SecretHash             string   `json:"secret_sha256,omitempty"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	BackChannelLogoutURI   string   `json:"backchannel_logout_uri,omitempty"`
}

func (c *storedClient) public() bool { return c.SecretHash == "" }

// secretMatches compares secret with the stored hash in constant time.
func (c *storedClient) secretMatches(secret string) bool {
	if c.public() {
		return false
	}
	sum := sha256.Sum256([]byte(secret))
	want, err := hex.DecodeString(c.SecretHash)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(sum[:], want) == 1
}

func newStoredClient(c Client) *storedClient {
	sc := &storedClient{
		ID:                     c.ID,
		RedirectURIs:           slices.Clone(c.RedirectURIs),
		PostLogoutRedirectURIs: slices.Clone(c.PostLogoutRedirectURIs),
		BackChannelLogoutURI:   c.BackChannelLogoutURI,
	}
	if c.Secret != "" {
		sum := sha256.Sum256([]byte(c.Secret))
		sc.SecretHash = hex.EncodeToString(sum[:])
	}
	return sc
}

// opClient adapts a storedClient to op.Client. Adapted from the zitadel/oidc example storage
// (Apache-2.0).
type opClient struct {
	c               *storedClient
	loginURL        string
	idTokenLifetime time.Duration
}

var _ op.Client = opClient{}

// GetID implements op.Client.
func (c opClient) GetID() string { return c.c.ID }

// RedirectURIs implements op.Client.
func (c opClient) RedirectURIs() []string { return slices.Clone(c.c.RedirectURIs) }

// PostLogoutRedirectURIs implements op.Client.
func (c opClient) PostLogoutRedirectURIs() []string { return slices.Clone(c.c.PostLogoutRedirectURIs) }

// ApplicationType implements op.Client: confidential clients are web applications, public ones
// user-agent applications.
func (c opClient) ApplicationType() op.ApplicationType {
	if c.c.public() {
		return op.ApplicationTypeUserAgent
	}
	return op.ApplicationTypeWeb
}

// AuthMethod implements op.Client. A confidential client may use client_secret_post as well: the
// library accepts both when the provider enables AuthMethodPost.
func (c opClient) AuthMethod() oidc.AuthMethod {
	if c.c.public() {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}

// ResponseTypes implements op.Client: authorization code flow only.
func (c opClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

// GrantTypes implements op.Client.
func (c opClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}

// LoginURL implements op.Client: the provider's own login page.
func (c opClient) LoginURL(authRequestID string) string {
	return c.loginURL + "?" + loginQueryID + "=" + authRequestID
}

// AccessTokenType implements op.Client: opaque bearer tokens.
func (c opClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }

// IDTokenLifetime implements op.Client.
func (c opClient) IDTokenLifetime() time.Duration { return c.idTokenLifetime }

// DevMode implements op.Client. It allows http:// redirect URIs for public clients; redirect URIs
// are still compared exactly.
func (c opClient) DevMode() bool { return true }

// RestrictAdditionalIdTokenScopes implements op.Client.
func (c opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}

// RestrictAdditionalAccessTokenScopes implements op.Client.
func (c opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}

// IsScopeAllowed implements op.Client: no scopes beyond the standard ones.
func (c opClient) IsScopeAllowed(string) bool { return false }

// IDTokenUserinfoClaimsAssertion implements op.Client: the profile and email claims are put in
// the ID token too, which is what most relying parties expect.
func (c opClient) IDTokenUserinfoClaimsAssertion() bool { return true }

// ClockSkew implements op.Client.
func (c opClient) ClockSkew() time.Duration { return 0 }

// randomToken returns n random bytes, base64url-encoded without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	// crypto/rand.Read never returns an error (Go 1.24+); it crashes the program instead.
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken returns the hex SHA-256 of a token value.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
