package demokit

import (
	"encoding/json"
	"io"
	"net/http"
	"sync/atomic"
)

// Origin is an example upstream. GET /healthz answers 200 while it is
// healthy; POST /_origin/fail makes it answer 500 to everything (health
// checks included) and POST /_origin/recover undoes that. Any other request
// is answered with an Answer in JSON.
type Origin struct {
	name    string
	failing atomic.Bool
}

// Answer is what an Origin tells the client about the request it got.
type Answer struct {
	Origin    string `json:"origin"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	ClientID  string `json:"client_id,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	Error     string `json:"error,omitempty"`
}

// NewOrigin returns a healthy origin called name.
func NewOrigin(name string) *Origin { return &Origin{name: name} }

// Failing reports whether the origin answers 500.
func (o *Origin) Failing() bool { return o.failing.Load() }

// ServeHTTP answers one request.
func (o *Origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/_origin/fail":
		o.failing.Store(true)
	case r.Method == http.MethodPost && r.URL.Path == "/_origin/recover":
		o.failing.Store(false)
	}
	a := Answer{
		Origin: o.name, Method: r.Method, Path: r.URL.RequestURI(),
		ClientID: r.Header.Get("X-Client-Id"), RequestID: r.Header.Get("X-Request-Id"),
	}
	status := http.StatusOK
	if o.failing.Load() {
		status, a.Error = http.StatusInternalServerError, "failing on purpose (POST /_origin/recover to heal)"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Origin", o.name)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(a)
}
