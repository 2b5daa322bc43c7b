package dashboard

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestHandlerServesEmbeddedFiles serves the page, its script and style
// and the state document from the embedded files, and nothing else.
func TestHandlerServesEmbeddedFiles(t *testing.T) {
	want := State{Now: time.Unix(1, 0).UTC(), Config: Config{Version: "v1"}, Store: "local", Clients: []Client{{Name: "partner-x", Limit: 20}}}
	srv := httptest.NewServer(Handler(func(*http.Request) State { return want }))
	defer srv.Close()
	for path, ctype := range map[string]string{
		"/ui/": "text/html", "/ui/app.js": "javascript", "/ui/style.css": "text/css", "/ui/state.json": "application/json",
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), ctype) || len(body) == 0 {
			t.Errorf("GET %s: %d %q, %d bytes", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		if path == "/ui/state.json" {
			var got State
			if err := json.Unmarshal(body, &got); err != nil || got.Config.Version != "v1" || len(got.Clients) != 1 {
				t.Errorf("state.json: %v %+v", err, got)
			}
		}
	}
	for _, path := range []string{"/ui/missing.js", "/ui/../dashboard.go", "/ui/assets/app.js"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
}

// TestAssetsFetchNothingOutside: the page works without the internet (no
// CDN, no external font or script).
func TestAssetsFetchNothingOutside(t *testing.T) {
	fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := assets.ReadFile(p)
		for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s refers to %q", p, bad)
			}
		}
		return nil
	})
}
