package interop

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hxoidc/hxoidc/handlers/apptest"
)

// oidcProviderDir holds provider.mjs, its package.json and the committed package-lock.json.
const oidcProviderDir = "oidcprovider"

// minNodeMajor is the oldest Node.js these tests run oidc-provider 9 on. oidc-provider 9 targets Node.js 22
// LTS (it warns on anything older) and works on 20; 18, end of life and what Debian 12's apt installs, is
// refused with a clear message rather than left to fail somewhere inside the provider.
const minNodeMajor = 20

// requireOIDCProvider returns the node executable, or skips the test (fails it under CI=true) with what to
// do when Node.js or the locked npm dependencies are missing.
func requireOIDCProvider(t *testing.T) string {
	t.Helper()
	var missing string
	node, err := exec.LookPath("node")
	if err != nil {
		missing = fmt.Sprintf("node is not on PATH: install Node.js %d+ (22 LTS recommended), then run `npm ci` in auth/interop/oidcprovider", minNodeMajor)
	} else if v, err := nodeMajor(node); err != nil {
		missing = fmt.Sprintf("%s --version: %v", node, err)
	} else if v < minNodeMajor {
		missing = fmt.Sprintf("%s is Node.js %d, too old for oidc-provider 9: install Node.js %d+ (22 LTS recommended)", node, v, minNodeMajor)
	} else if _, err := os.Stat(filepath.Join(oidcProviderDir, "node_modules", "oidc-provider", "package.json")); err != nil {
		missing = "auth/interop/oidcprovider/node_modules is missing: run `npm ci` in auth/interop/oidcprovider (.ci/run does it)"
	}
	if missing == "" {
		return node
	}
	msg := "oidc-provider interop tests: " + missing
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// nodeMajor is the major version of `node --version` ("v22.12.0" is 22).
func nodeMajor(node string) (int, error) {
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return 0, err
	}
	major, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(string(out)), "v"), ".")
	return strconv.Atoi(major)
}

// oidcProviderClient is the relying party registered at the oidc-provider process.
type oidcProviderClient struct {
	ID, Secret            string
	RedirectURIs          []string
	PostLogoutRedirectURI []string
	BackchannelLogoutURI  string
}

// startOIDCProvider runs `node provider.mjs` for client on a free 127.0.0.1 port and returns its issuer. The
// process (its whole process group) is killed when the test ends; it also exits by itself when its stdin
// closes, so a test binary that dies does not leave it behind.
func startOIDCProvider(t *testing.T, c oidcProviderClient) string {
	t.Helper()
	node := requireOIDCProvider(t)
	args := []string{"provider.mjs", "--port", "0", "--client-id", c.ID, "--client-secret", c.Secret}
	for _, u := range c.RedirectURIs {
		args = append(args, "--redirect-uri", u)
	}
	for _, u := range c.PostLogoutRedirectURI {
		args = append(args, "--post-logout-redirect-uri", u)
	}
	if c.BackchannelLogoutURI != "" {
		args = append(args, "--backchannel-logout-uri", c.BackchannelLogoutURI)
	}
	cmd := exec.Command(node, args...)
	cmd.Dir = oidcProviderDir
	cmd.Env = append(os.Environ(), "NODE_NO_WARNINGS=1")
	setProcessGroup(cmd)
	cmd.WaitDelay = 2 * time.Second

	ready := &readyWriter{ch: make(chan string, 1)}
	stderr := &apptest.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = ready, stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("oidc-provider: stdin: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("oidc-provider: start %s: %v", node, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = stdin.Close()
		killProcessGroup(cmd)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("oidc-provider (pid %d) did not exit", cmd.Process.Pid)
		}
		if t.Failed() {
			t.Logf("oidc-provider stdout:\n%s\noidc-provider stderr:\n%s", ready.String(), stderr.String())
		}
	})

	select {
	case issuer := <-ready.ch:
		if issuer == "" {
			t.Fatalf("oidc-provider: first stdout line is not \"READY <issuer>\"; stdout %q; stderr:\n%s", ready.String(), stderr.String())
		}
		t.Logf("oidc-provider %s (pid %d)", issuer, cmd.Process.Pid)
		return issuer
	case err := <-exited:
		exited <- err // for the cleanup
		t.Fatalf("oidc-provider exited before it was ready (%v); stderr:\n%s", err, stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("oidc-provider did not print READY within 20 s; stdout %q; stderr:\n%s", ready.String(), stderr.String())
	}
	return ""
}

// readyWriter is the process's stdout: it hands over the issuer of the first line, "READY <issuer>".
type readyWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	ch   chan string
	sent bool
}

func (w *readyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.sent {
		if line, _, ok := strings.Cut(w.buf.String(), "\n"); ok {
			w.sent = true
			if issuer, found := strings.CutPrefix(strings.TrimSpace(line), "READY "); found {
				w.ch <- issuer
			} else {
				w.ch <- "" // not the READY line: the caller fails with the output
			}
		}
	}
	return len(p), nil
}

func (w *readyWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
