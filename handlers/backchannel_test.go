package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hxoidc/hxoidc/auth/authtest"
)

func TestBackchannelLogout(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	post := func(token string) *http.Response {
		t.Helper()
		// Server to server: no Origin, no cookies.
		resp, err := http.PostForm(e.app.URL+"/auth/backchannel-logout", url.Values{"logout_token": {token}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
		return resp
	}
	// Two browsers of one person and one of another.
	ada1, ada2, grace := e.app.Browser(), e.app.Browser(), e.app.Browser()
	mustSignIn(t, e, ada1)
	sid1 := e.op.Requests().LastSID
	mustSignIn(t, e, ada2)
	e.op.SetUser(map[string]any{"sub": "user-2", "name": "Grace Hopper"})
	mustSignIn(t, e, grace)
	e.op.SetUser(authtest.DefaultUser())

	bad := []struct {
		name   string
		mutate func(map[string]any)
	}{
		{"wrong iss", func(c map[string]any) { c["iss"] = "https://evil.example" }},
		{"wrong aud", func(c map[string]any) { c["aud"] = "other" }},
		{"no events claim", func(c map[string]any) { delete(c, "events") }},
		{"nonce present", func(c map[string]any) { c["nonce"] = "n" }},
		{"no jti", func(c map[string]any) { delete(c, "jti") }},
		{"no iat", func(c map[string]any) { delete(c, "iat") }},
		{"iat too old", func(c map[string]any) { c["iat"] = time.Now().Add(-time.Hour).Unix() }},
		{"iat in the future", func(c map[string]any) { c["iat"] = time.Now().Add(time.Hour).Unix() }},
		{"expired", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }},
		{"neither sub nor sid", func(c map[string]any) { delete(c, "sub"); delete(c, "sid") }},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			tok := e.op.LogoutToken(func(c map[string]any) { c["sid"] = sid1; tc.mutate(c) })
			if r := post(tok); r.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", r.StatusCode)
			}
			if headerName(t, ada1) != "Ada Lovelace" {
				t.Errorf("a bad logout token ended a session")
			}
		})
	}
	t.Run("garbage and missing token", func(t *testing.T) {
		for _, tok := range []string{"", "not.a.jwt", strings.Repeat("x", 5000)} {
			if r := post(tok); r.StatusCode != http.StatusBadRequest {
				t.Errorf("token %.20q: status %d, want 400", tok, r.StatusCode)
			}
		}
	})

	// A valid token for sid1 ends exactly that session.
	tok := e.op.LogoutToken(func(c map[string]any) { c["sid"] = sid1 })
	if r := post(tok); r.StatusCode != http.StatusOK {
		t.Fatalf("valid logout token: status %d", r.StatusCode)
	}
	if headerName(t, ada1) != "" {
		t.Errorf("session of sid %s not ended", sid1)
	}
	if headerName(t, ada2) != "Ada Lovelace" || headerName(t, grace) != "Grace Hopper" {
		t.Errorf("other sessions were ended too")
	}
	if r := post(tok); r.StatusCode != http.StatusBadRequest {
		t.Errorf("replayed logout token: status %d, want 400", r.StatusCode)
	}
	// Without sid: every session of the subject.
	mustSignIn(t, e, ada1)
	tok = e.op.LogoutToken(func(c map[string]any) { delete(c, "sid"); c["sub"] = "user-1" })
	if r := post(tok); r.StatusCode != http.StatusOK {
		t.Fatalf("sub-only logout token: status %d", r.StatusCode)
	}
	if headerName(t, ada1) != "" || headerName(t, ada2) != "" {
		t.Errorf("sub-only logout left a session of user-1")
	}
	if headerName(t, grace) != "Grace Hopper" {
		t.Errorf("sub-only logout ended another user's session")
	}
}

func TestBackchannelLogoutTokenOnlyInTheBody(t *testing.T) {
	e := newEnv(t, authtest.Options{ClientSecret: "s3cret"})
	b := e.app.Browser()
	mustSignIn(t, e, b)
	sid := e.op.Requests().LastSID
	tok := e.op.LogoutToken(func(c map[string]any) { c["sid"] = sid })
	resp, err := http.Post(e.app.URL+"/auth/backchannel-logout?logout_token="+url.QueryEscape(tok), "application/x-www-form-urlencoded", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || headerName(t, b) != "Ada Lovelace" {
		t.Errorf("a logout token in the query string: status %d, want 400 and the session kept", resp.StatusCode)
	}
}
