package conf

import (
	"gopkg.in/yaml.v3"
)

// upstreams decodes the upstreams block, keeping the names in file order.
func (d *decoder) upstreams(n *yaml.Node, path string, c *Config) {
	d.pairs(n, path, func(k, v *yaml.Node, p string) {
		u := defaultUpstream(k.Value)
		d.upstream(v, p, u)
		c.Upstreams[k.Value] = u
		c.UpstreamOrder = append(c.UpstreamOrder, k.Value)
	})
}

// upstream decodes one upstream on top of its defaults.
func (d *decoder) upstream(n *yaml.Node, path string, u *Upstream) {
	d.mapping(n, path, fields{
		"targets":  func(n *yaml.Node, p string) { u.Targets = d.targets(n, p) },
		"balance":  d.str(&u.Balance),
		"protocol": d.str(&u.Protocol),
		"pool": func(n *yaml.Node, p string) {
			d.mapping(n, p, fields{
				"max_conns_per_target": d.integerField(&u.Pool.MaxConnsPerTarget),
				"max_idle_per_target":  d.integerField(&u.Pool.MaxIdlePerTarget),
				"idle_timeout":         d.durationField(&u.Pool.IdleTimeout),
				"max_conns_share":      d.numberField(&u.Pool.MaxConnsShare),
			})
		},
		"timeouts": func(n *yaml.Node, p string) {
			d.mapping(n, p, fields{
				"connect":         d.durationField(&u.Timeouts.Connect),
				"response_header": d.durationField(&u.Timeouts.ResponseHeader),
			})
		},
		"retries": func(n *yaml.Node, p string) {
			d.mapping(n, p, fields{"attempts": d.integerField(&u.Retries.Attempts), "on": d.strList(&u.Retries.On)})
		},
		"health_check": func(n *yaml.Node, p string) { u.HealthCheck = d.healthCheck(n, p) },
		"breaker":      func(n *yaml.Node, p string) { u.Breaker = d.breaker(n, p) },
		"tls": func(n *yaml.Node, p string) {
			u.TLS = &UpstreamTLS{}
			d.mapping(n, p, fields{
				"ca_file":              d.file(&u.TLS.CAFile),
				"server_name":          d.str(&u.TLS.ServerName),
				"client_cert_file":     d.file(&u.TLS.ClientCertFile),
				"client_key_file":      d.file(&u.TLS.ClientKeyFile),
				"insecure_skip_verify": d.flagField(&u.TLS.InsecureSkipVerify),
			})
		},
	})
}

// targets decodes the target list: each item is "host:port" or
// {addr, weight}.
func (d *decoder) targets(n *yaml.Node, path string) []Target {
	out := []Target{}
	d.seq(n, path, func(item *yaml.Node, _ int, p string) {
		t := defaultTarget()
		switch {
		case item.Kind == yaml.MappingNode:
			d.mapping(item, p, fields{"addr": d.str(&t.Addr), "weight": d.integerField(&t.Weight)})
		case item.Kind == yaml.ScalarNode && !isNull(item):
			d.str(&t.Addr)(item, p)
		default:
			d.fail(item.Line, p, `expected "host:port" or {addr, weight}, got %s`, describe(item))
		}
		out = append(out, t)
	})
	return out
}

// healthCheck decodes a health_check block; its presence turns checks on.
func (d *decoder) healthCheck(n *yaml.Node, path string) *HealthCheck {
	h := defaultHealthCheck()
	d.mapping(n, path, fields{
		"path":            d.str(&h.Path),
		"interval":        d.durationField(&h.Interval),
		"timeout":         d.durationField(&h.Timeout),
		"unhealthy_after": d.integerField(&h.UnhealthyAfter),
		"healthy_after":   d.integerField(&h.HealthyAfter),
	})
	return h
}

// breaker decodes a breaker block; its presence turns breakers on.
func (d *decoder) breaker(n *yaml.Node, path string) *Breaker {
	b := defaultBreaker()
	d.mapping(n, path, fields{
		"min_requests":         d.countField(&b.MinRequests),
		"failure_ratio":        d.numberField(&b.FailureRatio),
		"consecutive_failures": d.countField(&b.ConsecutiveFailures),
		"interval":             d.durationField(&b.Interval),
		"open_for":             d.durationField(&b.OpenFor),
		"half_open_requests":   d.countField(&b.HalfOpenRequests),
		"failure_on":           d.strList(&b.FailureOn),
	})
	return b
}
