package proxy

import (
	"time"

	"tollgate/conf"
)

// ReloadRecord is the outcome of a reload (SIGHUP or POST /reload), kept
// for the dashboard: when, whether it applied, the version it applied,
// and every error when it did not.
type ReloadRecord struct {
	At      time.Time
	OK      bool
	Version string   // the applied version; "" when the reload failed
	Errors  []string // one per config error; nil when it applied
}

// noteReload records a reload's outcome: cfg applied, or err.
func (g *Gateway) noteReload(cfg *conf.Config, err error) {
	rec := &ReloadRecord{At: time.Now(), OK: err == nil}
	if err != nil {
		rec.Errors = errorLines(err)
	} else {
		rec.Version = cfg.Version
	}
	g.lastReload.Store(rec)
}

// LastReload returns the outcome of the last reload, nil before the first.
func (g *Gateway) LastReload() *ReloadRecord { return g.lastReload.Load() }
