package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hxoidc/hxoidc/auth/authtest"
	"github.com/hxoidc/hxoidc/handlers/apptest"
)

func benchEnv(b *testing.B) (*authtest.Provider, *apptest.App) {
	op := authtest.New(b, authtest.Options{ClientSecret: "s3cret"})
	app := apptest.Start(b, apptest.Options{Issuer: op.Issuer(), ClientID: op.ClientID(), ClientSecret: op.ClientSecret(),
		Env: map[string]string{"LOG_LEVEL": "warn"}})
	op.RegisterRedirectURI(app.URL + "/auth/callback")
	return op, app
}

// BenchmarkHeaderFragment: the request htmx makes in every tab on auth-changed, signed in, through the
// whole server stack (session load from the store, render, security headers), without the network.
func BenchmarkHeaderFragment(b *testing.B) {
	op, app := benchEnv(b)
	br := app.Browser()
	cb, err := op.Approve(br.StartSignIn("/"))
	if err != nil {
		b.Fatal(err)
	}
	br.Get(cb)
	cookie := br.SessionCookie()
	h := app.Server.Config.Handler
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, app.URL+"/fragments/header", nil)
		req.Header.Set("HX-Request", "true")
		req.AddCookie(cookie)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "Ada Lovelace") {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

// BenchmarkSignIn: a whole sign-in (login redirect, provider, callback with token exchange, ID token
// verification and userinfo), the provider included.
func BenchmarkSignIn(b *testing.B) {
	op, app := benchEnv(b)
	for b.Loop() {
		br := app.Browser()
		cb, err := op.Approve(br.StartSignIn("/"))
		if err != nil {
			b.Fatal(err)
		}
		if r := br.Get(cb); r.StatusCode != http.StatusSeeOther {
			b.Fatalf("callback status %d", r.StatusCode)
		}
	}
}
