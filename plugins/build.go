package plugins

import (
	"fmt"

	"tollgate/conf"
)

// Deps are the gateway parts that Build wires into a route's chain. A nil
// Auth or Limit, or one that returns a nil Filter, means the route has no
// such step.
type Deps struct {
	// Auth builds the route's authentication filter.
	Auth func(*conf.Route) (Filter, error)
	// Limit builds the route's quota filter.
	Limit func(*conf.Route) (Filter, error)
	// Metrics is handed to plugin factories that count events.
	Metrics Metrics
	// ClientIPRules are the clients' allow_cidrs / deny_cidrs, checked
	// after auth; nil means no client has any.
	ClientIPRules *ClientIPRules
}

// Build returns the filter chain of route, in this order:
//
//  0. the route's IP rules (allow_cidrs / deny_cidrs): a refused address
//     costs nothing more, and gets 403 even for a preflight;
//  1. every cors plugin, in file order: browsers send preflights without
//     credentials, so they must be answered before auth (as Kong does), and
//     an allowed origin's headers then also decorate a 401 or 429 so the
//     page can read it;
//  2. the auth filter from deps.Auth;
//  3. the clients' IP rules, for the client auth found (or
//     clients.default's), then the limit filter from deps.Limit, so
//     quotas are keyed by the authenticated client;
//  4. every other plugin, in file order.
//
// Response hooks run in the reverse order. Errors name the route and the
// plugin's index and kind.
func Build(route *conf.Route, deps Deps) (Chain, error) {
	cors, rest, err := buildPlugins(route, deps)
	if err != nil {
		return nil, err
	}
	chain := make(Chain, 0, len(cors)+len(rest)+4)
	if f := NewRouteIPFilter(route, deps.Metrics); f != nil {
		chain = append(chain, f)
	}
	chain = append(chain, cors...)
	clientIP := func(*conf.Route) (Filter, error) { return NewClientIPFilter(deps.ClientIPRules, deps.Metrics), nil }
	for _, step := range []struct {
		name string
		fn   func(*conf.Route) (Filter, error)
	}{{"auth", deps.Auth}, {"client ip rules", clientIP}, {"limit", deps.Limit}} {
		if chain, err = appendDep(chain, route, step.name, step.fn); err != nil {
			return nil, err
		}
	}
	return append(chain, rest...), nil
}

// buildPlugins builds route's configured plugins, split into the cors
// filters and the others, each in file order.
func buildPlugins(route *conf.Route, deps Deps) (cors, rest Chain, err error) {
	factories := Factories()
	for i, p := range route.Plugins {
		name := p.Name()
		factory := factories[name]
		if name == "" {
			return nil, nil, fmt.Errorf("route %q: plugins[%d]: entry names no plugin", route.Name, i)
		}
		if factory == nil {
			return nil, nil, fmt.Errorf("route %q: plugins[%d]: unknown plugin %q", route.Name, i, name)
		}
		f, err := factory(p, deps)
		if err != nil {
			return nil, nil, fmt.Errorf("route %q: plugins[%d] (%s): %w", route.Name, i, name, err)
		}
		if name == "cors" {
			cors = append(cors, f)
		} else {
			rest = append(rest, f)
		}
	}
	return cors, rest, nil
}

// appendDep appends the filter built by fn, if any, to chain.
func appendDep(chain Chain, route *conf.Route, name string, fn func(*conf.Route) (Filter, error)) (Chain, error) {
	if fn == nil {
		return chain, nil
	}
	f, err := fn(route)
	if err != nil {
		return nil, fmt.Errorf("route %q: %s: %w", route.Name, name, err)
	}
	if f == nil {
		return chain, nil
	}
	return append(chain, f), nil
}
