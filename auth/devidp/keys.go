package devidp

import (
	"bytes"
	"crypto"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"
)

const (
	signingKeyFile = "signing-key.pem"
	rsaKeyBits     = 2048
)

// signingKey is the provider's RS256 key. It implements op.SigningKey; its public half is served
// as an op.Key through publicKey.
type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

var (
	_ op.SigningKey = (*signingKey)(nil)
	_ op.Key        = publicKey{}
)

// SignatureAlgorithm implements op.SigningKey.
func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }

// Key implements op.SigningKey.
func (k *signingKey) Key() any { return k.key }

// ID implements op.SigningKey.
func (k *signingKey) ID() string { return k.id }

// publicKey is the public half of a signingKey, as published in the JWKS.
type publicKey struct{ k *signingKey }

// ID implements op.Key.
func (p publicKey) ID() string { return p.k.id }

// Algorithm implements op.Key.
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }

// Use implements op.Key.
func (p publicKey) Use() string { return "sig" }

// Key implements op.Key.
func (p publicKey) Key() any { return &p.k.key.PublicKey }

// loadOrCreateSigningKey reads dir/signing-key.pem, or creates it if it does not exist. A file
// that exists but cannot be used is an error naming the file; it is never overwritten.
func loadOrCreateSigningKey(dir string) (*signingKey, bool, error) {
	path := filepath.Join(dir, signingKeyFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		key, err := parseSigningKey(data)
		if err != nil {
			return nil, false, fmt.Errorf("load signing key: %s is unusable (%v); delete the file to have a new key generated (tokens signed with the old key will then no longer verify)", path, err)
		}
		return key, false, nil
	case errors.Is(err, fs.ErrNotExist):
		key, err := createSigningKey(path)
		return key, true, err
	default:
		return nil, false, fmt.Errorf("read signing key: %w", err)
	}
}

func parseSigningKey(data []byte) (*signingKey, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("unexpected data after the PEM block")
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("PEM block is %q, want \"PRIVATE KEY\" (PKCS #8)", block.Type)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a PKCS #8 private key: %w", err)
	}
	rsaKey, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is a %T, want an RSA key", parsed)
	}
	if rsaKey.N.BitLen() < rsaKeyBits {
		return nil, fmt.Errorf("RSA key has %d bits, want at least %d", rsaKey.N.BitLen(), rsaKeyBits)
	}
	return newSigningKey(rsaKey)
}

func createSigningKey(path string) (*signingKey, error) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, rsaKeyBits)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	if err != nil {
		return nil, fmt.Errorf("encode signing key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	// O_EXCL: never replace a key another process created in the meantime.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create signing key: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, fmt.Errorf("write signing key %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, fmt.Errorf("write signing key %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("write signing key %s: %w", path, err)
	}
	return newSigningKey(rsaKey)
}

// newSigningKey wraps an RSA key; its key ID is the RFC 7638 JWK thumbprint of the public key, so
// it is the same on every start.
func newSigningKey(key *rsa.PrivateKey) (*signingKey, error) {
	jwk := jose.JSONWebKey{Key: &key.PublicKey}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("compute key ID: %w", err)
	}
	return &signingKey{id: base64.RawURLEncoding.EncodeToString(thumb), key: key}, nil
}

// tokenEncryptionKey derives the AES-256 key the library uses to encrypt opaque access tokens and
// authorization codes, so they stay readable after a restart without another secret file.
func tokenEncryptionKey(k *signingKey) ([32]byte, error) {
	var out [32]byte
	der, err := x509.MarshalPKCS8PrivateKey(k.key)
	if err != nil {
		return out, fmt.Errorf("encode signing key: %w", err)
	}
	derived, err := hkdf.Key(sha256.New, der, nil, "hxoidc devidp opaque token encryption v1", len(out))
	if err != nil {
		return out, fmt.Errorf("derive token encryption key: %w", err)
	}
	copy(out[:], derived)
	return out, nil
}
