package devidp_test

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/oauth2"

	"github.com/hxoidc/hxoidc/auth/devidp"
	"github.com/hxoidc/hxoidc/auth/devidp/devidptest"
)

const wantCSP = "default-src 'self'; frame-ancestors 'none'"

// loginPage follows an authorization URL to the login page and returns the page and its URL.
func loginPage(t *testing.T, browser *http.Client, authURL string) (*goquery.Document, *url.URL, *http.Response) {
	t.Helper()
	resp, err := browser.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return doc, resp.Request.URL, resp
}

func formValues(doc *goquery.Document) url.Values {
	v := url.Values{}
	doc.Find("form#login-form input").Each(func(_ int, s *goquery.Selection) {
		name, _ := s.Attr("name")
		value, _ := s.Attr("value")
		v.Set(name, value)
	})
	return v
}

func TestLoginPage(t *testing.T) {
	rp := newRelyingParty(t)
	idp := devidptest.Start(t, devidp.Config{Clients: rp.clients()})
	c := newRPClient(t, idp.URL, "conf-basic", testSecret, oauth2.AuthStyleInHeader, rp.url("/auth/callback"))
	browser := devidptest.NewBrowser(t)
	doc, pageURL, resp := loginPage(t, browser, c.oauth.AuthCodeURL("st", oauth2.SetAuthURLParam("login_hint", "grace")))

	if resp.StatusCode != http.StatusOK || pageURL.Path != "/login" {
		t.Fatalf("status %d at %s", resp.StatusCode, pageURL)
	}
	if got := resp.Header.Get("Content-Security-Policy"); got != wantCSP {
		t.Fatalf("CSP = %q, want %q", got, wantCSP)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("headers = %v", resp.Header)
	}
	if !strings.Contains(doc.Find("#dev-banner").Text(), "DEVELOPMENT") {
		t.Fatal("the page does not say it is a development provider")
	}
	if n := doc.Find("script").Length(); n != 0 {
		t.Fatalf("page has %d script elements", n)
	}
	if n := doc.Find("[style]").Length() + doc.Find("style").Length(); n != 0 {
		t.Fatalf("page has %d inline styles", n)
	}
	if href, _ := doc.Find(`link[rel="stylesheet"]`).Attr("href"); href != "/static/devidp.css" {
		t.Fatalf("stylesheet = %q", href)
	}
	if !strings.Contains(doc.Find("main").Text(), "conf-basic") {
		t.Fatal("the page does not name the client")
	}
	// login_hint fills the username.
	if v, _ := doc.Find("#username").Attr("value"); v != "grace" {
		t.Fatalf("username from login_hint = %q", v)
	}
	// Both demo users are listed; clicking one fills in its username.
	links := doc.Find("a.user")
	if links.Length() != 2 {
		t.Fatalf("%d demo users listed, want 2", links.Length())
	}
	href, _ := links.First().Attr("href")
	if name, _ := links.First().Attr("data-username"); name != "ada" {
		t.Fatalf("first user = %q", name)
	}
	target, err := pageURL.Parse(href)
	if err != nil {
		t.Fatal(err)
	}
	doc2, _, resp2 := loginPage(t, browser, target.String())
	if resp2.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp2.StatusCode)
	}
	if v, _ := doc2.Find("#username").Attr("value"); v != "ada" {
		t.Fatalf("username after clicking ada = %q", v)
	}
	if _, ok := doc2.Find("#password").Attr("autofocus"); !ok {
		t.Fatal("password field not focused once the username is filled in")
	}
	if !strings.Contains(doc2.Find(".hint").Text(), "dev") {
		t.Fatal("the demo password is not shown")
	}

	// The stylesheet is served.
	css, err := http.Get(idp.URL + "/static/devidp.css")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(css.Body)
	_ = css.Body.Close()
	if css.StatusCode != http.StatusOK || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") || !strings.Contains(string(body), ".dev-banner") {
		t.Fatalf("stylesheet: %d %q", css.StatusCode, css.Header.Get("Content-Type"))
	}
}

func TestWrongPasswordShowsErrorAndIssuesNoCode(t *testing.T) {
	rp := newRelyingParty(t)
	idp := devidptest.Start(t, devidp.Config{Clients: rp.clients()})
	c := newRPClient(t, idp.URL, "conf-basic", testSecret, oauth2.AuthStyleInHeader, rp.url("/auth/callback"))

	u, err := devidp.SignIn(t.Context(), devidptest.NewBrowser(t), c.oauth.AuthCodeURL("st"), "ada", "wrong")
	if !errors.Is(err, devidp.ErrSignInFailed) || u != nil {
		t.Fatalf("err = %v, url = %v; want ErrSignInFailed and no redirect", err, u)
	}
	if !strings.Contains(err.Error(), "Wrong username or password") {
		t.Fatalf("error %q lacks the page's message", err)
	}

	// The same by hand: the page is re-rendered with 403, the error, and the username kept.
	browser := devidptest.NewBrowser(t)
	doc, pageURL, _ := loginPage(t, browser, c.oauth.AuthCodeURL("st"))
	form := formValues(doc)
	form.Set("username", "nobody")
	form.Set("password", "dev")
	resp, err := noRedirect(browser.Jar).PostForm(pageURL.Scheme+"://"+pageURL.Host+"/login", form)
	if err != nil {
		t.Fatal(err)
	}
	doc2, err := goquery.NewDocumentFromReader(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
		t.Fatalf("status %d, Location %q; want 403 and no redirect", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp.Header.Get("Content-Security-Policy") != wantCSP {
		t.Fatal("error page lacks the CSP")
	}
	if got := doc2.Find("#login-error").Text(); !strings.Contains(got, "Wrong username or password") {
		t.Fatalf("error shown = %q", got)
	}
	if v, _ := doc2.Find("#username").Attr("value"); v != "nobody" {
		t.Fatalf("username kept = %q", v)
	}
	if v, _ := doc2.Find("#password").Attr("value"); v != "" {
		t.Fatal("password echoed back")
	}

	// The sign-in can still be completed with the right password on the re-rendered form.
	form2 := formValues(doc2)
	form2.Set("username", "ada")
	form2.Set("password", "dev")
	resp, err = noRedirect(browser.Jar).PostForm(pageURL.Scheme+"://"+pageURL.Host+"/login", form2)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, idp.URL+"/authorize/callback?id=") {
		t.Fatalf("status %d Location %q after the right password", resp.StatusCode, loc)
	}
}

func TestLoginFormCSRF(t *testing.T) {
	rp := newRelyingParty(t)
	idp := devidptest.Start(t, devidp.Config{Clients: rp.clients()})
	c := newRPClient(t, idp.URL, "conf-basic", testSecret, oauth2.AuthStyleInHeader, rp.url("/auth/callback"))
	browser := devidptest.NewBrowser(t)
	doc, _, _ := loginPage(t, browser, c.oauth.AuthCodeURL("st"))
	form := formValues(doc)
	form.Set("username", "ada")
	form.Set("password", "dev")
	if form.Get("csrf_token") == "" || form.Get("id") == "" {
		t.Fatalf("form lacks id or csrf_token: %v", form)
	}

	post := func(t *testing.T, client *http.Client, v url.Values, header http.Header) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, idp.URL+"/login", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, vs := range header {
			req.Header[k] = vs
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp
	}

	t.Run("wrong token", func(t *testing.T) {
		bad := url.Values{}
		for k, v := range form {
			bad[k] = v
		}
		bad.Set("csrf_token", "forged")
		if resp := post(t, noRedirect(browser.Jar), bad, nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d, want 403", resp.StatusCode)
		}
	})
	t.Run("another browser (no cookie)", func(t *testing.T) {
		if resp := post(t, noRedirect(devidptest.NewBrowser(t).Jar), form, nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d, want 403", resp.StatusCode)
		}
	})
	t.Run("cross-site POST", func(t *testing.T) {
		h := http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}
		if resp := post(t, noRedirect(browser.Jar), form, h); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d, want 403", resp.StatusCode)
		}
	})
	t.Run("same browser, right token", func(t *testing.T) {
		h := http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {idp.URL}}
		if resp := post(t, noRedirect(browser.Jar), form, h); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("status %d, want 303", resp.StatusCode)
		}
	})
	t.Run("replay after completion", func(t *testing.T) {
		if resp := post(t, noRedirect(browser.Jar), form, nil); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
	})
}

func TestPages(t *testing.T) {
	rp := newRelyingParty(t)
	idp := devidptest.Start(t, devidp.Config{Clients: rp.clients()})
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/", http.StatusOK, idp.URL},
		{"/logged-out", http.StatusOK, "signed out"},
		{"/login?authRequestID=unknown", http.StatusBadRequest, "unknown"},
	} {
		resp, err := http.Get(idp.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := goquery.NewDocumentFromReader(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Security-Policy") != wantCSP {
			t.Errorf("%s: status %d, CSP %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
		}
		if !strings.Contains(doc.Find("main").Text(), tc.want) {
			t.Errorf("%s: page lacks %q: %s", tc.path, tc.want, doc.Find("main").Text())
		}
		if !strings.Contains(doc.Find("#dev-banner").Text(), "DEVELOPMENT") {
			t.Errorf("%s: no development banner", tc.path)
		}
	}
}

func TestCustomUsers(t *testing.T) {
	rp := newRelyingParty(t)
	users := []devidp.User{{Subject: "u-1", Username: "linus", Password: "pw", Name: "Linus", Email: "linus@example.test"}}
	idp := devidptest.Start(t, devidp.Config{Clients: rp.clients(), Users: users})
	c := newRPClient(t, idp.URL, "conf-basic", testSecret, oauth2.AuthStyleInHeader, rp.url("/auth/callback"))
	if _, err := devidp.SignIn(t.Context(), devidptest.NewBrowser(t), c.oauth.AuthCodeURL("st"), "ada", "dev"); !errors.Is(err, devidp.ErrSignInFailed) {
		t.Fatalf("default user still signs in with custom users: %v", err)
	}
	u, err := devidp.SignIn(t.Context(), devidptest.NewBrowser(t), c.oauth.AuthCodeURL("st"), "linus", "pw")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.oauth.Exchange(c.ctx, u.Query().Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := c.verifier.Verify(c.ctx, tok.Extra("id_token").(string))
	if err != nil || idt.Subject != "u-1" {
		t.Fatalf("ID token: %v %v", err, idt)
	}
	// The demo password is not advertised for custom users.
	doc, _, _ := loginPage(t, devidptest.NewBrowser(t), c.oauth.AuthCodeURL("st"))
	if strings.Contains(doc.Find("main").Text(), "password is") {
		t.Fatal("password hint shown for custom users")
	}
}

func TestSignInNeedsCookieJar(t *testing.T) {
	if _, err := devidp.SignIn(t.Context(), http.DefaultClient, "http://127.0.0.1:1/authorize", "ada", "dev"); err == nil || !strings.Contains(err.Error(), "cookie jar") {
		t.Fatalf("err = %v", err)
	}
}
