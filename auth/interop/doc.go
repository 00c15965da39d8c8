// Package interop holds the interoperability tests of hxoidc: the whole app and its auth.Client signing
// in, reading userinfo, refreshing with rotation, and signing out (RP-initiated and back-channel logout)
// against real OpenID providers rather than the controllable auth/authtest provider:
//
//   - the development provider auth/devidp (zitadel/oidc), started in-process;
//   - oidc-provider (github.com/panva/node-oidc-provider, OpenID Certified), run by Node.js from
//     oidcprovider/provider.mjs with the dependencies locked in oidcprovider/package-lock.json.
//
// The oidc-provider tests need Node.js on PATH and `npm ci` run in auth/interop/oidcprovider (.ci/run
// does it). Without them they skip with that message, except under CI=true, where they fail.
//
// The package has no code besides its tests.
package interop
