// Package authtest is a controllable, standards-following OpenID provider
// for tests of relying parties.
//
// By default it behaves like a strict real provider (OpenID Connect Core
// 1.0, Discovery 1.0, RP-Initiated Logout 1.0, Back-Channel Logout 1.0,
// RFC 6749, RFC 7636, RFC 7009, RFC 9207, RFC 9700); a [Behavior] knob
// makes it misbehave on demand, so that a relying party's whole-flow tests
// can prove every check of OIDC Core §3.1.3.7 and friends. It is built on
// net/http and go-jose only, so it can produce broken tokens.
//
// # Endpoints
//
// [New] starts an httptest server on 127.0.0.1. The issuer is
// [Provider.URL] + [Options.IssuerSuffix]; the discovery document is at
// Issuer()+"/.well-known/openid-configuration" and the other endpoints are
// at URL()+"/authorize", "/token", "/userinfo", "/jwks", "/end_session" and
// "/revoke" (read them from discovery rather than hard-coding them).
//
// # Strict default behaviour
//
//   - Authorization endpoint (GET or POST): client_id must be the client,
//     redirect_uri must be registered with [Provider.RegisterRedirectURI]
//     (exact match), else a 400 page and no redirect. Then response_type
//     must be code, scope must contain openid, and PKCE with
//     code_challenge_method=S256 is mandatory (plain or missing is
//     error=invalid_request); duplicated parameters, request and
//     request_uri are refused. Sign-in is automatic (no UI). The code is
//     random, single-use, expires in 60 s and is bound to the client,
//     redirect_uri, code_challenge, nonce and scope. The redirect keeps
//     state, and carries iss when [Options.IssParameterSupported].
//   - Token endpoint: the client authenticates with exactly one method, and
//     only with a method listed in [Options.AuthMethods]
//     (client_secret_basic with RFC 6749 §2.3.1 form-encoded credentials,
//     client_secret_post, or none); failure is 401 invalid_client. The
//     method used is recorded in [Stats.LastTokenAuthMethod]. For
//     authorization_code, the code must be known, unexpired and unused,
//     redirect_uri must equal the authorization request's, and
//     code_verifier must S256-match; else 400 invalid_grant. A failed
//     attempt does not consume the code; presenting a redeemed code again
//     is counted in [Stats.CodeReuse] and revokes the tokens issued from
//     it. The answer has access_token, token_type Bearer, expires_in,
//     refresh_token, scope and an RS256 id_token with iss, sub, aud
//     [client_id], iat, exp, auth_time, nonce (when sent), sid, at_hash and
//     the user's claims released by scope (OIDC Core §5.4: profile, email,
//     address, phone; non-standard claims are always released).
//     refresh_token rotates: the old refresh token dies, and presenting it
//     again ([Stats.RefreshReuse]) revokes the whole grant. A refreshed
//     id_token keeps auth_time and sid and has no nonce.
//   - Userinfo (GET or POST, Authorization: Bearer): the user's released
//     claims; 401 with WWW-Authenticate for a missing, unknown, expired or
//     revoked access token.
//   - JWKS: only the current public key (kid, alg RS256, use sig).
//   - End session: records its parameters in [Stats.LastEndSession]; checks
//     id_token_hint (signed by this provider, even if expired, issued to
//     the client) and client_id; a post_logout_redirect_uri must be
//     registered with [Provider.RegisterPostLogoutURI] and comes with
//     id_token_hint or client_id, then the user agent is redirected there
//     with state; otherwise 400. Without post_logout_redirect_uri it
//     answers a 200 "signed out" page. A valid id_token_hint ends that
//     sign-in's grant (its tokens are revoked).
//   - Revocation (RFC 7009): revoking a refresh token revokes its grant.
//
// # Misbehaving
//
// [Provider.SetBehavior] flips the knobs of [Behavior]: forced
// authorization errors, a missing or wrong iss parameter, token/userinfo/
// discovery/JWKS failures and hangs, mutated ID token claims, broken
// signatures ([SignWrongKey], [SignUnknownKID], [SignNone], [SignHS256],
// [SignHS256PublicKey], [SignNoKID]), a userinfo sub mismatch, a discovery
// issuer mismatch. [Provider.RotateKeys] rotates the signing key and
// [Provider.LogoutToken] makes (possibly broken) back-channel logout
// tokens.
//
// Hanging endpoints are released when the request is cancelled, when the
// knob is switched off, or when the test's context is cancelled (before any
// t.Cleanup runs), so cleanup never deadlocks.
//
// # Example
//
// Whole-flow test of an app: a cookie-jar client follows app → provider →
// app redirects by itself, since the provider signs in without UI.
//
//	op := authtest.New(t, authtest.Options{ClientSecret: "s3cret", IssParameterSupported: true})
//	app := httptest.NewServer(newApp(t, op.Issuer(), op.ClientID(), op.ClientSecret())) // app under test
//	op.RegisterRedirectURI(app.URL + "/auth/callback")
//	op.SetBehavior(func(b *authtest.Behavior) {
//		b.IDToken = func(c map[string]any) { c["aud"] = []string{"someone-else"} }
//	})
//	jar, _ := cookiejar.New(nil)
//	resp, err := (&http.Client{Jar: jar}).Get(app.URL + "/auth/login")
//	// the app must show its sign-in error and create no session;
//	// op.Requests().Token == 1 proves the code was exchanged.
//
// To stop between the legs instead, use a client that does not follow
// redirects, pass the app's redirect Location to [Provider.Approve], tamper
// with the returned callback URL if wanted, then GET it with the app's
// cookies.
//
// A relying party using golang.org/x/oauth2 with AuthStyleAutoDetect
// retries a failed token request with the other client authentication
// style, so one Exchange can count as two token requests.
package authtest
