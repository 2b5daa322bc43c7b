package conf

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// badFixtures maps each testdata/*.bad.yaml to the exact messages Load
// must report for it, in order, each without its "testdata/<file>:"
// prefix (so "14: routes[2].upstream: ..." means line 14).
var badFixtures = map[string][]string{
	`http2.bad.yaml`: {
		`3: server.http2.enabled: expected true or false, got a string`,
		`3: server.http2.window: unknown key`,
		`3: server.http2.max_concurrent_streams: must be 1 to 1000, got 0`,
	},
	`client_name.bad.yaml`: {
		`4: clients.partner "x": client name "partner \"x\"" must be printable ASCII without quotes or backslashes (it is sent in RateLimit-Policy)`,
	},
	`header_value.bad.yaml`: {
		`10: routes[0].plugins[0].headers.response_set.X-A: value has a control character at byte 1`,
	},
	`tracing.bad.yaml`: {
		`3: tracing.endpoint: invalid URL "collector:4318" (want an http or https URL)`,
		`4: tracing.protocol: invalid value "thrift" (want http or grpc)`,
		`5: tracing.sample_ratio: must be between 0 and 1, got 1.5`,
		`6: tracing.service_name: required`,
		`7: tracing.sampler: unknown key`,
	},
	`tracing_endpoint.bad.yaml`: {
		`2: tracing.endpoint: required`,
	},
	`admin_token.bad.yaml`: {
		`2: admin: token_file and token_env are exclusive: set one`,
	},
	`admin_token_missing.bad.yaml`: {
		`3: admin.token_file: cannot read secret: open testdata/secrets/missing-token: no such file or directory`,
	},
	`admin_same_port.bad.yaml`: {
		`4: admin.listen: same address as server.listen`,
	},
	`api_keys.bad.yaml`: {
		`4: auth.api_keys.header: invalid header name "X API Key"`,
		`6: auth.api_keys.keys[0].sha256: must be 64 hexadecimal digits (the SHA-256 of the key)`,
		`7: auth.api_keys.keys[1].client_id: required`,
		`8: auth.api_keys.keys[2].sha256: duplicate key hash`,
		`9: auth.api_keys.keys[3].sha256: required`,
		`10: auth.api_keys.keys[4].sha256: must be 64 hexadecimal digits (the SHA-256 of the key)`,
	},
	`api_keys_empty.bad.yaml`: {
		`3: auth.api_keys.keys: at least one key is required`,
	},
	`clients.bad.yaml`: {
		`9: clients.default.rate: required`,
		`12: clients.partner-x.burst: must be at least 1, got 0`,
		`13: clients.partner-x.concurrency: must be at least 0, got -1`,
		`14: clients.partner-x.mode: invalid value "dry_run" (want enforce or shadow)`,
		`16: clients.partner-x.routes.search.rate: required`,
		`17: clients.partner-x.routes.serch: unknown route "serch"`,
		`18: clients.mobile.rate: required`,
		`19: clients: client names must not be empty`,
	},
	`ip_rules.bad.yaml`: {
		`5: clients.partner-x.allow_cidrs[0]: invalid CIDR "10.0.0.0/33"`,
		`10: routes[0].allow_cidrs[1]: invalid CIDR "example.com"`,
		`11: routes[0].deny_cidrs: expected a list, got a string`,
	},
	`mtls.bad.yaml`: {
		`4: server.tls.client_ca: needs cert_file and key_file (client certificates need a TLS listener)`,
		`4: server.tls.client_ca: no PEM certificate found`,
		`5: server.tls.client_auth: invalid value "always" (want request or require)`,
		`6: server.tls.crl_file: cannot read file: open testdata/tls/missing.crl: no such file or directory`,
		`8: auth.mtls.client_id_from: invalid value "email" (want san_uri, san_dns or subject_cn)`,
	},
	`mtls_plain.bad.yaml`: {
		`3: server.tls.client_auth: needs server.tls.client_ca`,
		`3: server.tls.crl_file: needs server.tls.client_ca`,
		`7: routes[0].auth[0]: auth method "mtls" needs server.tls.client_ca`,
	},
	`signatures.bad.yaml`: {
		`6: auth.signatures.components[1]: unsupported component "@status"`,
		`6: auth.signatures.components[2]: invalid component "Content-Type"`,
		`7: auth.signatures.max_age: must be positive, got 0s`,
		`8: auth.signatures.max_body_bytes: must be between 0 and 65536, got 100000`,
		`10: auth.signatures.keys[0].secret_file: hmac-sha256 secret has 5 bytes, want at least 32`,
		`11: auth.signatures.keys[1].keyid: duplicate keyid "a"`,
		`11: auth.signatures.keys[1].secret_file: ed25519 keys use public_key_file`,
		`11: auth.signatures.keys[1].public_key_file: required`,
		`12: auth.signatures.keys[2].client_id: required`,
		`12: auth.signatures.keys[2].alg: invalid value "hmac-sha512" (want hmac-sha256, ed25519, ecdsa-p256-sha256 or rsa-pss-sha512)`,
		`13: auth.signatures.keys[3].public_key_file: invalid ecdsa-p256-sha256 public key: no PEM block`,
	},
	`external.bad.yaml`: {
		`6: auth.external.url: invalid URL "authz.internal/check" (want an http or https URL)`,
		`7: auth.external.timeout: must be positive, got 0s`,
		`8: auth.external.cache_ttl: must not be negative, got -1s`,
		`9: auth.external.on_failure: invalid value "maybe" (want deny or allow)`,
		`10: auth.external.headers_to_send[0]: invalid header name "Bad Header"`,
	},
	`upstream_tls.bad.yaml`: {
		`5: upstreams.users.tls.ca_file: no PEM certificate found`,
		`5: upstreams.users.tls.server_name: invalid host name "bad name"`,
		`5: upstreams.users.tls: client_cert_file and client_key_file must be set together`,
		`8: upstreams.orders.tls.client_cert_file: invalid certificate or key: tls: failed to find any PEM data in certificate input`,
	},
	`upstream_protocol.bad.yaml`: {
		`5: upstreams.grpc.protocol: invalid value "http2" (want http1, h2c or h2)`,
		`8: upstreams.secure.protocol: h2 needs a tls block (HTTP/2 over TLS); use h2c for HTTP/2 in cleartext`,
		`11: upstreams.plain.protocol: h2c is HTTP/2 in cleartext, but the upstream has a tls block; use h2 for HTTP/2 over TLS`,
	},
	`duplicate_keys.bad.yaml`: {
		`4: server.listen: duplicate key (first at line 2)`,
		`7: upstreams.users: duplicate key (first at line 6)`,
		`8: server: duplicate key (first at line 1)`,
	},
	`empty.bad.yaml`: {
		` server.listen: required`,
	},
	`introspection.bad.yaml`: {
		`3: auth.introspection.client_id: required`,
		`3: auth.introspection: exactly one of client_secret_file or client_secret_env is required`,
		`4: auth.introspection.url: invalid URL "introspect.internal/oauth" (want an http or https URL)`,
		`7: auth.introspection.client_secret: unknown key`,
		`8: auth.introspection.cache_ttl: must not be negative, got -1s`,
		`9: auth.introspection.timeout: must be positive, got 0s`,
	},
	`introspection_no_secret.bad.yaml`: {
		`3: auth.introspection: exactly one of client_secret_file or client_secret_env is required`,
	},
	`introspection_secret_empty.bad.yaml`: {
		`6: auth.introspection.client_secret_file: secret file testdata/secrets/empty is empty`,
	},
	`introspection_secret_file.bad.yaml`: {
		`6: auth.introspection.client_secret_file: cannot read secret: open testdata/secrets/missing: no such file or directory`,
	},
	`introspection_secret_missing.bad.yaml`: {
		`6: auth.introspection.client_secret_env: environment variable TOLLGATE_TEST_UNSET_VARIABLE is not set`,
		`9: limits.redis.password_env: environment variable TOLLGATE_TEST_EMPTY_VARIABLE is empty`,
	},
	`jwt.bad.yaml`: {
		`4: auth.jwt.algorithms[1]: algorithm "none" is never accepted`,
		`4: auth.jwt.algorithms[2]: algorithm "none" is never accepted`,
		`4: auth.jwt.algorithms[3]: invalid value "rs256" (want HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA)`,
		`4: auth.jwt.algorithms[4]: invalid value "HS1024" (want HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA)`,
		`6: auth.jwt.keys[0].file: cannot read file: open testdata/keys/missing.pem: no such file or directory`,
		`7: auth.jwt.keys[1].jwks_url: invalid URL "ftp://keys.internal/jwks" (want an http or https URL)`,
		`8: auth.jwt.keys[2]: exactly one of file or jwks_url is required`,
		`9: auth.jwt.keys[3]: exactly one of file or jwks_url is required`,
		`12: auth.jwt.keys[4].refresh: only applies to jwks_url keys`,
		`14: auth.jwt.keys[5].refresh: must be positive, got 0s`,
		`15: auth.jwt.keys[6].file: cannot read file: testdata/keys is a directory`,
		`16: auth.jwt.leeway: must not be negative, got -1s`,
		`17: auth.jwt.client_id_claim: required`,
	},
	`jwt_empty.bad.yaml`: {
		`3: auth.jwt.algorithms: at least one algorithm is required`,
		`3: auth.jwt.keys: at least one key is required`,
	},
	`limits.bad.yaml`: {
		`3: limits.store: invalid value "memcached" (want local or redis)`,
		`5: limits.redis.addrs[0]: invalid address "redis" (want host:port with a numeric port)`,
		`6: limits.redis.sync_interval: must be positive, got 0s`,
		`7: limits.redis.on_failure: invalid value "fail" (want local, allow or deny)`,
		`8: limits.adaptive.target_latency: must be positive, got 0s`,
		`8: limits.adaptive.min_factor: must be greater than 0 and at most 1, got 0`,
		`9: limits.headers: invalid value "draft" (want ietf, legacy or none)`,
		`10: limits.max_tracked_keys: must be at least 1, got 0`,
	},
	`limits_redis.bad.yaml`: {
		`4: limits.redis.addrs: at least one address is required when store is redis`,
		`4: limits.redis.password_env: environment variable TOLLGATE_TEST_UNSET_VARIABLE is not set`,
		`5: limits.adaptive.min_factor: must be greater than 0 and at most 1, got 1.5`,
	},
	`quotas.bad.yaml`: {
		`7: auth.api_keys.keys[0].plan: unknown plan "platinum"`,
		`9: plans.free.quota.period: invalid period "fortnight" (want day, week or month; a duration of at least 1s such as 10s is for tests)`,
		`10: plans.gold.quota.limit: must be at least 1, got 0`,
		`11: plans.partner-x: plan "partner-x" has the name of a client (policy and metric names would clash)`,
		`13: clients.partner-x.plan: unknown plan "silver"`,
		`14: clients.team-a.rate: plan "gold" is shared: its members spend its bucket and cannot set their own`,
		`15: clients.team-b.quota.period: invalid period "100ms" (want day, week or month; a duration of at least 1s such as 10s is for tests)`,
		`18: limits.time_zone: unknown time zone "Mars/Olympus" (want an IANA name such as UTC or Europe/Paris)`,
		`20: limits.redis.sentinel.master_name: required`,
		`20: limits.redis.sentinel.addrs: at least one sentinel address is required`,
		`21: limits.redis.tls: cert_file and key_file must be set together`,
		`21: limits.redis.tls.cert_file: cannot read file: open testdata/client.pem: no such file or directory`,
		`26: routes[0].cost: 100 is above limits.max_cost (50)`,
		`27: routes[0].cost_header: invalid header name "X Cost"`,
		`31: routes[1].cost: must be at least 1, got 0`,
	},
	`listen_missing.bad.yaml`: {
		`1: server.listen: required`,
	},
	`many_errors.bad.yaml`: {
		`4: server.idle_timeout: invalid duration "forever" (use Go syntax such as 250ms, 5s, 1m)`,
		`9: upstreams.users.balance: invalid value "fastest" (want round_robin, least_conn, random or hash)`,
		`12: clients.partner-x.rate: invalid rate "10/sec" (want N/s, N/m or N/h with N > 0)`,
		`21: routes[1].tiemout: unknown key (did you mean "timeout"?)`,
		`24: routes[2].upstream: unknown upstream "userz"`,
	},
	`not_a_mapping.bad.yaml`: {
		`1: expected a mapping, got a list`,
	},
	`plugins.bad.yaml`: {
		`9: routes[0].plugins[0]: expected a mapping with a single key (request_id, headers or cors), got a mapping with several keys`,
		`11: routes[0].plugins[1]: expected a mapping with a single key (request_id, headers or cors), got an empty mapping`,
		`12: routes[0].plugins[2].gzip: unknown plugin (want request_id, headers or cors)`,
		`13: routes[0].plugins[3]: expected a mapping with a single key (request_id, headers or cors), got a string`,
		`14: routes[0].plugins[4].headers.response_set.X-A: expected a string, got null`,
		`14: routes[0].plugins[4].headers.response_add: unknown key`,
		`14: routes[0].plugins[4].headers.request_set.Bad Name: invalid header name "Bad Name"`,
		`14: routes[0].plugins[4].headers.request_remove[1]: invalid header name "B@d"`,
		`16: routes[0].plugins[5].cors.allowed_origins[1]: invalid origin "app.example.com" (want "*" or scheme://host[:port])`,
		`16: routes[0].plugins[5].cors.allowed_origins[2]: invalid origin "https://app.example.com/path" (want "*" or scheme://host[:port])`,
		`17: routes[0].plugins[5].cors.allowed_methods[0]: invalid method "get" (want an upper-case token such as GET)`,
		`18: routes[0].plugins[5].cors.allowed_headers[0]: invalid header name "X ok"`,
		`19: routes[0].plugins[5].cors.allow_credentials: cannot be used with the origin "*"`,
		`20: routes[0].plugins[5].cors.max_age: must not be negative, got -1s`,
		`21: routes[0].plugins[6].cors.allowed_origins: at least one origin is required`,
		`22: routes[0].plugins[7].request_id.format: unknown key`,
	},
	`route_auth.bad.yaml`: {
		`11: routes[0].auth[0]: auth method "jwt" is not configured in auth.jwt`,
		`11: routes[0].auth[2]: "api_key" is listed twice`,
		`11: routes[0].auth[3]: invalid value "oauth" (want jwt, introspection, api_key, mtls, signature or external)`,
		`15: routes[1].scopes: scopes need auth: the route has no auth methods`,
		`15: routes[1].scopes[1]: invalid scope "two words"`,
		`15: routes[1].scopes[2]: invalid scope ""`,
		`19: routes[2].auth[0]: auth method "introspection" is not configured in auth.introspection`,
	},
	`routes.bad.yaml`: {
		`11: routes[2].name: duplicate route name "users" (first at line 5)`,
		`13: routes[2].upstream: unknown upstream "userz"`,
		`14: routes[3].name: required`,
		`14: routes[3].upstream: required`,
		`15: routes[4].name: invalid route name "bad name" (use letters, digits, '.', '_' and '-')`,
		`16: routes[4].match: one of path or path_prefix is required`,
		`19: routes[5].match: only one of path or path_prefix may be set`,
		`22: routes[6].match.path_prefix: must start with "/" and hold no spaces or control characters, got "v1"`,
		`22: routes[6].match.host: invalid host "api..example.com" (want a host name or "*.suffix")`,
		`22: routes[6].match.methods[0]: invalid method "get" (want an upper-case token such as GET)`,
		`22: routes[6].match.methods[2]: invalid method "M SEARCH" (want an upper-case token such as GET)`,
		`22: routes[6].match.headers.X Bad: invalid header name "X Bad"`,
		`22: routes[6].match.headers.x-ok: same header as "X-OK" (names are case-insensitive)`,
		`27: routes[7].strip_prefix: "/v2" is not a prefix of match.path_prefix "/v1/users"`,
		`28: routes[7].host_rewrite: invalid host "bad host"`,
		`29: routes[7].timeout: must be positive, got 0s`,
		`30: routes[8]: expected a mapping, got null`,
		`34: routes[9].strip_prefix: "/exactly" is not a prefix of match.path "/exact"`,
	},
	`server.bad.yaml`: {
		`2: server.listen: invalid address "localhost" (want host:port with a numeric port)`,
		`3: server.accept_loops: must be at least 0, got -1`,
		`4: server.read_header_timeout: must be positive, got 0s`,
		`5: server.idle_timeout: must be positive, got -1s`,
		`6: server.max_header_bytes: must be at least 1, got 0`,
		`7: server.max_body_bytes: must not be negative, got -5`,
		`8: server.shutdown_timeout: must be positive, got 0s`,
		`9: server.tls: cert_file and key_file must be set together`,
		`11: admin.listen: invalid address "127.0.0.1:99999" (want host:port with a numeric port)`,
	},
	`syntax.bad.yaml`: {
		`2: invalid YAML: did not find expected key`,
	},
	`tls_files.bad.yaml`: {
		`4: server.tls.cert_file: cannot read file: open testdata/tls/missing.pem: no such file or directory`,
		`5: server.tls.key_file: cannot read file: testdata/tls is a directory`,
		`7: admin.listen: same address as server.listen`,
	},
	`two_documents.bad.yaml`: {
		`2: only one YAML document is allowed`,
	},
	`unknown_keys.bad.yaml`: {
		`3: server.listn: unknown key (did you mean "listen"?)`,
		`4: server.tls.cert: unknown key`,
		`5: servers: unknown key (did you mean "server"?)`,
		`9: upstreams.users.balanse: unknown key (did you mean "balance"?)`,
		`10: upstreams.users.pool.max_conns: unknown key`,
	},
	`upstreams.bad.yaml`: {
		`3: upstreams.empty.targets: at least one target is required`,
		`4: upstreams.nulled.targets: at least one target is required`,
		`7: upstreams.users.targets[0]: invalid address "127.0.0.1" (want host:port with a numeric port)`,
		`8: upstreams.users.targets[1]: invalid address "127.0.0.1:http" (want host:port with a numeric port)`,
		`9: upstreams.users.targets[2]: invalid address ":9001" (want host:port with a numeric port)`,
		`10: upstreams.users.targets[3].weight: must be at least 1, got 0`,
		`11: upstreams.users.targets[4].addr: required`,
		`13: upstreams.users.targets[6]: duplicate target "127.0.0.1:9003"`,
		`14: upstreams.users.targets[7]: invalid address "42" (want host:port with a numeric port)`,
		`15: upstreams.users.targets[8]: expected "host:port" or {addr, weight}, got null`,
		`16: upstreams.users.balance: invalid value "least_connections" (want round_robin, least_conn, random or hash)`,
		`17: upstreams.users.pool.max_idle_per_target: must not exceed max_conns_per_target (10), got 20`,
		`17: upstreams.users.pool.idle_timeout: must be positive, got 0s`,
		`18: upstreams.users.timeouts.connect: must be positive, got 0s`,
		`18: upstreams.users.timeouts.response_header: must be positive, got -1s`,
		`19: upstreams.users.retries.attempts: must be at least 0, got -1`,
		`19: upstreams.users.retries.on[1]: invalid value "404" (want connect_failure, timeout, reset or a 5xx status such as "502")`,
		`19: upstreams.users.retries.on[2]: invalid value "5xx" (want connect_failure, timeout, reset or a 5xx status such as "502")`,
		`20: upstreams.users.health_check.path: must be a path starting with "/", got "healthz"`,
		`20: upstreams.users.health_check.interval: must be positive, got 0s`,
		`20: upstreams.users.health_check.timeout: must be positive, got 0s`,
		`20: upstreams.users.health_check.unhealthy_after: must be at least 1, got 0`,
		`20: upstreams.users.health_check.healthy_after: must be at least 1, got 0`,
		`22: upstreams.users.breaker.failure_ratio: must be greater than 0 and at most 1, got 1.5`,
		`23: upstreams.users.breaker.interval: must be positive, got 0s`,
		`24: upstreams.users.breaker.open_for: must be positive, got 0s`,
		`25: upstreams.users.breaker.half_open_requests: must be at least 1, got 0`,
		`26: upstreams.users.breaker.failure_on[1]: invalid value "502" (want 5xx, timeout or connect_failure)`,
		`26: upstreams.users.breaker.failure_on[2]: invalid value "reset" (want 5xx, timeout or connect_failure)`,
		`29: upstreams.no_conditions.breaker.failure_ratio: must be greater than 0 and at most 1, got 0`,
		`29: upstreams.no_conditions.breaker.failure_on: at least one condition is required`,
	},
	`values.bad.yaml`: {
		`3: server.read_header_timeout: invalid duration "10" (use Go syntax such as 250ms, 5s, 1m)`,
		`4: server.shutdown_timeout: invalid duration "1 minute" (use Go syntax such as 250ms, 5s, 1m)`,
		`5: server.trusted_proxies[0]: invalid CIDR "10.0.0.0/33"`,
		`5: server.trusted_proxies[1]: invalid CIDR "not-an-ip"`,
		`5: server.trusted_proxies[2]: invalid CIDR "fe80::1%eth0"`,
		`5: server.trusted_proxies[3]: expected a CIDR, got null`,
		`7: clients.default.rate: invalid rate "100/sec" (want N/s, N/m or N/h with N > 0)`,
		`8: clients.a.rate: invalid rate "0/s" (want N/s, N/m or N/h with N > 0)`,
		`9: clients.b.rate: invalid rate "100" (want N/s, N/m or N/h with N > 0)`,
		`10: clients.c.burst: expected an integer, got a number`,
		`14: upstreams.u.breaker.min_requests: must be between 0 and 4294967295, got -1`,
		`14: upstreams.u.breaker.half_open_requests: must be between 0 and 4294967295, got 4294967296`,
		`14: upstreams.u.breaker.failure_ratio: invalid number .nan`,
	},
	`wrong_types.bad.yaml`: {
		`2: server.listen: expected a string, got a list`,
		`3: server.accept_loops: expected an integer, got a string`,
		`4: server.idle_timeout: invalid duration "30" (use Go syntax such as 250ms, 5s, 1m)`,
		`5: server.max_header_bytes: expected an integer, got a number`,
		`6: server.access_log: expected true or false, got a string`,
		`7: server.trusted_proxies: expected a list, got a string`,
		`8: admin: expected a mapping, got a string`,
		`11: upstreams.users.targets: expected a list, got a string`,
		`16: routes[0].limit: expected true or false, got an integer`,
		`17: routes[0].auth: expected a list, got a string`,
		`18: routes[1]: expected a mapping, got a string`,
	},
	`yaml_features.bad.yaml`: {
		`2: defaults: unknown key`,
		`3: server.listen: required`,
		`4: server: merge keys (<<) are not supported`,
		`5: server: keys must be strings, got a list`,
		`7: server.access_log: expected true or false, got a value tagged !custom`,
		`8: server.tls.cert_file: expected a file path, got a value tagged !env`,
	},
}

// badEnv sets the environment the bad fixtures expect.
func badEnv(t *testing.T) {
	t.Helper()
	t.Setenv("TOLLGATE_TEST_SECRET", "from-env")
	t.Setenv("TOLLGATE_TEST_EMPTY_VARIABLE", "  \n")
	t.Setenv("TOLLGATE_TEST_UNSET_VARIABLE", "")
	os.Unsetenv("TOLLGATE_TEST_UNSET_VARIABLE") // restored by t.Setenv's cleanup
}

func TestBadFixtures(t *testing.T) {
	badEnv(t)
	files, err := filepath.Glob(filepath.Join("testdata", "*.bad.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		if _, ok := badFixtures[filepath.Base(file)]; !ok {
			t.Errorf("%s has no entry in badFixtures", file)
		}
	}
	for name, want := range badFixtures {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join("testdata", name)
			c, err := Load(file)
			if err == nil {
				t.Fatalf("Load(%s) = %+v, want errors", file, c)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Load(%s) error %T %v, want an ErrorList", file, err, err)
			}
			got := strings.Split(err.Error(), "\n")
			for i := range got {
				got[i] = strings.TrimPrefix(got[i], file+":")
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("Load(%s) errors:\n%s\nwant:\n%s", file, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestManyErrorsAreAllReported(t *testing.T) {
	_, err := Load(filepath.Join("testdata", "many_errors.bad.yaml"))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error %T %v, want an ErrorList", err, err)
	}
	want := []Error{
		{Line: 4, Path: "server.idle_timeout", Msg: `invalid duration "forever" (use Go syntax such as 250ms, 5s, 1m)`},
		{Line: 9, Path: "upstreams.users.balance", Msg: `invalid value "fastest" (want round_robin, least_conn, random or hash)`},
		{Line: 12, Path: "clients.partner-x.rate", Msg: `invalid rate "10/sec" (want N/s, N/m or N/h with N > 0)`},
		{Line: 21, Path: "routes[1].tiemout", Msg: `unknown key (did you mean "timeout"?)`},
		{Line: 24, Path: "routes[2].upstream", Msg: `unknown upstream "userz"`},
	}
	if len(list) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(list), len(want), err)
	}
	for i, w := range want {
		w.File = filepath.Join("testdata", "many_errors.bad.yaml")
		if *list[i] != w {
			t.Errorf("error %d = %+v, want %+v", i, *list[i], w)
		}
	}
	if got := list[4].Error(); got != "testdata/many_errors.bad.yaml:24: routes[2].upstream: unknown upstream \"userz\"" {
		t.Errorf("Error() = %q", got)
	}
}

func TestErrorListSortsByLine(t *testing.T) {
	list := ErrorList{
		{File: "f.yaml", Line: 9, Path: "b", Msg: "second"},
		{File: "f.yaml", Line: 2, Path: "a", Msg: "first"},
		{File: "f.yaml", Line: 9, Path: "c", Msg: "third"},
		{File: "f.yaml", Msg: "whole file"},
	}
	want := "f.yaml: whole file\nf.yaml:2: a: first\nf.yaml:9: b: second\nf.yaml:9: c: third"
	if got := list.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
	if list[0].Msg != "second" {
		t.Errorf("Error() reordered the list itself")
	}
}

func TestParseInlineErrors(t *testing.T) {
	src := "server:\n  listen: \":8080\"\nroutes:\n  - name: a\n    match: {path: /a}\n    upstream: nope\n"
	_, err := Parse("inline.yaml", []byte(src), "")
	want := `inline.yaml:6: routes[0].upstream: unknown upstream "nope"`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}
