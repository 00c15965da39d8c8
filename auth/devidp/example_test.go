package devidp_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/cookiejar"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/hxoidc/hxoidc/auth/devidp"
)

// Starting a provider in-process and signing in programmatically, as a relying party's tests do.
// (In tests, devidptest.Start does the listener, server and clean-up in one call.)
func ExampleSignIn() {
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0") // listen first: the issuer must be the server's URL
	if err != nil {
		log.Fatal(err)
	}
	idp, err := devidp.New(ctx, devidp.Config{
		Issuer:  "http://" + ln.Addr().String(),
		DataDir: "/tmp/devidp-example",
		Clients: []devidp.Client{{ID: "app", Secret: "secret", RedirectURIs: []string{"http://127.0.0.1:3000/auth/callback"}}},
	})
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = http.Serve(ln, idp.Handler()) }()

	provider, err := oidc.NewProvider(ctx, idp.Issuer())
	if err != nil {
		log.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: "app", ClientSecret: "secret", Endpoint: provider.Endpoint(),
		RedirectURL: "http://127.0.0.1:3000/auth/callback", Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
	verifier := oauth2.GenerateVerifier()
	jar, _ := cookiejar.New(nil)
	callback, err := devidp.SignIn(ctx, &http.Client{Jar: jar}, conf.AuthCodeURL("state", oauth2.S256ChallengeOption(verifier)), "ada", devidp.DefaultPassword)
	if err != nil {
		log.Fatal(err)
	}
	// callback is http://127.0.0.1:3000/auth/callback?code=...&iss=...&state=state; an app test
	// would GET it with its own client. Here we exchange the code directly.
	token, err := conf.Exchange(ctx, callback.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(token.Extra("id_token") != nil)
}
