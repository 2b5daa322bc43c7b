package conf

import (
	"gopkg.in/yaml.v3"
)

// config decodes the document's root mapping (nil for an empty file) on
// top of the defaults.
func (d *decoder) config(root *yaml.Node) *Config {
	c := defaultConfig()
	d.mapping(root, "", fields{
		"server":    func(n *yaml.Node, p string) { d.server(n, p, &c.Server) },
		"admin":     func(n *yaml.Node, p string) { d.admin(n, p, &c.Admin) },
		"upstreams": func(n *yaml.Node, p string) { d.upstreams(n, p, &c) },
		"auth":      func(n *yaml.Node, p string) { d.auth(n, p, &c.Auth) },
		"clients":   func(n *yaml.Node, p string) { d.clients(n, p, &c.Clients) },
		"plans":     func(n *yaml.Node, p string) { d.plans(n, p, c.Plans) },
		"limits":    func(n *yaml.Node, p string) { d.limits(n, p, &c.Limits) },
		"routes":    func(n *yaml.Node, p string) { d.routes(n, p, &c.Routes) },
		"tracing":   func(n *yaml.Node, p string) { c.Tracing = d.tracing(n, p) },
	})
	return &c
}

// admin decodes the admin block.
func (d *decoder) admin(n *yaml.Node, path string, a *Admin) {
	d.mapping(n, path, fields{
		"listen":     d.str(&a.Listen),
		"token_file": d.file(&a.TokenFile),
		"token_env":  d.str(&a.TokenEnv),
	})
}

// server decodes the server block.
func (d *decoder) server(n *yaml.Node, path string, s *Server) {
	d.mapping(n, path, fields{
		"listen":              d.str(&s.Listen),
		"accept_loops":        d.integerField(&s.AcceptLoops),
		"read_header_timeout": d.durationField(&s.ReadHeaderTimeout),
		"idle_timeout":        d.durationField(&s.IdleTimeout),
		"max_header_bytes":    d.integerField(&s.MaxHeaderBytes),
		"max_body_bytes":      d.integer64Field(&s.MaxBodyBytes),
		"shutdown_timeout":    d.durationField(&s.ShutdownTimeout),
		"trusted_proxies":     d.prefixList(&s.TrustedProxies),
		"access_log":          d.flagField(&s.AccessLog),
		"buffers": func(n *yaml.Node, p string) {
			d.mapping(n, p, fields{
				"request_body":  d.integer64Field(&s.Buffers.RequestBody),
				"response_body": d.integer64Field(&s.Buffers.ResponseBody),
				"max_total":     d.integer64Field(&s.Buffers.MaxTotal),
			})
		},
		"http2": func(n *yaml.Node, p string) {
			d.mapping(n, p, fields{
				"enabled":                d.flagField(&s.HTTP2.Enabled),
				"max_concurrent_streams": d.integerField(&s.HTTP2.MaxConcurrentStreams),
			})
		},
		"tls": func(n *yaml.Node, p string) {
			d.mapping(n, p, fields{
				"cert_file":   d.file(&s.TLS.CertFile),
				"key_file":    d.file(&s.TLS.KeyFile),
				"client_ca":   d.file(&s.TLS.ClientCA),
				"client_auth": d.str(&s.TLS.ClientAuth),
				"crl_file":    d.file(&s.TLS.CRLFile),
			})
			if s.TLS.ClientCA != "" && s.TLS.ClientAuth == "" {
				s.TLS.ClientAuth = ClientAuthRequest
			}
		},
	})
}

// clients decodes the clients block: the key "default" is the quota of
// every caller not named, any other key names a client.
func (d *decoder) clients(n *yaml.Node, path string, cs *Clients) {
	d.pairs(n, path, func(k, v *yaml.Node, p string) {
		q := d.quota(v, p)
		if k.Value == "default" {
			cs.Default = *q
			return
		}
		cs.Named[k.Value] = q
	})
}

// plans decodes the plans block: each key names a plan.
func (d *decoder) plans(n *yaml.Node, path string, ps map[string]*Quota) {
	d.pairs(n, path, func(k, v *yaml.Node, p string) {
		ps[k.Value] = d.quotaOf(v, p, true)
	})
}

// quota decodes one client's quota.
func (d *decoder) quota(n *yaml.Node, path string) *Quota { return d.quotaOf(n, path, false) }

// quotaOf decodes a client's quota (which may name a plan) or a plan's
// (which may be shared). The keys present are kept for plan merging.
func (d *decoder) quotaOf(n *yaml.Node, path string, plan bool) *Quota {
	q := defaultQuota()
	fs := fields{
		"rate":            d.rateField(&q.Rate),
		"burst":           d.integerField(&q.Burst),
		"concurrency":     d.integerField(&q.Concurrency),
		"max_conns_share": d.numberField(&q.MaxConnsShare),
		"mode":            d.str(&q.Mode),
		"routes":          func(n *yaml.Node, p string) { q.Routes = d.routeQuotas(n, p) },
		"quota":           func(n *yaml.Node, p string) { q.Quota = d.periodQuota(n, p) },
	}
	if plan {
		fs["shared"] = d.flagField(&q.Shared)
	} else {
		fs["plan"] = d.str(&q.Plan)
		fs["allow_cidrs"] = d.prefixList(&q.AllowCIDRs) // a client's own addresses, not a plan's
		fs["deny_cidrs"] = d.prefixList(&q.DenyCIDRs)
	}
	q.set = d.mapping(n, path, fs)
	if !q.set["burst"] {
		q.Burst = defaultBurst(q.Rate)
	}
	return q
}

// periodQuota decodes a quota: {limit, period} block; validation reports
// a missing key.
func (d *decoder) periodQuota(n *yaml.Node, path string) *PeriodQuota {
	pq := &PeriodQuota{}
	d.mapping(n, path, fields{"limit": d.integer64Field(&pq.Limit), "period": d.str(&pq.Period)})
	return pq
}

// routeQuotas decodes a client's per-route overrides, keyed by route name.
func (d *decoder) routeQuotas(n *yaml.Node, path string) map[string]RouteQuota {
	out := map[string]RouteQuota{}
	d.pairs(n, path, func(k, v *yaml.Node, p string) {
		var rq RouteQuota
		present := d.mapping(v, p, fields{
			"rate": d.rateField(&rq.Rate), "burst": d.integerField(&rq.Burst),
			"quota": func(n *yaml.Node, p string) { rq.Quota = d.periodQuota(n, p) },
		})
		if !present["burst"] {
			rq.Burst = defaultBurst(rq.Rate)
		}
		out[k.Value] = rq
	})
	return out
}

// limits decodes the limits block.
func (d *decoder) limits(n *yaml.Node, path string, l *Limits) {
	d.mapping(n, path, fields{
		"store": d.str(&l.Store),
		"redis": func(n *yaml.Node, p string) {
			d.mapping(n, p, fields{
				"addrs":         d.strList(&l.Redis.Addrs),
				"username":      d.str(&l.Redis.Username),
				"password_env":  d.str(&l.Redis.PasswordEnv),
				"sync_interval": d.durationField(&l.Redis.SyncInterval),
				"on_failure":    d.str(&l.Redis.OnFailure),
				"sentinel":      func(n *yaml.Node, p string) { l.Redis.Sentinel = d.sentinel(n, p) },
				"tls":           func(n *yaml.Node, p string) { l.Redis.TLS = d.redisTLS(n, p) },
			})
		},
		"adaptive": func(n *yaml.Node, p string) {
			d.mapping(n, p, fields{
				"enabled":        d.flagField(&l.Adaptive.Enabled),
				"target_latency": d.durationField(&l.Adaptive.TargetLatency),
				"min_factor":     d.numberField(&l.Adaptive.MinFactor),
			})
		},
		"headers":          d.str(&l.Headers),
		"max_tracked_keys": d.integerField(&l.MaxTrackedKeys),
		"max_cost":         d.integerField(&l.MaxCost),
		"time_zone":        d.str(&l.TimeZone),
	})
}

// tracing decodes the tracing block; its presence turns tracing on.
func (d *decoder) tracing(n *yaml.Node, path string) *Tracing {
	t := defaultTracing()
	d.mapping(n, path, fields{
		"endpoint":     d.str(&t.Endpoint),
		"protocol":     d.str(&t.Protocol),
		"sample_ratio": d.numberField(&t.SampleRatio),
		"service_name": d.str(&t.ServiceName),
	})
	return t
}

// sentinel decodes limits.redis.sentinel.
func (d *decoder) sentinel(n *yaml.Node, path string) *Sentinel {
	s := &Sentinel{Addrs: []string{}}
	d.mapping(n, path, fields{
		"master_name":  d.str(&s.MasterName),
		"addrs":        d.strList(&s.Addrs),
		"username":     d.str(&s.Username),
		"password_env": d.str(&s.PasswordEnv),
	})
	return s
}

// redisTLS decodes limits.redis.tls; file paths resolve against the
// config directory.
func (d *decoder) redisTLS(n *yaml.Node, path string) *RedisTLS {
	t := &RedisTLS{}
	d.mapping(n, path, fields{
		"ca_file":     d.file(&t.CAFile),
		"cert_file":   d.file(&t.CertFile),
		"key_file":    d.file(&t.KeyFile),
		"server_name": d.str(&t.ServerName),
	})
	return t
}
