package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is an io.Writer safe for the server goroutine and the test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestRunServesAndShutsDown(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"devidp"}, env(map[string]string{
			"DEVIDP_ADDR":    "127.0.0.1:0",
			"DEVIDP_DATA":    dataDir,
			"DEVIDP_APP_URL": "http://localhost:4000/",
		}), out)
	}()

	issuerRE := regexp.MustCompile(`issuer:\s+(http://127\.0\.0\.1:\d+)`)
	var issuer string
	for deadline := time.Now().Add(10 * time.Second); issuer == ""; {
		if m := issuerRE.FindStringSubmatch(out.String()); m != nil {
			issuer = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no issuer printed:\n%s", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	banner := out.String()
	for _, want := range []string{"DEVELOPMENT", "ada, grace", `password "dev"`, "hxoidc-dev", "http://localhost:4000/auth/callback"} {
		if !strings.Contains(banner, want) {
			t.Errorf("start-up output lacks %q:\n%s", want, banner)
		}
	}

	resp, err := http.Get(issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Issuer string `json:"issuer"`
	}
	err = json.NewDecoder(resp.Body).Decode(&d)
	_ = resp.Body.Close()
	if err != nil || d.Issuer != issuer {
		t.Fatalf("discovery issuer %q (%v), want %q", d.Issuer, err, issuer)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "signing-key.pem")); err != nil {
		t.Fatalf("no signing key in DEVIDP_DATA: %v", err)
	}
	clients, err := os.ReadFile(filepath.Join(dataDir, "clients.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"http://localhost:4000/auth/backchannel-logout", "http://localhost:4000/auth/signed-out", `"http://localhost:4000/"`} {
		if !strings.Contains(string(clients), want) {
			t.Errorf("client registration lacks %s:\n%s", want, clients)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not shut down")
	}
	if _, err := http.Get(issuer + "/.well-known/openid-configuration"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

func TestRunPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	addr := ln.Addr().String()
	err = run(t.Context(), []string{"devidp"}, env(map[string]string{"DEVIDP_ADDR": addr, "DEVIDP_DATA": t.TempDir()}), &syncBuffer{})
	want := "devidp: listen " + addr + ": address already in use — stop the other process or set DEVIDP_ADDR"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	badUsers := filepath.Join(dir, "users.json")
	if err := os.WriteFile(badUsers, []byte(`[{"subject": "s", "username": "u"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		env  map[string]string
		args []string
		want string
	}{
		"all interfaces":  {env: map[string]string{"DEVIDP_ADDR": ":9998"}, want: "loopback"},
		"LAN address":     {env: map[string]string{"DEVIDP_ADDR": "0.0.0.0:9998"}, want: "loopback"},
		"not host:port":   {env: map[string]string{"DEVIDP_ADDR": "9998"}, want: "host:port"},
		"bad app URL":     {env: map[string]string{"DEVIDP_APP_URL": "localhost:3000"}, want: "DEVIDP_APP_URL"},
		"bad users file":  {env: map[string]string{"DEVIDP_USERS": badUsers}, want: badUsers + ":1: user #1"},
		"stray argument":  {args: []string{"devidp", "serve"}, want: "unexpected argument"},
		"unknown flag":    {args: []string{"devidp", "-port", "1"}, want: "flag provided but not defined"},
		"users not found": {env: map[string]string{"DEVIDP_USERS": filepath.Join(dir, "absent.json")}, want: "absent.json"},
	} {
		t.Run(name, func(t *testing.T) {
			if tc.env == nil {
				tc.env = map[string]string{}
			}
			tc.env["DEVIDP_DATA"] = t.TempDir()
			if tc.args == nil {
				tc.args = []string{"devidp"}
			}
			err := run(t.Context(), tc.args, env(tc.env), &syncBuffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "devidp: ") {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestRunHelp(t *testing.T) {
	out := &syncBuffer{}
	if err := run(t.Context(), []string{"devidp", "-h"}, env(nil), out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "DEVIDP_CLIENT_SECRET") || !strings.Contains(out.String(), "NOT for production") {
		t.Fatalf("help = %s", out)
	}
}

func TestOneLine(t *testing.T) {
	if got := oneLine("a\nb  c\n"); got != "a b c" {
		t.Fatalf("oneLine = %q", got)
	}
}
