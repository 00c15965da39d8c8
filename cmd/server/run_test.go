package main

import (
	"context"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hxoidc/hxoidc/auth/authtest"
	"github.com/hxoidc/hxoidc/handlers/apptest"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func baseEnv(op *authtest.Provider, addr, store string) map[string]string {
	return map[string]string{
		"OIDC_ISSUER": op.Issuer(), "OIDC_CLIENT_ID": op.ClientID(), "OIDC_CLIENT_SECRET": op.ClientSecret(),
		"BASE_URL": "http://" + addr, "SESSION_STORE": store, "OIDC_HTTP_TIMEOUT": "1s",
	}
}

type runResult struct {
	err error
	out *apptest.SyncBuffer
}

func startRun(t *testing.T, env map[string]string) (context.CancelFunc, chan runResult) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan runResult, 1)
	out := &apptest.SyncBuffer{}
	go func() {
		done <- runResult{run(ctx, []string{"server"}, func(k string) string { return env[k] }, out), out}
	}()
	t.Cleanup(cancel)
	return cancel, done
}

func waitHealthy(t *testing.T, base string, done chan runResult) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case r := <-done:
			t.Fatalf("run returned early: %v\n%s", r.err, r.out)
		default:
		}
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("server did not become healthy")
}

// TestRunSessionsSurviveRestart: a signed-in session in the SQLite store survives a restart of the server.
func TestRunSessionsSurviveRestart(t *testing.T) {
	op := authtest.New(t, authtest.Options{ClientSecret: "s3cret"})
	addr := freeAddr(t)
	base := "http://" + addr
	op.RegisterRedirectURI(base + "/auth/callback")
	env := baseEnv(op, addr, filepath.Join(t.TempDir(), "data", "sessions.db"))

	cancel, done := startRun(t, env)
	waitHealthy(t, base, done)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "/auth/login?return_to=/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Restart while the sign-in is at the provider: the pending sign-in survives too.
	cancel()
	if r := <-done; r.err != nil {
		t.Fatalf("shutdown: %v", r.err)
	}
	cancel, done = startRun(t, env)
	waitHealthy(t, base, done)
	cb, err := op.Approve(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if resp, err = c.Get(cb); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback after restart: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	// And the signed-in session survives another restart.
	cancel()
	if r := <-done; r.err != nil {
		t.Fatalf("shutdown: %v", r.err)
	}
	_, done = startRun(t, env)
	waitHealthy(t, base, done)
	if resp, err = c.Get(base + "/profile"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("profile after restart: %v %v", err, resp.Status)
	}
	resp.Body.Close()
}

// TestRunGracefulShutdown: an in-flight request (a callback waiting on a hanging token endpoint)
// finishes with a response after shutdown starts, and run returns nil.
func TestRunGracefulShutdown(t *testing.T) {
	op := authtest.New(t, authtest.Options{ClientSecret: "s3cret"})
	addr := freeAddr(t)
	base := "http://" + addr
	op.RegisterRedirectURI(base + "/auth/callback")
	cancel, done := startRun(t, baseEnv(op, addr, "memory"))
	waitHealthy(t, base, done)

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "/auth/login?return_to=/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb, err := op.Approve(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	op.SetBehavior(func(b *authtest.Behavior) { b.TokenHang = true })
	inflight := make(chan *http.Response, 1)
	go func() {
		r, err := c.Get(cb)
		if err != nil {
			t.Errorf("in-flight request failed during shutdown: %v", err)
			inflight <- nil
			return
		}
		r.Body.Close()
		inflight <- r
	}()
	// Shut down once the callback is waiting at the token endpoint.
	deadline := time.Now().Add(5 * time.Second)
	for op.Requests().Token == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	r := <-inflight
	if r == nil || r.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("in-flight callback: %v, want a finished 504 response", r)
	}
	if res := <-done; res.err != nil {
		t.Errorf("run after shutdown: %v", res.err)
	}
}

func TestRunBadInputOneLineErrors(t *testing.T) {
	op := authtest.New(t, authtest.Options{ClientSecret: "s3cret"})
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	notDB := filepath.Join(t.TempDir(), "sessions.db")
	if err := os.WriteFile(notDB, []byte("hello, not sqlite"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  func(map[string]string)
		want []string
	}{
		{"port in use", func(e map[string]string) { e["BASE_URL"] = "http://" + busy.Addr().String() }, []string{busy.Addr().String(), "address already in use", "ADDR"}},
		{"session file is not a database", func(e map[string]string) { e["SESSION_STORE"] = notDB }, []string{notDB, "not a SQLite database", "SESSION_STORE"}},
		{"missing issuer", func(e map[string]string) { delete(e, "OIDC_ISSUER") }, []string{"OIDC_ISSUER", "go tool task dev"}},
		{"issuer mismatch", func(e map[string]string) { e["OIDC_ISSUER"] = op.Issuer() + "/" }, []string{"trailing slash", op.Issuer()}},
		{"no discovery document at the issuer", func(e map[string]string) { e["OIDC_ISSUER"] = op.Issuer() + "/t/acme" }, []string{"404", "OIDC_ISSUER", "/t/acme/.well-known/openid-configuration"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := baseEnv(op, freeAddr(t), "memory")
			tc.env(env)
			_, done := startRun(t, env)
			var r runResult
			select {
			case r = <-done:
			case <-time.After(15 * time.Second):
				t.Fatal("run did not fail")
			}
			if r.err == nil {
				t.Fatal("run succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(r.err.Error(), w) {
					t.Errorf("error %q lacks %q", r.err, w)
				}
			}
		})
	}
	if b, _ := os.ReadFile(notDB); string(b) != "hello, not sqlite" {
		t.Errorf("the non-database file was changed")
	}
}

func TestDotEnv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	if err := os.WriteFile(path, []byte("OIDC_CLIENT_ID=from-file\nOIDC_SCOPES=\"openid email\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	get, err := withDotEnv(func(k string) string { return map[string]string{"OIDC_CLIENT_ID": "from-env"}[k] }, path)
	if err != nil {
		t.Fatal(err)
	}
	if get("OIDC_CLIENT_ID") != "from-env" || get("OIDC_SCOPES") != "openid email" {
		t.Errorf("env must win over .env: %q %q", get("OIDC_CLIENT_ID"), get("OIDC_SCOPES"))
	}
	if _, err := withDotEnv(os.Getenv, filepath.Join(dir, "missing")); err != nil {
		t.Errorf("a missing .env is fine: %v", err)
	}
	if err := os.WriteFile(path, []byte("KEY='unterminated\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := withDotEnv(os.Getenv, path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("a broken .env must name the file: %v", err)
	}
}
