// Package assets serves Chatzilla's static files (CSS, and the htmx scripts
// that `make assets` copies from node_modules) from the binary itself.
//
// Every URL carries a hash of the file's content, so browsers may cache a file
// for a year: a new build with a changed file has a new URL.
package assets

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
)

// The vendor folder is git-ignored and filled by `make assets` from npm; the
// embed pattern names only "static" so a build without it still compiles.
//
//go:embed static
var static embed.FS

// Files the pages refer to by name.
const (
	Stylesheet = "app.css"
	Script     = "chat.js"
	Icon       = "favicon.svg"
	HTMX       = "vendor/htmx.min.js"
	HTMXSSE    = "vendor/hx-sse.min.js"
)

// Prefix is where the assets are served.
const Prefix = "/assets/"

// Assets is a set of files with content hashes.
type Assets struct {
	files  fs.FS
	hashes map[string]string // file name under static/ -> short content hash
}

// Embedded returns the files built into the binary.
func Embedded() (*Assets, error) {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		return nil, fmt.Errorf("assets: %w", err)
	}
	return New(sub)
}

// New hashes every file of files.
func New(files fs.FS) (*Assets, error) {
	a := &Assets{files: files, hashes: make(map[string]string)}
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		a.hashes[name] = hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("assets: hashing: %w", err)
	}
	return a, nil
}

// Has reports whether the named file is present. The htmx scripts are absent
// from a build made without `make assets`; pages then work as plain forms.
func (a *Assets) Has(name string) bool {
	_, ok := a.hashes[name]
	return ok
}

// URL is the versioned address of the named file, or "" if it is absent.
func (a *Assets) URL(name string) string {
	h, ok := a.hashes[name]
	if !ok {
		return ""
	}
	return Prefix + name + "?v=" + h
}

// Handler serves the files under Prefix. A request that names the current
// version may be cached for a year; any other is revalidated, so a stale
// page never pins an old file.
func (a *Assets) Handler() http.Handler {
	files := http.StripPrefix(Prefix, http.FileServerFS(a.files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, Prefix)
		h, ok := a.hashes[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Get("v") == h {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}
