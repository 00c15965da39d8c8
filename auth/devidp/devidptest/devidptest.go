// Package devidptest runs a devidp development OpenID provider on a loopback port for the
// duration of a test.
//
//	idp := devidptest.Start(t, devidp.Config{Clients: []devidp.Client{{
//		ID: "app", Secret: "secret",
//		RedirectURIs:           []string{appURL + "/auth/callback"},
//		PostLogoutRedirectURIs: []string{appURL + "/"},
//		BackChannelLogoutURI:   appURL + "/auth/backchannel-logout",
//	}}})
//	browser := devidptest.NewBrowser(t)
//	callback, err := devidp.SignIn(ctx, browser, authCodeURL, "ada", devidp.DefaultPassword)
package devidptest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"testing"
	"time"

	"github.com/hxoidc/hxoidc/auth/devidp"
)

// Server is a devidp provider served on 127.0.0.1 for the duration of a test.
type Server struct {
	// Provider is the running provider; its Issuer() equals URL.
	*devidp.Provider
	// URL is the issuer URL, e.g. "http://127.0.0.1:41234".
	URL string
	// Config is the configuration the provider was started with (Issuer, DataDir and Logger
	// filled in).
	Config devidp.Config

	addr string
	srv  *http.Server
	done chan struct{}
}

// Start starts a provider on a free port of 127.0.0.1 and stops it when the test ends. cfg.Issuer
// must be empty: Start sets it to the listener's URL. An empty cfg.DataDir becomes tb.TempDir();
// a nil cfg.Logger discards the provider's logs.
func Start(tb testing.TB, cfg devidp.Config) *Server {
	tb.Helper()
	if cfg.Issuer != "" {
		tb.Fatalf("devidptest: Start sets Config.Issuer itself; leave it empty (got %q)", cfg.Issuer)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("devidptest: listen: %v", err)
	}
	if cfg.DataDir == "" {
		cfg.DataDir = tb.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Issuer = "http://" + ln.Addr().String()
	s := &Server{URL: cfg.Issuer, Config: cfg, addr: ln.Addr().String()}
	if err := s.serve(tb, ln); err != nil {
		_ = ln.Close()
		tb.Fatalf("devidptest: %v", err)
	}
	tb.Cleanup(s.stop)
	return s
}

// Restart stops the provider and starts a new one on the same address with the same
// configuration and DataDir, as a developer restarting the devidp command would.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.stop()
	var ln net.Listener
	var err error
	// The port was just released; retry briefly in case the kernel has not caught up.
	for deadline := time.Now().Add(5 * time.Second); ; {
		ln, err = net.Listen("tcp", s.addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		tb.Fatalf("devidptest: restart: listen %s: %v", s.addr, err)
	}
	if err := s.serve(tb, ln); err != nil {
		_ = ln.Close()
		tb.Fatalf("devidptest: restart: %v", err)
	}
}

func (s *Server) serve(tb testing.TB, ln net.Listener) error {
	p, err := devidp.New(tb.Context(), s.Config)
	if err != nil {
		return err
	}
	s.Provider = p
	s.srv = &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.done = make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			tb.Errorf("devidptest: serve: %v", err)
		}
	}(s.srv, s.done)
	return nil
}

func (s *Server) stop() {
	if s.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	<-s.done
	s.srv = nil
}

// NewBrowser returns an HTTP client with a cookie jar, as devidp.SignIn needs. It follows
// redirects like a browser; SignIn stops at the redirect that leaves the provider.
func NewBrowser(tb testing.TB) *http.Client {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatalf("devidptest: cookie jar: %v", err)
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}
