package plugins

import "tollgate/conf"

// Factory builds the filter for one routes[].plugins entry. deps carries
// what a plugin may need from the gateway (today only Metrics).
type Factory func(p conf.Plugin, deps Deps) (Filter, error)

// Factories returns the registry of configurable plugins, keyed by the name
// used in the config file (conf.Plugin.Name). It builds a new map on every
// call, so callers may extend their copy without affecting anyone else.
func Factories() map[string]Factory {
	return map[string]Factory{
		"request_id": func(p conf.Plugin, _ Deps) (Filter, error) { return NewRequestID(p.RequestID) },
		"headers":    func(p conf.Plugin, _ Deps) (Filter, error) { return NewHeaders(p.Headers) },
		"cors":       func(p conf.Plugin, _ Deps) (Filter, error) { return NewCORS(p.CORS) },
	}
}
