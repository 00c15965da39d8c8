package auth

import (
	"testing"
	"time"
)

func TestMemoryStore(t *testing.T) {
	m := NewMemoryStore(time.Hour)
	defer m.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m.now = func() time.Time { return now }
	_ = m.Commit("live", []byte("a"), now.Add(time.Minute))
	_ = m.Commit("dead", []byte("b"), now)
	if b, ok, _ := m.Find("live"); !ok || string(b) != "a" {
		t.Errorf("live: %q %t", b, ok)
	}
	if _, ok, _ := m.Find("dead"); ok {
		t.Errorf("expired session found")
	}
	if all, _ := m.All(); len(all) != 1 {
		t.Errorf("All: %v", all)
	}
	m.deleteExpired()
	if len(m.items) != 1 {
		t.Errorf("cleanup left %d items", len(m.items))
	}
	_ = m.Delete("live")
	if _, ok, _ := m.Find("live"); ok {
		t.Errorf("deleted session found")
	}
	for range 2 { // closing twice is safe
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
}
