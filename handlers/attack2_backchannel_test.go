package handlers_test

// Attacks on the back-channel logout fixes: the rate-limited logout key set (auth/keyset.go), other JWS
// serialisations than the compact one, several signatures, kid-less tokens, and the jti lock.

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hxoidc/hxoidc/auth/authtest"
)

func atk2PostLogout(t *testing.T, e *env, tok string) *atkResp {
	t.Helper()
	return atkPostLogoutToken(t, e, url.Values{"logout_token": {tok}}.Encode(), "application/x-www-form-urlencoded")
}

// atk2ForgedKid is a compact RS256 JWT with a made-up kid and a junk signature: anybody can post one.
func atk2ForgedKid(kid string) string {
	enc := base64.RawURLEncoding.EncodeToString
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "logout+jwt", "kid": kid})
	return enc(h) + "." + enc([]byte(`{"iss":"x"}`)) + "." + enc(make([]byte, 256))
}

// TestAttack2BackchannelRotatedKeyRefusedWithin30s: anybody can post a token with an unknown kid, which
// makes the app fetch the JWKS and then refuse refetches for 30 s. A provider that rotates its signing key
// in that window and sends a logout token signed with the new key is answered 400 "invalid logout token";
// a provider that does not retry (retrying is optional, Back-Channel Logout 1.0 §2.8) leaves the session
// signed in until it times out. An attacker who posts such a token every 30 s keeps the window open all
// the time.
func TestAttack2BackchannelRotatedKeyRefusedWithin30s(t *testing.T) {
	// Regression test for a fixed bug: (low): for up to auth.LogoutKeyRefresh (30 s) after any unknown-kid post (attacker-triggerable), logout tokens signed with a freshly rotated provider key get 400 and the session stays signed in (auth/keyset.go VerifySignature refuses instead of waiting for the next allowed refetch)")
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	mustSignIn(t, e, b)
	sid := e.op.Requests().LastSID

	if r := atk2PostLogout(t, e, atk2ForgedKid("attacker-made-up")); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("forged token: %d", r.StatusCode)
	}
	e.op.RotateKeys()
	r := atk2PostLogout(t, e, e.op.LogoutToken(func(c map[string]any) { c["sid"] = sid }))
	if r.StatusCode != http.StatusOK {
		t.Errorf("a logout token signed with the provider's rotated key was refused: %d %s", r.StatusCode, r.Body)
	}
	if got := headerName(t, b); got != "" {
		t.Errorf("the provider ended the session, the app still shows %q", got)
	}
}

// TestAttack2BackchannelKeySetBasics: the logout key set fetches on first use (a first logout token after
// start-up works), accepts a kid-less token signed by a published key, and a token that names the
// current kid but is signed by another key is refused without ending anything.
func TestAttack2BackchannelKeySetBasics(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	mustSignIn(t, e, b)
	sid := e.op.Requests().LastSID

	e.op.SetBehavior(func(b *authtest.Behavior) { b.Sign = authtest.SignWrongKey })
	if r := atk2PostLogout(t, e, e.op.LogoutToken(func(c map[string]any) { c["sid"] = sid })); r.StatusCode != http.StatusBadRequest {
		t.Errorf("token with the current kid but a foreign key: %d", r.StatusCode)
	}
	if got := headerName(t, b); got != "Ada Lovelace" {
		t.Fatalf("a wrongly signed token ended the session (%q)", got)
	}
	e.op.SetBehavior(func(b *authtest.Behavior) { b.Sign = authtest.SignNoKID })
	if r := atk2PostLogout(t, e, e.op.LogoutToken(func(c map[string]any) { c["sid"] = sid })); r.StatusCode != http.StatusOK {
		t.Errorf("kid-less token signed by the published key: %d %s", r.StatusCode, r.Body)
	}
	if got := headerName(t, b); got != "" {
		t.Errorf("kid-less logout token accepted but the session shows %q", got)
	}
}

// atk2JSONSerialisations turns a compact JWS into its flattened JSON serialisation, with an unprotected
// header the attacker may add without breaking the signature, and into a general one with the signature
// twice.
func atk2JSONSerialisations(t *testing.T, compact string) (flattened, general string) {
	t.Helper()
	parts := strings.Split(compact, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", compact)
	}
	f, _ := json.Marshal(map[string]any{"protected": parts[0], "payload": parts[1], "signature": parts[2],
		"header": map[string]string{"kid": "unprotected-kid"}})
	sig := map[string]any{"protected": parts[0], "signature": parts[2]}
	g, _ := json.Marshal(map[string]any{"payload": parts[1], "signatures": []any{sig, sig}})
	return string(f), string(g)
}

// TestAttack2BackchannelJSONSerialisation: a general JSON serialisation with two signatures never
// passes, and a genuine token re-serialised after it was accepted is still the same jti: replayed.
func TestAttack2BackchannelJSONSerialisation(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	mustSignIn(t, e, b)
	sid := e.op.Requests().LastSID
	tok := e.op.LogoutToken(func(c map[string]any) { c["sid"] = sid })
	flattened, general := atk2JSONSerialisations(t, tok)

	if r := atk2PostLogout(t, e, general); r.StatusCode != http.StatusBadRequest {
		t.Errorf("general JSON serialisation with two signatures: %d", r.StatusCode)
	}
	if got := headerName(t, b); got != "Ada Lovelace" {
		t.Fatalf("a token with two signatures ended the session (%q)", got)
	}
	if r := atk2PostLogout(t, e, tok); r.StatusCode != http.StatusOK {
		t.Fatalf("the genuine compact token: %d %s", r.StatusCode, r.Body)
	}
	for what, again := range map[string]string{"compact": tok, "flattened JSON": flattened} {
		if r := atk2PostLogout(t, e, again); r.StatusCode != http.StatusBadRequest {
			t.Errorf("the accepted token again, %s: %d %s", what, r.StatusCode, r.Body)
		}
	}
}

// TestAttack2BackchannelFlattenedJSONAccepted: a logout token is a JWT, and JWTs use the compact
// serialisation (RFC 7519 §1 and §7.2; Back-Channel Logout 1.0 §2.4). go-jose's ParseSigned (in go-oidc's
// verifier and in auth/keyset.go) also takes the flattened JSON serialisation, whose unprotected "header"
// lets whoever relays a genuine token add parameters (a kid that steers key selection) without breaking
// the signature. The app accepts it and ends the session.
func TestAttack2BackchannelFlattenedJSONAccepted(t *testing.T) {
	// Regression test for a fixed bug: (low, conformance): a logout token in the flattened JWS JSON serialisation, with an attacker-added unprotected header, is accepted (auth/oidc.go VerifyLogout / auth/keyset.go: refuse anything but three dot-separated parts)")
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	mustSignIn(t, e, b)
	tok := e.op.LogoutToken(func(c map[string]any) { c["sid"] = e.op.Requests().LastSID })
	flattened, _ := atk2JSONSerialisations(t, tok)
	if r := atk2PostLogout(t, e, flattened); r.StatusCode != http.StatusBadRequest {
		t.Errorf("flattened JSON serialisation (not a JWT) with an unprotected kid accepted: %d %s", r.StatusCode, r.Body)
	}
}
