package conf

import (
	"crypto/tls"
	"strconv"
)

// upstream checks one upstream.
func (v validator) upstream(path string, u *Upstream) {
	v.targets(path+".targets", u.Targets)
	if u.TLS != nil {
		v.upstreamTLS(path+".tls", u.TLS)
	}
	v.oneOf(path+".balance", u.Balance, BalanceRoundRobin, BalanceLeastConn, BalanceRandom, BalanceHash)
	v.protocol(path+".protocol", u)
	v.pool(path+".pool", u.Pool)
	v.positive(path+".timeouts.connect", u.Timeouts.Connect)
	v.positive(path+".timeouts.response_header", u.Timeouts.ResponseHeader)
	v.atLeast(path+".retries.attempts", u.Retries.Attempts, 0)
	if u.Retries.Attempts > MaxRetryAttempts {
		v.errorf(path+".retries.attempts", "must be at most %d, got %d", MaxRetryAttempts, u.Retries.Attempts)
	}
	for i, cond := range u.Retries.On {
		if !isRetryCondition(cond) {
			v.errorf(indexPath(path+".retries.on", i),
				`invalid value %q (want connect_failure, timeout, reset or a 5xx status such as "502")`, cond)
		}
	}
	if u.HealthCheck != nil {
		v.healthCheck(path+".health_check", u.HealthCheck)
	}
	if u.Breaker != nil {
		v.breaker(path+".breaker", u.Breaker)
	}
}

// protocol checks upstreams.NAME.protocol: h2 runs over the tls block,
// h2c is cleartext.
func (v validator) protocol(path string, u *Upstream) {
	if !v.oneOf(path, u.Protocol, ProtocolHTTP1, ProtocolH2C, ProtocolH2) {
		return
	}
	switch {
	case u.Protocol == ProtocolH2 && u.TLS == nil:
		v.errorf(path, "h2 needs a tls block (HTTP/2 over TLS); use h2c for HTTP/2 in cleartext")
	case u.Protocol == ProtocolH2C && u.TLS != nil:
		v.errorf(path, "h2c is HTTP/2 in cleartext, but the upstream has a tls block; use h2 for HTTP/2 over TLS")
	}
}

// targets checks the target list: at least one, valid, no duplicates.
func (v validator) targets(path string, ts []Target) {
	if len(ts) == 0 {
		v.errorf(path, "at least one target is required")
		return
	}
	seen := map[string]bool{}
	for i, t := range ts {
		p := indexPath(path, i)
		switch {
		case t.Addr == "":
			v.errorf(p+".addr", "required")
		case v.address(p, t.Addr, false) && seen[t.Addr]:
			v.errorf(p, "duplicate target %q", t.Addr)
		}
		seen[t.Addr] = true
		v.atLeast(p+".weight", t.Weight, 1)
	}
}

// pool checks the connection pool bounds.
func (v validator) pool(path string, p Pool) {
	v.atLeast(path+".max_conns_per_target", p.MaxConnsPerTarget, 1)
	v.atLeast(path+".max_idle_per_target", p.MaxIdlePerTarget, 0)
	if p.MaxConnsPerTarget >= 1 && p.MaxIdlePerTarget > p.MaxConnsPerTarget {
		v.errorf(path+".max_idle_per_target", "must not exceed max_conns_per_target (%d), got %d",
			p.MaxConnsPerTarget, p.MaxIdlePerTarget)
	}
	v.positive(path+".idle_timeout", p.IdleTimeout)
	v.fraction(path+".max_conns_share", p.MaxConnsShare)
}

// isRetryCondition reports whether s may appear in retries.on.
func isRetryCondition(s string) bool {
	switch s {
	case "connect_failure", "timeout", "reset":
		return true
	}
	code, err := strconv.Atoi(s)
	return err == nil && len(s) == 3 && code >= 500 && code <= 599
}

// healthCheck checks an active health check block.
func (v validator) healthCheck(path string, h *HealthCheck) {
	if len(h.Path) == 0 || h.Path[0] != '/' || hasControlOrSpace(h.Path) {
		v.errorf(path+".path", `must be a path starting with "/", got %q`, h.Path)
	}
	v.positive(path+".interval", h.Interval)
	v.positive(path+".timeout", h.Timeout)
	v.atLeast(path+".unhealthy_after", h.UnhealthyAfter, 1)
	v.atLeast(path+".healthy_after", h.HealthyAfter, 1)
}

// breaker checks a circuit breaker block. A consecutive_failures of 0
// turns that trip condition off.
func (v validator) breaker(path string, b *Breaker) {
	v.fraction(path+".failure_ratio", b.FailureRatio)
	v.positive(path+".interval", b.Interval)
	v.positive(path+".open_for", b.OpenFor)
	if b.HalfOpenRequests < 1 {
		v.errorf(path+".half_open_requests", "must be at least 1, got 0")
	}
	if len(b.FailureOn) == 0 {
		v.errorf(path+".failure_on", "at least one condition is required")
	}
	for i, cond := range b.FailureOn {
		v.oneOf(indexPath(path+".failure_on", i), cond, "5xx", "timeout", "connect_failure")
	}
}

// upstreamTLS checks an upstream's tls block; the files are parsed, so a
// broken one fails -check.
func (v validator) upstreamTLS(path string, t *UpstreamTLS) {
	if t.CAFile != "" && checkReadable(t.CAFile) == nil {
		if _, err := ParseCAFile(t.CAFile); err != nil {
			v.errorf(path+".ca_file", "%v", err)
		}
	}
	v.readable(path+".ca_file", t.CAFile)
	if t.ServerName != "" && !isHostName(t.ServerName) {
		v.errorf(path+".server_name", "invalid host name %q", t.ServerName)
	}
	if (t.ClientCertFile == "") != (t.ClientKeyFile == "") {
		v.errorf(path, "client_cert_file and client_key_file must be set together")
		return
	}
	v.readable(path+".client_cert_file", t.ClientCertFile)
	v.readable(path+".client_key_file", t.ClientKeyFile)
	if t.ClientCertFile != "" && checkReadable(t.ClientCertFile) == nil && checkReadable(t.ClientKeyFile) == nil {
		if _, err := tls.LoadX509KeyPair(t.ClientCertFile, t.ClientKeyFile); err != nil {
			v.errorf(path+".client_cert_file", "invalid certificate or key: %v", err)
		}
	}
}
