package handlers_test

import (
	"io"
	"log/slog"
)

func mapEnv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
