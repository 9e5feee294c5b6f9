package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed static/*
var staticFS embed.FS

// assets are the console's static files, each served under a name holding a
// hash of its content (console.1a2b3c4d5e.css), so a name never changes
// meaning and browsers may keep it for a year.
type assets struct {
	byHashed map[string][]byte
	hashed   map[string]string // plain name -> hashed name
}

func loadAssets() *assets {
	a := &assets{byHashed: map[string][]byte{}, hashed: map[string]string{}}
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		b, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		ext := path.Ext(e.Name())
		h := strings.TrimSuffix(e.Name(), ext) + "." + hex.EncodeToString(sum[:5]) + ext
		a.byHashed[h], a.hashed[e.Name()] = b, h
	}
	return a
}

// path is the URL of a static file by its plain name ("console.css").
func (a *assets) path(name string) string {
	h, ok := a.hashed[name]
	if !ok {
		panic("console: no static file " + name)
	}
	return Prefix + "/static/" + h
}

func (a *assets) serve(w http.ResponseWriter, r *http.Request) {
	b, ok := a.byHashed[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	ct := mime.TypeByExtension(path.Ext(r.PathValue("name")))
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	_, _ = w.Write(b)
}
