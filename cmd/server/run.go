package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/joho/godotenv"

	"github.com/hxoidc/hxoidc/auth"
	"github.com/hxoidc/hxoidc/auth/sqlitestore"
	"github.com/hxoidc/hxoidc/handlers"
)

// run starts the app and blocks until ctx ends or SIGINT/SIGTERM arrives, then shuts down gracefully:
// in-flight requests finish (up to 15 s), then the session store is closed.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	getenv, err := withDotEnv(getenv, ".env")
	if err != nil {
		return err
	}
	cfg, err := auth.LoadConfig(getenv)
	if err != nil {
		return err
	}
	logger := newLogger(stdout, cfg.LogLevel)

	store, closeStore, err := openStore(cfg.SessionStore)
	if err != nil {
		return err
	}
	defer closeStore()

	client := auth.NewClient(cfg, nil, logger)
	switch err := client.Discover(ctx); {
	case err == nil:
		logger.Info("provider discovery succeeded", "issuer", cfg.Issuer)
	case errors.As(err, new(*auth.IssuerMismatchError)), errors.As(err, new(*auth.DiscoveryNotFoundError)):
		// A wrong issuer is a configuration error; retrying cannot fix it.
		return err
	default:
		logger.Warn("provider unreachable at start; serving pages and retrying discovery", "issuer", cfg.Issuer, "err", err)
		go client.Run(ctx)
	}

	e := handlers.NewServer(handlers.Deps{
		Config:   cfg,
		Auth:     client,
		Sessions: auth.NewSessions(cfg, store),
		Store:    store,
		Logger:   logger,
	})
	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (%s): %w: stop the other process or set %s", cfg.Addr, auth.EnvAddr, err, auth.EnvAddr)
	}
	logger.Info("hxoidc listening", "url", cfg.Origin(), "addr", ln.Addr().String(), "config", cfg.String())
	fmt.Fprintf(stdout, "\n  hxoidc is running: open %s\n\n", cfg.Origin())

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// withDotEnv layers an optional .env file under the real environment: a variable that is set wins.
func withDotEnv(getenv func(string) string, path string) (func(string) string, error) {
	vals, err := godotenv.Read(path)
	if errors.Is(err, os.ErrNotExist) {
		return getenv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w (fix the line or remove the file)", path, err)
	}
	return func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return vals[k]
	}, nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // validated by LoadConfig
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// openStore opens the session store SESSION_STORE names: "memory", or the path of a SQLite file.
func openStore(spec string) (scs.Store, func(), error) {
	if strings.EqualFold(spec, "memory") {
		m := auth.NewMemoryStore(time.Minute)
		return m, func() { _ = m.Close() }, nil
	}
	s, err := sqlitestore.Open(spec, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("session store (%s=%s): %w", auth.EnvSessionStore, spec, err)
	}
	return s, func() { _ = s.Close() }, nil
}
