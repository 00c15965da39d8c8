// Command devidp runs the development OpenID provider (package auth/devidp) for local development
// of the hxoidc app. It is configured with environment variables:
//
//	DEVIDP_ADDR           listen address, loopback only        (default 127.0.0.1:9998)
//	DEVIDP_DATA           directory for the signing key, clients and sessions (default .data/devidp)
//	DEVIDP_USERS          optional JSON users file (default: the demo users ada and grace, password "dev")
//	DEVIDP_CLIENT_ID      the app's client_id                  (default hxoidc-dev)
//	DEVIDP_CLIENT_SECRET  the app's client secret              (default dev-secret)
//	DEVIDP_APP_URL        the app's base URL                   (default http://localhost:3000)
//
// The app's client is registered with the redirect URI APP_URL/auth/callback, the post-logout
// redirect URIs APP_URL/ and APP_URL/auth/signed-out, and the back-channel logout URI
// APP_URL/auth/backchannel-logout.
//
// DEVELOPMENT ONLY: it refuses to listen on anything but a loopback address.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hxoidc/hxoidc/auth/devidp"
)

const (
	defaultAddr         = "127.0.0.1:9998"
	defaultDataDir      = ".data/devidp"
	defaultClientID     = "hxoidc-dev"
	defaultClientSecret = "dev-secret"
	defaultAppURL       = "http://localhost:3000"
	shutdownTimeout     = 5 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, oneLine(err.Error()))
		os.Exit(1)
	}
}

// oneLine keeps the error message on a single line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// config is the command's configuration, read from the environment.
type config struct {
	addr         string
	dataDir      string
	usersFile    string
	clientID     string
	clientSecret string
	appURL       string
}

func envOr(getenv func(string) string, key, def string) string {
	if v := strings.TrimSpace(getenv(key)); v != "" {
		return v
	}
	return def
}

func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		addr:         envOr(getenv, "DEVIDP_ADDR", defaultAddr),
		dataDir:      envOr(getenv, "DEVIDP_DATA", defaultDataDir),
		usersFile:    strings.TrimSpace(getenv("DEVIDP_USERS")),
		clientID:     envOr(getenv, "DEVIDP_CLIENT_ID", defaultClientID),
		clientSecret: envOr(getenv, "DEVIDP_CLIENT_SECRET", defaultClientSecret),
		appURL:       strings.TrimRight(envOr(getenv, "DEVIDP_APP_URL", defaultAppURL), "/"),
	}
	host, _, err := net.SplitHostPort(c.addr)
	if err != nil {
		return c, fmt.Errorf("devidp: DEVIDP_ADDR %q is not host:port: %w", c.addr, err)
	}
	if host == "" || !devidp.IsLoopbackHost(host) {
		return c, fmt.Errorf("devidp: DEVIDP_ADDR %q is not a loopback address: this development provider only listens on 127.0.0.1, ::1 or localhost", c.addr)
	}
	u, err := url.Parse(c.appURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return c, fmt.Errorf("devidp: DEVIDP_APP_URL %q must be an absolute http(s) URL without query or fragment, e.g. %s", c.appURL, defaultAppURL)
	}
	return c, nil
}

func (c config) client() devidp.Client {
	return devidp.Client{
		ID:                     c.clientID,
		Secret:                 c.clientSecret,
		RedirectURIs:           []string{c.appURL + "/auth/callback"},
		PostLogoutRedirectURIs: []string{c.appURL + "/", c.appURL + "/auth/signed-out"},
		BackChannelLogoutURI:   c.appURL + "/auth/backchannel-logout",
	}
}

const usage = `devidp — development OpenID provider (NOT for production)

Usage: devidp

Configured with environment variables:
  DEVIDP_ADDR           listen address, loopback only (default 127.0.0.1:9998)
  DEVIDP_DATA           data directory: signing key, clients, sessions (default .data/devidp)
  DEVIDP_USERS          JSON users file (default: demo users ada and grace, password "dev")
  DEVIDP_CLIENT_ID      the app's client_id (default hxoidc-dev)
  DEVIDP_CLIENT_SECRET  the app's client secret (default dev-secret)
  DEVIDP_APP_URL        the app's base URL (default http://localhost:3000)
`

// run starts the provider and serves it until ctx is done, then shuts down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("devidp", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if len(args) == 0 {
		args = []string{"devidp"}
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			_, _ = io.WriteString(stdout, usage)
			return nil
		}
		return fmt.Errorf("devidp: %w (run devidp -h for help)", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("devidp: unexpected argument %q: devidp is configured with DEVIDP_* environment variables (run devidp -h for help)", fs.Arg(0))
	}

	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	var users []devidp.User
	if cfg.usersFile != "" {
		if users, err = devidp.LoadUsers(cfg.usersFile); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("devidp: listen %s: address already in use — stop the other process or set DEVIDP_ADDR", cfg.addr)
		}
		return fmt.Errorf("devidp: listen %s: %w", cfg.addr, err)
	}
	defer func() { _ = ln.Close() }()

	logger := slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// The issuer is the address actually bound (DEVIDP_ADDR may use port 0).
	provider, err := devidp.New(ctx, devidp.Config{
		Issuer:  "http://" + ln.Addr().String(),
		DataDir: cfg.dataDir,
		Users:   users,
		Clients: []devidp.Client{cfg.client()},
		Logger:  logger,
	})
	if err != nil {
		return err
	}
	printBanner(stdout, provider.Issuer(), cfg, users)

	srv := &http.Server{
		Handler:           provider.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("devidp: serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("devidp: shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("devidp: shut down: %w", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("devidp: serve: %w", err)
	}
	return nil
}

func printBanner(w io.Writer, issuer string, cfg config, users []devidp.User) {
	passwordNote := ""
	if users == nil {
		users = devidp.DefaultUsers()
		passwordNote = fmt.Sprintf(" (password %q)", devidp.DefaultPassword)
	}
	names := make([]string, 0, len(users))
	for _, u := range users {
		names = append(names, u.Username)
	}
	c := cfg.client()
	_, _ = fmt.Fprintf(w, `devidp: DEVELOPMENT OpenID provider — for local development only, never in production
  issuer:  %s
  users:   %s%s
  client:  %s (redirect %s)
  data:    %s
`, issuer, strings.Join(names, ", "), passwordNote, c.ID, c.RedirectURIs[0], cfg.dataDir)
}
