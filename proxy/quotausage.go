package proxy

import (
	"context"
	"net/http"

	"tollgate/limiter"
)

// Quotas is the quota state the admin listener reads and resets: the
// quota usage API (GET /clients, GET /clients/{id}, POST
// /clients/{id}/reset) and the dashboard. *limiter.Limiter implements it.
type Quotas interface {
	// Overview returns every named client's usage and the default quota.
	Overview(ctx context.Context, o limiter.UsageOptions) limiter.Overview
	// Client returns one caller's usage; false when it is neither named
	// nor tracked.
	Client(ctx context.Context, id string, o limiter.UsageOptions) (limiter.ClientUsage, bool)
	// Reset refills one caller's buckets and returns how many.
	Reset(ctx context.Context, id string) (int, error)
	// StoreStatus is "local", "redis" or "redis-down".
	StoreStatus() string
	// Instances is the number of gateways sharing the store.
	Instances() int
}

// maxClientID bounds the id accepted in /clients/{id}.
const maxClientID = 512

// clientReply is GET /clients/{id}: the store beside the caller's usage.
type clientReply struct {
	Store     string `json:"store"`
	Instances int    `json:"instances"`
	limiter.ClientUsage
}

// handleClients serves GET /clients: every named client's usage (with the
// Redis store, the shared buckets read now) and the default quota.
func (g *Gateway) handleClients(w http.ResponseWriter, r *http.Request) {
	q := g.opts.Quotas
	if q == nil {
		writeJSON(w, http.StatusOK, limiter.Overview{Store: "none", Clients: []limiter.ClientUsage{}})
		return
	}
	writeJSON(w, http.StatusOK, q.Overview(r.Context(), limiter.UsageOptions{Global: true}))
}

// handleClient serves GET /clients/{id}: a named client, or an unlisted
// client id or address that currently holds a bucket.
func (g *Gateway) handleClient(w http.ResponseWriter, r *http.Request) {
	id, ok := clientID(w, r)
	if !ok {
		return
	}
	q := g.opts.Quotas
	if q == nil {
		unknownClient(w, id)
		return
	}
	cu, found := q.Client(r.Context(), id, limiter.UsageOptions{Global: true})
	if !found {
		unknownClient(w, id)
		return
	}
	writeJSON(w, http.StatusOK, clientReply{Store: q.StoreStatus(), Instances: q.Instances(), ClientUsage: cu})
}

// handleClientReset serves POST /clients/{id}/reset: the caller's buckets
// are full again (see limiter.Limiter.Reset). Logged, as every change an
// operator makes.
func (g *Gateway) handleClientReset(w http.ResponseWriter, r *http.Request) {
	id, ok := clientID(w, r)
	if !ok {
		return
	}
	if g.opts.Quotas == nil {
		unknownClient(w, id)
		return
	}
	n, err := g.opts.Quotas.Reset(r.Context(), id)
	switch {
	case err != nil:
		g.log.Error("quota reset incomplete", "client", id, "buckets", n, "remote", r.RemoteAddr, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "store_unavailable", "message": err.Error(), "client": id, "reset": n})
	case n == 0:
		unknownClient(w, id)
	default:
		g.log.Info("quota reset", "client", id, "buckets", n, "remote", r.RemoteAddr)
		writeJSON(w, http.StatusOK, map[string]any{"client": id, "reset": n})
	}
}

// clientID returns the {id} of a /clients path, answering 400 for one
// that is too long.
func clientID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if id == "" || len(id) > maxClientID {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad_request", "message": "client id must be 1 to 512 bytes"})
		return "", false
	}
	return id, true
}

// unknownClient answers 404 for a caller the quotas do not know.
func unknownClient(w http.ResponseWriter, id string) {
	writeJSON(w, http.StatusNotFound, map[string]string{
		"error":   "unknown_client",
		"message": "not a client named in clients: and not a caller holding a bucket now (an untracked caller's bucket is full)",
		"client":  id,
	})
}
