package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"
	"time"
)

func testSessions(t *testing.T) (*Sessions, context.Context, *time.Time) {
	t.Helper()
	cfg, err := LoadConfig(env(map[string]string{EnvIssuer: "https://i.example", EnvClientID: "x"}))
	if err != nil {
		t.Fatal(err)
	}
	st := NewMemoryStore(0)
	s := NewSessions(cfg, st)
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	ctx, err := s.Manager.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return s, ctx, &now
}

func TestPendingSignIns(t *testing.T) {
	s, ctx, now := testSessions(t)
	for i := range 3 {
		s.AddPending(ctx, Pending{State: fmt.Sprint("s", i), Created: *now})
	}
	if _, err := s.TakePending(ctx, "s1"); err != nil {
		t.Fatalf("take s1: %v", err)
	}
	if _, err := s.TakePending(ctx, "s1"); !errors.Is(err, ErrUnknownState) {
		t.Errorf("second take of s1: %v, want ErrUnknownState", err)
	}
	if _, err := s.TakePending(ctx, ""); !errors.Is(err, ErrUnknownState) {
		t.Errorf("empty state: %v", err)
	}
	*now = now.Add(PendingTTL + time.Second)
	var ae *Error
	if _, err := s.TakePending(ctx, "s0"); !errors.Is(err, ErrExpiredState) || !errors.As(err, &ae) || ae.Status != 400 {
		t.Errorf("expired: %v", err)
	}
	if _, err := s.TakePending(ctx, "s0"); !errors.Is(err, ErrUnknownState) {
		t.Errorf("an expired state must be spent too: %v", err)
	}
}

func TestPendingCapDropsOldest(t *testing.T) {
	s, ctx, now := testSessions(t)
	for i := range MaxPending + 3 {
		*now = now.Add(time.Second)
		s.AddPending(ctx, Pending{State: fmt.Sprint("s", i), Created: *now})
	}
	if got := len(s.livePending(ctx)); got != MaxPending {
		t.Errorf("%d pending, want the cap %d", got, MaxPending)
	}
	if _, err := s.TakePending(ctx, "s0"); !errors.Is(err, ErrUnknownState) {
		t.Errorf("oldest kept beyond the cap: %v", err)
	}
	if _, err := s.TakePending(ctx, fmt.Sprint("s", MaxPending+2)); err != nil {
		t.Errorf("newest dropped: %v", err)
	}
}

func TestCorruptSessionReadsAsEmpty(t *testing.T) {
	s, _, _ := testSessions(t)
	if err := s.store.Commit(hashForTest(s, "tok"), []byte("not gob"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	ctx, err := s.Manager.Load(context.Background(), "tok")
	if err != nil {
		t.Fatalf("a corrupt session must not fail the request: %v", err)
	}
	if _, ok := s.User(ctx); ok {
		t.Errorf("corrupt session has a user")
	}
}

func hashForTest(s *Sessions, token string) string {
	ctx, _ := s.Manager.Load(context.Background(), "")
	_ = ctx
	// scs hashes tokens in the store (HashTokenInStore): sha256, base64url without padding.
	return hashToken(token)
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestAnonymousPendingSessionsAreShortLived(t *testing.T) {
	s, ctx, now := testSessions(t)
	s.AddPending(ctx, Pending{State: "s", Created: *now})
	if got := s.Manager.Deadline(ctx); got.After(now.Add(PendingTTL + 2*time.Minute)) {
		t.Errorf("anonymous session with a pending sign-in lives until %s, want about %s", got, now.Add(PendingTTL))
	}
}
