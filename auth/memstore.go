package auth

import (
	"context"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
)

// MemoryStore is an in-memory scs store for tests and throwaway runs (SESSION_STORE=memory). Unlike
// scs's memstore, stopping its cleanup is free of data races, and it can be closed like the other stores.
type MemoryStore struct {
	mu    sync.RWMutex
	items map[string]memItem
	stop  chan struct{}
	once  sync.Once
	now   func() time.Time
}

type memItem struct {
	b      []byte
	expiry time.Time
}

var (
	_ scs.Store         = (*MemoryStore)(nil)
	_ scs.IterableStore = (*MemoryStore)(nil)
)

// NewMemoryStore makes a store that drops expired sessions every cleanup interval (0: never, they are
// still never returned).
func NewMemoryStore(cleanup time.Duration) *MemoryStore {
	m := &MemoryStore{items: map[string]memItem{}, stop: make(chan struct{}), now: time.Now}
	if cleanup > 0 {
		go m.cleanup(cleanup)
	}
	return m
}

func (m *MemoryStore) cleanup(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.deleteExpired()
		}
	}
}

func (m *MemoryStore) deleteExpired() {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, it := range m.items {
		if !now.Before(it.expiry) {
			delete(m.items, k)
		}
	}
}

// Find returns an unexpired session.
func (m *MemoryStore) Find(token string) ([]byte, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	it, ok := m.items[token]
	if !ok || !m.now().Before(it.expiry) {
		return nil, false, nil
	}
	return it.b, true, nil
}

// Commit stores or replaces a session.
func (m *MemoryStore) Commit(token string, b []byte, expiry time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items[token] = memItem{b: b, expiry: expiry}
	return nil
}

// TouchCtx replaces a live session's data and expiry, never re-creating a deleted one.
func (m *MemoryStore) TouchCtx(_ context.Context, token string, b []byte, expiry time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.items[token]
	if !ok || !m.now().Before(it.expiry) {
		return false, nil
	}
	m.items[token] = memItem{b: b, expiry: expiry}
	return true, nil
}

// Delete removes a session.
func (m *MemoryStore) Delete(token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.items, token)
	return nil
}

// All returns every unexpired session (for back-channel logout).
func (m *MemoryStore) All() (map[string][]byte, error) {
	now := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[string][]byte, len(m.items))
	for k, it := range m.items {
		if now.Before(it.expiry) {
			out[k] = it.b
		}
	}
	return out, nil
}

// Ping always succeeds.
func (m *MemoryStore) Ping(context.Context) error { return nil }

// Close stops the cleanup; safe to call more than once.
func (m *MemoryStore) Close() error {
	m.once.Do(func() { close(m.stop) })
	return nil
}
