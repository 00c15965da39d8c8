package devidp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

const (
	clientsFile  = "clients.json"
	stateFile    = "state.json"
	stateVersion = 1
)

// persistedState is the content of state.json.
type persistedState struct {
	Version       int             `json:"version"`
	Sessions      []*session      `json:"sessions"`
	AccessTokens  []*accessToken  `json:"access_tokens"`
	RefreshTokens []*refreshToken `json:"refresh_tokens"`
	Rotated       []rotatedToken  `json:"rotated_refresh_tokens"`
}

// persistedClients is the content of clients.json.
type persistedClients struct {
	Version int             `json:"version"`
	Clients []*storedClient `json:"clients"`
}

// ensureDataDir creates dir (mode 0700) if it does not exist.
func ensureDataDir(dir string) error {
	if dir == "" {
		return errors.New("DataDir is empty; set it to a directory for the signing key and state, e.g. .data/devidp")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("data directory %s is not a directory", dir)
	}
	return nil
}

// readJSONFile decodes path into v. It reports whether the file exists; a file that exists but
// does not decode is an error naming the file and saying how to recover.
func readJSONFile(path string, v any) (bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("%s is corrupt (%v); delete it to start afresh", path, err)
	}
	return true, nil
}

// writeJSONFile replaces path atomically (temporary file, sync, rename) with v as JSON, mode 0600.
func writeJSONFile(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	data = append(data, '\n')
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	cleanup := func() { _ = os.Remove(tmp.Name()) }
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		cleanup()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		cleanup()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		cleanup()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		cleanup()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		cleanup()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// loadClients returns the registry: cfgClients if non-nil (and persists it), else the persisted
// one.
func loadClients(dir string, cfgClients []Client) ([]*storedClient, error) {
	path := filepath.Join(dir, clientsFile)
	if cfgClients != nil {
		if err := validateClients(cfgClients); err != nil {
			return nil, err
		}
		out := make([]*storedClient, 0, len(cfgClients))
		for _, c := range cfgClients {
			out = append(out, newStoredClient(c))
		}
		if err := writeJSONFile(path, persistedClients{Version: stateVersion, Clients: out}); err != nil {
			return nil, err
		}
		return out, nil
	}
	var pc persistedClients
	ok, err := readJSONFile(path, &pc)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("no clients: Config.Clients is nil and %s does not exist", path)
	}
	if pc.Version != stateVersion {
		return nil, fmt.Errorf("%s has version %d, want %d; delete it and pass Config.Clients", path, pc.Version, stateVersion)
	}
	check := make([]Client, 0, len(pc.Clients))
	for _, c := range pc.Clients {
		if c == nil {
			return nil, fmt.Errorf("%s is corrupt (null client); delete it and pass Config.Clients", path)
		}
		check = append(check, Client{
			ID:                     c.ID,
			RedirectURIs:           c.RedirectURIs,
			PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
			BackChannelLogoutURI:   c.BackChannelLogoutURI,
		})
	}
	if err := validateClients(check); err != nil {
		return nil, fmt.Errorf("%s: %w; fix or delete it and pass Config.Clients", path, err)
	}
	return pc.Clients, nil
}

// loadState reads state.json; a missing file is an empty state.
func loadState(dir string) (*persistedState, error) {
	path := filepath.Join(dir, stateFile)
	var st persistedState
	ok, err := readJSONFile(path, &st)
	if err != nil {
		return nil, err
	}
	if !ok {
		return &persistedState{Version: stateVersion}, nil
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("%s has version %d, want %d; delete it to start afresh (signed-in users will have to sign in again)", path, st.Version, stateVersion)
	}
	for _, s := range st.Sessions {
		if s == nil || s.ID == "" {
			return nil, fmt.Errorf("%s is corrupt (session without id); delete it to start afresh", path)
		}
	}
	for _, t := range st.AccessTokens {
		if t == nil || t.ID == "" {
			return nil, fmt.Errorf("%s is corrupt (access token without id); delete it to start afresh", path)
		}
	}
	for _, t := range st.RefreshTokens {
		if t == nil || t.Hash == "" {
			return nil, fmt.Errorf("%s is corrupt (refresh token without hash); delete it to start afresh", path)
		}
	}
	return &st, nil
}
