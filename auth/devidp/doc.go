// Package devidp is a development OpenID Provider: a real, standards-following OpenID Connect
// provider for local development and for in-process integration tests of relying parties.
//
// It is built on the OpenID-certified library github.com/zitadel/oidc/v3/op, which implements the
// protocol endpoints (discovery, authorize, token, userinfo, JWKS, end_session, introspection,
// revocation). This package supplies what the library leaves to its user: the storage of clients,
// users, auth requests, sessions and tokens; a login page; and back-channel logout, which the library
// advertises but does not perform.
//
// DEVELOPMENT ONLY. The users, their passwords and the clients come from configuration; the login
// page lists the demo users. The provider refuses any issuer that is not a loopback address
// (127.0.0.0/8, ::1 or localhost) and answers only requests whose Host matches the issuer.
//
// # What it does
//
//   - Authorization code flow with PKCE. Public clients (no secret, token endpoint auth method
//     "none") must send an S256 code challenge; confidential clients may, and the method "plain" is
//     refused for everyone. Confidential clients authenticate with client_secret_basic or
//     client_secret_post.
//   - Refresh tokens (scope offline_access) with rotation: a refresh token is good for one use. Using
//     an already-rotated refresh token again is treated as theft: the whole token family is revoked.
//   - ID tokens carry a "sid" claim identifying the provider session; the same sid is sent in
//     back-channel logout tokens.
//   - RP-initiated logout at /end_session: post_logout_redirect_uri must be registered for the
//     client; state is passed back. Ending a session revokes its tokens and POSTs a signed logout
//     token (form field logout_token) to the back-channel logout URI of every client that got
//     tokens in that session, before the browser is redirected.
//   - RFC 9207: authorization responses (successes and errors redirected to the client) carry the
//     "iss" parameter, and discovery advertises authorization_response_iss_parameter_supported.
//     The library has no support for this; this package adds it around the library's handlers.
//   - The login page (login.templ) lists the demo users; there is no consent screen and no silent
//     single sign-on: every authorization request shows the login page, and prompt=none is
//     answered with login_required.
//
// # Persistence
//
// Config.DataDir holds, with mode 0600 in a 0700 directory:
//
//   - signing-key.pem: the RSA key that signs ID tokens (RS256). It is created once and reused, so
//     tokens stay verifiable across restarts. The key that encrypts opaque access tokens and
//     authorization codes is derived from it.
//   - clients.json: the client registry, with secrets stored as SHA-256 hashes only.
//   - state.json: provider sessions, access tokens and refresh tokens (refresh tokens as hashes), so
//     a restart keeps issued tokens usable.
//
// Pending authorization requests and authorization codes live in memory only: a sign-in in
// progress when the provider restarts has to be started again.
//
// # Provenance
//
// NOTICE: parts of this package (the shape of the storage, of the auth request model and of the
// refresh token rotation) are adapted from the examples of github.com/zitadel/oidc
// (example/server/storage and example/server/exampleop), Copyright the zitadel/oidc authors,
// licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
// They have been modified.
package devidp
