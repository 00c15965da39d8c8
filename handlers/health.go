package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// healthz is GET /healthz: the process is alive.
func (s *server) healthz(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.String(http.StatusOK, "ok\n")
}

// readyz is GET /readyz: 200 when the provider's metadata is loaded and the session store answers, else
// 503 with what is missing.
func (s *server) readyz(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	status := map[string]string{"provider": "ok", "session_store": "ok"}
	ready := true
	if err := s.Auth.Ready(); err != nil {
		status["provider"] = err.Error()
		ready = false
	}
	if p, ok := s.Store.(Pinger); ok {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := p.Ping(ctx); err != nil {
			status["session_store"] = err.Error()
			ready = false
		}
	}
	if !ready {
		status["status"] = "not ready"
		return c.JSON(http.StatusServiceUnavailable, status)
	}
	status["status"] = "ready"
	return c.JSON(http.StatusOK, status)
}
