package authtest

// Values for [Behavior.Sign]: how ID tokens (and logout tokens made by
// [Provider.LogoutToken]) are signed.
const (
	// SignDefault signs with the current RS256 key and puts its kid in the
	// header. This is the correct behaviour.
	SignDefault = ""
	// SignWrongKey signs with an RSA key that is not in the JWKS but claims
	// the current key's kid. Signature verification must fail.
	SignWrongKey = "wrong-key"
	// SignUnknownKID signs with the provider's next key, whose kid is not yet
	// published in the JWKS. Verification fails until [Provider.RotateKeys]
	// promotes that very key, after which a relying party that refetches the
	// JWKS on an unknown kid verifies the token.
	SignUnknownKID = "unknown-kid"
	// SignNone produces an unsecured JWT: header {"alg":"none"} and an empty
	// signature. It must always be rejected.
	SignNone = "none"
	// SignHS256 produces an HMAC-SHA256 JWT keyed with the client secret
	// (the empty string for a public client): the classic algorithm
	// confusion attack against a relying party that expects RS256.
	SignHS256 = "HS256"
	// SignHS256PublicKey produces an HMAC-SHA256 JWT keyed with the PEM
	// encoding of the current RSA public key, with the current kid: the
	// "public key as HMAC secret" confusion attack.
	SignHS256PublicKey = "HS256-pubkey"
	// SignNoKID signs correctly with the current key but leaves kid out of
	// the header. This is legal; go-oidc then tries every published key, so
	// verification succeeds.
	SignNoKID = "RS256-no-kid"
)

// Values for [Behavior.IssParam]: the RFC 9207 iss parameter of
// authorization responses (success and error alike).
const (
	// IssDefault sends the correct iss exactly when
	// [Options.IssParameterSupported] is set.
	IssDefault = ""
	// IssOmit never sends iss, even when the provider advertises
	// authorization_response_iss_parameter_supported.
	IssOmit = "omit"
	// IssWrong always sends iss = [WrongIssuer], whether advertised or not
	// (RFC 9207 §2.4: a client must check iss whenever it is present).
	IssWrong = "wrong"
	// IssForce always sends the correct iss, even when it is not advertised.
	IssForce = "force"
)

// WrongIssuer is the issuer identifier sent by [IssWrong]. It is a valid
// https URL that is never the provider's issuer.
const WrongIssuer = "https://wrong-issuer.example.test"

// Behavior holds the knobs that make the provider misbehave. The zero value
// is a correct, strict provider. Change it with [Provider.SetBehavior]; every
// request reads a snapshot taken when it starts (a hanging request re-reads
// its hang knob when released).
//
// The function-valued knobs run on server goroutines, without the provider's
// lock held, possibly concurrently: they must be safe for concurrent use and
// must not call [testing.TB.Fatal].
type Behavior struct {
	// AuthorizeError, when set (e.g. "access_denied",
	// "temporarily_unavailable"), makes every otherwise valid authorization
	// request answer with a redirect carrying error, error_description,
	// state and (per IssParam) iss instead of a code.
	AuthorizeError string
	// IssParam controls the iss authorization response parameter: one of
	// IssDefault, IssOmit, IssWrong, IssForce.
	IssParam string

	// TokenStatus and TokenError force every token endpoint request (after
	// the auth method has been recorded, before client authentication) to
	// fail with HTTP status TokenStatus (default 400) and JSON
	// {"error": TokenError} (default "invalid_grant", or "server_error" for
	// a 5xx status). They are ignored when TokenStatus is 0 or 200 and
	// TokenError is empty.
	TokenStatus int
	TokenError  string
	// TokenHang makes the token endpoint block until the request's context
	// ends, the test ends, the server closes, or TokenHang is switched off
	// with SetBehavior (then the request proceeds normally).
	TokenHang bool
	// TokenResponse, when set, may mutate the successful token response
	// JSON object before it is written (drop id_token, change token_type,
	// ...).
	TokenResponse func(resp map[string]any)
	// ExpiresIn is the access token lifetime in seconds (default 3600). The
	// userinfo endpoint rejects access tokens past their lifetime.
	ExpiresIn int

	// UserinfoHang makes the userinfo endpoint block like TokenHang.
	UserinfoHang bool
	// UserinfoStatus, when neither 0 nor 200, makes the userinfo endpoint
	// fail with that status.
	UserinfoStatus int
	// UserinfoSub, when set, replaces sub in userinfo responses (OIDC Core
	// §5.3.2 says the relying party must then reject the response).
	UserinfoSub string
	// UserinfoClaims, when set, may mutate the userinfo response.
	UserinfoClaims func(claims map[string]any)

	// IDToken, when set, may mutate the ID token claims before signing:
	// "iss", "sub", "sid", "nonce", "at_hash" are strings, "aud" is a
	// []string, "exp", "iat", "auth_time" are int64 Unix seconds. Delete a
	// key to omit the claim. It applies to ID tokens from both the
	// authorization_code and the refresh_token grants.
	IDToken func(claims map[string]any)
	// Sign selects how tokens are signed: one of SignDefault, SignWrongKey,
	// SignUnknownKID, SignNone, SignHS256, SignHS256PublicKey, SignNoKID.
	// An unknown value makes the token endpoint answer 500 server_error.
	Sign string

	// DiscoveryStatus, when neither 0 nor 200, makes the discovery endpoint
	// fail with that status.
	DiscoveryStatus int
	// DiscoveryHang makes the discovery endpoint block like TokenHang.
	DiscoveryHang bool
	// DiscoveryIssuer, when set, is advertised as "issuer" in the discovery
	// document instead of the real issuer (OIDC Discovery §4.3 mismatch).
	DiscoveryIssuer string

	// JWKSStatus, when neither 0 nor 200, makes the JWKS endpoint fail with
	// that status.
	JWKSStatus int
	// JWKSHang makes the JWKS endpoint block like TokenHang.
	JWKSHang bool
}

func (b Behavior) anyHang() bool {
	return b.TokenHang || b.UserinfoHang || b.DiscoveryHang || b.JWKSHang
}
