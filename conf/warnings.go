package conf

import (
	"slices"
	"sort"
)

// Warnings lists what a valid config allows but what is most likely a
// mistake: no routes at all (every request is answered 404), and named
// clients that no route can ever identify, so their quotas never apply
// (no route meters an authenticated caller, or the only way in is an API
// key and none maps to the client). `tollgate -check` prints them and
// still exits 0; they are never errors, since a config may be rolled out
// in steps. Warnings are sorted by key path.
func Warnings(c *Config) ErrorList {
	var out ErrorList
	add := func(path, msg string) {
		out = append(out, &Error{File: c.Path, Path: path, Msg: msg})
	}
	if len(c.Routes) == 0 {
		add("routes", "no routes: every request will be answered 404 no_route")
	}
	byToken, apiKeyClients := identifyingRoutes(c)
	names := make([]string, 0, len(c.Clients.Named))
	for name := range c.Clients.Named {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if byToken || slices.Contains(apiKeyClients, name) {
			continue
		}
		add("clients."+name, "no route can identify this client, so its quota never applies "+
			"(it needs a metered route with auth: [jwt] or [introspection], or an api_keys entry with client_id: "+name+
			" on a metered route with auth: [api_key])")
	}
	return out
}

// identifyingRoutes reports whether some metered route accepts bearer
// tokens (whose claims may name any client), and which client ids API
// keys give on metered routes that accept them.
func identifyingRoutes(c *Config) (byToken bool, apiKeyClients []string) {
	apiKeys := false
	for _, r := range c.Routes {
		if !r.Limit {
			continue
		}
		for _, m := range r.Auth {
			switch m {
			case AuthJWT, AuthIntrospection:
				byToken = true
			case AuthAPIKey:
				apiKeys = true
			}
		}
	}
	if apiKeys && c.Auth.APIKeys != nil {
		for _, k := range c.Auth.APIKeys.Keys {
			apiKeyClients = append(apiKeyClients, k.ClientID)
		}
	}
	return byToken, apiKeyClients
}
