package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// devSecretFile is where a development run keeps its session secret when
// SESSION_SECRET is not set: in the working directory (the repository, for
// `make run`), git-ignored.
const devSecretFile = ".chatzilla/session-secret"

// devSessionSecret returns the secret kept at path, making it first if there
// is none, so that restarting a development server keeps everyone joined.
// The file is the owner's alone (0600): whoever reads it can forge cookies.
func devSessionSecret(path string) (secret string, created bool, err error) {
	if secret, err := readSecret(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return secret, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", false, fmt.Errorf("SESSION_SECRET_FILE: %w", err)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	// Written whole to a file of its own, then linked into place, which
	// fails if another process got there first: nobody ever reads half a
	// secret, and two servers started together share one.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".session-secret-*")
	if err != nil {
		return "", false, fmt.Errorf("SESSION_SECRET_FILE: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(hex.EncodeToString(b) + "\n")
	if err := errors.Join(werr, tmp.Chmod(0o600), tmp.Sync(), tmp.Close()); err != nil {
		return "", false, fmt.Errorf("SESSION_SECRET_FILE: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", false, fmt.Errorf("SESSION_SECRET_FILE: %w", err)
	} else if err != nil {
		secret, err := readSecret(path)
		return secret, false, err
	}
	return hex.EncodeToString(b), true, nil
}

func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("SESSION_SECRET_FILE: %w", err)
	}
	secret := strings.TrimSpace(string(b))
	if len(secret) < minSecretLength {
		return "", fmt.Errorf("SESSION_SECRET_FILE: %s holds a secret shorter than %d characters: delete it to make a new one", path, minSecretLength)
	}
	return secret, nil
}
