package conf

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// routes decodes the route list. Every item yields a Route, even a broken
// one, so that routes[i] means the same item in decoding and validation.
func (d *decoder) routes(n *yaml.Node, path string, dst *[]Route) {
	d.seq(n, path, func(item *yaml.Node, line int, p string) {
		r := defaultRoute()
		r.Line = line
		if isNull(item) {
			d.fail(line, p, "expected a mapping, got null")
		}
		d.route(item, p, &r)
		*dst = append(*dst, r)
	})
}

// route decodes one route on top of its defaults.
func (d *decoder) route(n *yaml.Node, path string, r *Route) {
	d.mapping(n, path, fields{
		"name":         d.str(&r.Name),
		"match":        func(n *yaml.Node, p string) { d.match(n, p, &r.Match) },
		"upstream":     d.str(&r.Upstream),
		"strip_prefix": d.str(&r.StripPrefix),
		"host_rewrite": d.str(&r.HostRewrite),
		"auth":         d.strList(&r.Auth),
		"scopes":       d.strList(&r.Scopes),
		"limit":        d.flagField(&r.Limit),
		"cost":         d.integerField(&r.Cost),
		"cost_header":  d.str(&r.CostHeader),
		"timeout":      d.durationField(&r.Timeout),
		"plugins":      func(n *yaml.Node, p string) { r.Plugins = d.plugins(n, p) },
		"allow_cidrs":  d.prefixList(&r.AllowCIDRs),
		"deny_cidrs":   d.prefixList(&r.DenyCIDRs),
	})
}

// match decodes a route's match block. Host names are case-insensitive,
// so the host is stored lower-case.
func (d *decoder) match(n *yaml.Node, path string, m *Match) {
	d.mapping(n, path, fields{
		"host":        d.str(&m.Host),
		"path":        d.str(&m.Path),
		"path_prefix": d.str(&m.PathPrefix),
		"methods":     d.strList(&m.Methods),
		"headers":     d.strMap(&m.Headers),
	})
	m.Host = strings.ToLower(m.Host)
}

// plugins decodes a route's plugin list: each item is a mapping with a
// single key naming the plugin. A broken item stays in the list as an
// empty Plugin so that indexes match in validation; the config is refused
// anyway.
func (d *decoder) plugins(n *yaml.Node, path string) []Plugin {
	out := []Plugin{}
	d.seq(n, path, func(item *yaml.Node, line int, p string) {
		if d.schema != nil {
			d.mapping(item, p, d.pluginKinds(&Plugin{}))
			return
		}
		if item.Kind != yaml.MappingNode || len(item.Content) != 2 {
			d.fail(line, p, "expected a mapping with a single key (request_id, headers or cors), got %s", describeEntry(item))
			out = append(out, Plugin{})
			return
		}
		var pl Plugin
		d.pairs(item, p, func(k, v *yaml.Node, p string) { pl = d.plugin(k, v, p) })
		out = append(out, pl)
	})
	return out
}

// describeEntry describes a node for the plugin-entry message, counting a
// mapping's keys.
func describeEntry(n *yaml.Node) string {
	if n.Kind == yaml.MappingNode {
		if len(n.Content) == 0 {
			return "an empty mapping"
		}
		return "a mapping with several keys"
	}
	return describe(n)
}

// plugin decodes one plugin by name; a null body means all defaults.
func (d *decoder) plugin(k, v *yaml.Node, path string) Plugin {
	var pl Plugin
	kind, ok := d.pluginKinds(&pl)[k.Value]
	if !ok {
		d.fail(k.Line, path, "unknown plugin (want request_id, headers or cors)")
		return Plugin{}
	}
	kind(v, path)
	return pl
}

// pluginKinds maps each plugin name to the decoder of its body, which
// sets the matching field of pl. It is the one list of plugin names, so
// the schema walk (schema.go) sees every plugin's keys.
func (d *decoder) pluginKinds(pl *Plugin) fields {
	return fields{
		"request_id": func(v *yaml.Node, p string) {
			pl.RequestID = defaultRequestID()
			d.mapping(v, p, fields{"header": d.str(&pl.RequestID.Header)})
		},
		"headers": func(v *yaml.Node, p string) {
			h := defaultHeadersPlugin()
			d.mapping(v, p, fields{
				"request_set":     d.strMap(&h.RequestSet),
				"request_remove":  d.strList(&h.RequestRemove),
				"response_set":    d.strMap(&h.ResponseSet),
				"response_remove": d.strList(&h.ResponseRemove),
			})
			pl.Headers = h
		},
		"cors": func(v *yaml.Node, p string) { pl.CORS = d.cors(v, p) },
	}
}

// cors decodes a cors plugin body.
func (d *decoder) cors(n *yaml.Node, path string) *CORSPlugin {
	c := defaultCORS()
	d.mapping(n, path, fields{
		"allowed_origins":   d.strList(&c.AllowedOrigins),
		"allowed_methods":   d.strList(&c.AllowedMethods),
		"allowed_headers":   d.strList(&c.AllowedHeaders),
		"exposed_headers":   d.strList(&c.ExposedHeaders),
		"allow_credentials": d.flagField(&c.AllowCredentials),
		"max_age":           d.durationField(&c.MaxAge),
	})
	return c
}
