package main

// End-to-end tests of request cost, long-window quotas and plans (issue
// 15): the real binary, a real origin, and a real redis-server where the
// store is Redis.

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// quotaConfig is a gateway with API keys (each "key-<client>" for the
// clients a, b, c; a and b on plan "team", c on plan "gold"), routes
// "search" (cost 5), "export" (cost 1, charged by X-Request-Cost) and
// "all", and the given clients, plans and limits blocks (indented by two
// spaces) and extra text (an auth block's jwt, say, goes in authExtra).
// Plans "team" and "gold" exist unless plans names them.
func quotaConfig(addr, clients, plans, limits, authExtra string) string {
	if !strings.Contains(plans, "team:") {
		plans += "\n  team: {rate: 1/h, burst: 100, shared: true}"
	}
	if !strings.Contains(plans, "gold:") {
		plans += "\n  gold: {rate: 1/h, burst: 100}"
	}
	methods := "[api_key]"
	if strings.Contains(authExtra, "jwt:") {
		methods = "[jwt, api_key]"
	}
	return fmt.Sprintf(`
server:
  listen: "LISTEN"
  read_header_timeout: 2s
  shutdown_timeout: 2s
admin:
  listen: "ADMIN"
auth:
  api_keys:
    keys:
      - {sha256: "%s", client_id: a, plan: team}
      - {sha256: "%s", client_id: b, plan: team}
      - {sha256: "%s", client_id: c, plan: gold}
%s
upstreams:
  app:
    targets: ["%s"]
    timeouts: {connect: 500ms, response_header: 5s}
clients:
%s
plans:
%s
limits:
%s
routes:
  - {name: search, match: {path_prefix: /search}, upstream: app, auth: %[9]s, cost: 5}
  - {name: export, match: {path_prefix: /export}, upstream: app, auth: %[9]s, cost_header: X-Request-Cost}
  - {name: all, match: {path_prefix: /}, upstream: app, auth: %[9]s}
`, keyHash("key-a"), keyHash("key-b"), keyHash("key-c"), authExtra, addr, clients, plans, limits, methods)
}

// costOrigin answers 200, with X-Request-Cost set to the request's
// ?cost= parameter when there is one.
func costOrigin(t *testing.T) *origin {
	return startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if c := r.URL.Query().Get("cost"); c != "" {
			w.Header().Set("X-Request-Cost", c)
		}
		w.Write([]byte("ok"))
	})
}

// stateOf returns the r= and t= of the named policy in a RateLimit value
// (-1 when absent).
func stateOf(h, name string) (r, tt int) {
	for _, item := range strings.Split(h, ",") {
		item = strings.TrimSpace(item)
		if !strings.HasPrefix(item, strconv.Quote(name)+";") {
			continue
		}
		r, tt = -1, -1
		for _, p := range strings.Split(item, ";")[1:] {
			k, v, _ := strings.Cut(p, "=")
			n, _ := strconv.Atoi(v)
			switch k {
			case "r":
				r = n
			case "t":
				tt = n
			}
		}
		return r, tt
	}
	return -1, -1
}

// TestCostRouteAdmitsRateOverCost: a route of cost 5 admits a fifth of
// the client's rate (burst ÷ 5 first), within ±5%, on one gateway and on
// three gateways sharing the quota through Redis; remaining counts tokens.
func TestCostRouteAdmitsRateOverCost(t *testing.T) {
	t.Parallel()
	o := okOrigin(t)
	const rate, burst, cost = 500.0, 100.0, 5.0
	clients := "  default: {rate: 1/s, burst: 1}\n  c: {rate: 500/s, burst: 100}"
	t.Run("local", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, quotaConfig(o.addr, clients, "", "  headers: ietf", ""))
		r := send(t, newClient(), g.url("/search/x"), "X-API-Key: key-c")
		if got, _ := stateOf(r.header.Get("RateLimit"), "c"); r.status != 200 || got != 95 {
			t.Fatalf("first cost-5 request: %d, RateLimit %q, want 95 left", r.status, r.header.Get("RateLimit"))
		}
		tl, d := hammer(t, 4, 3*time.Second, time.Millisecond, 100000, g.url("/search/x"), "X-API-Key: key-c")
		within(t, "cost 5, one gateway, admitted over "+d.Round(time.Millisecond).String(), float64(tl.ok.Load()), (burst-cost+rate*d.Seconds())/cost, 0.05, 0.05)
		if tl.other.Load() != 0 {
			t.Errorf("unexpected answers: %s", tl)
		}
	})
	t.Run("redis_3_instances", func(t *testing.T) {
		t.Parallel()
		rs := startRedis(t)
		const dur = 8 * time.Second
		gs := startGateways(t, rs, 3, quotaConfig(o.addr, clients, "", redisLimits(rs.addr, "local"), ""))
		tallies := make([]*tally, len(gs))
		done := make(chan time.Duration, len(gs))
		for i, g := range gs {
			go func() {
				tl, d := hammer(t, 2, dur, time.Millisecond, 100000, g.url("/search/x"), "X-API-Key: key-c")
				tallies[i] = tl
				done <- d
			}()
		}
		var longest time.Duration
		for range gs {
			longest = max(longest, <-done)
		}
		within(t, "cost 5, three gateways on Redis, admitted over "+longest.Round(time.Millisecond).String(),
			admitted(t, tallies), (burst+rate*longest.Seconds())/cost, 0.05, 0.05)
	})
}

// TestCostHeaderChargesAfterAnswer: the upstream's X-Request-Cost is
// charged after the answer (the answer's own headers show the state before
// it), so the next request sees it; a value above max_cost is charged
// max_cost; a malformed one is ignored.
func TestCostHeaderChargesAfterAnswer(t *testing.T) {
	t.Parallel()
	g := startGateway(t, quotaConfig(costOrigin(t).addr, "  default: {rate: 1/s, burst: 1}\n  c: {rate: 1/h, burst: 200}",
		"", "  headers: ietf\n  max_cost: 100", ""))
	c := newClient()
	left := func(path string) int {
		t.Helper()
		r := send(t, c, g.url(path), "X-API-Key: key-c")
		n, _ := stateOf(r.header.Get("RateLimit"), "c")
		if r.status != 200 {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		return n
	}
	steps := []struct {
		path string
		want int
	}{
		{"/export/q?cost=40", 199}, // charged 39 more after the answer
		{"/all", 159},
		{"/export/q?cost=abc", 158}, // ignored
		{"/export/q?cost=5000", 157},
		{"/all", 57}, // 5000 is charged as max_cost (100): 99 more
		{"/search/x", 52},
	}
	for _, s := range steps {
		if got := left(s.path); got != s.want {
			t.Errorf("%s: %d tokens left, want %d", s.path, got, s.want)
		}
	}
}

// alignToPeriod waits until the current period of length p has at least
// need left, so a test's requests all fall in one period.
func alignToPeriod(p, need time.Duration) {
	for {
		into := time.Duration(time.Now().UnixNano() % int64(p))
		if p-into >= need {
			return
		}
		time.Sleep(p - into + 10*time.Millisecond)
	}
}

// TestQuotaResetsAtPeriodBoundary: a quota of 5 per 3 s (a test period;
// production periods are day, week and month) admits 5, refuses the 6th
// with 429, reason quota and Retry-After until the period ends, lists both
// policies, and admits again once the period is over.
func TestQuotaResetsAtPeriodBoundary(t *testing.T) {
	t.Parallel()
	clients := "  default: {rate: 1/s, burst: 1}\n  c: {rate: 1000/s, burst: 1000, quota: {limit: 5, period: 3s}}"
	g := startGateway(t, quotaConfig(okOrigin(t).addr, clients, "", "  headers: ietf", ""))
	c := newClient()
	for round := range 2 {
		alignToPeriod(3*time.Second, 2*time.Second)
		for i := range 5 {
			r := send(t, c, g.url("/all"), "X-API-Key: key-c")
			if n, _ := stateOf(r.header.Get("RateLimit"), "c:3s"); r.status != 200 || n != 4-i {
				t.Fatalf("round %d request %d: %d, RateLimit %q", round, i, r.status, r.header.Get("RateLimit"))
			}
		}
		r := send(t, c, g.url("/all"), "X-API-Key: key-c")
		check429(t, r, r.header.Get("Retry-After"))
		if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); ra < 1 || ra > 3 {
			t.Errorf("Retry-After %q, want the time until the period ends", r.header.Get("Retry-After"))
		}
		if !strings.Contains(r.body, "quota") {
			t.Errorf("429 body %q does not name the quota", r.body)
		}
		if p := r.header.Get("RateLimit-Policy"); p != `"c";q=1000;w=1, "c:3s";q=5;w=3` {
			t.Errorf("RateLimit-Policy %q", p)
		}
		if round == 0 {
			time.Sleep(time.Duration(3e9 - time.Now().UnixNano()%3e9)) // to the boundary
		}
	}
	if n := decisions(g, "c", "deny"); n != 2 {
		t.Errorf("deny decisions %v, want 2", n)
	}
}

// TestQuotaSurvivesReload: the units spent in a day stay spent across a
// reload (local store).
func TestQuotaSurvivesReload(t *testing.T) {
	t.Parallel()
	o := okOrigin(t)
	cfg := func(mode string) string {
		clients := "  default: {rate: 1/s, burst: 1}\n  c: {rate: 1000/s, burst: 1000, quota: {limit: 6, period: day}}"
		return quotaConfig(o.addr, clients, "", "  headers: "+mode, "")
	}
	g := startGateway(t, cfg("ietf"))
	c := newClient()
	for range 4 {
		send(t, c, g.url("/all"), "X-API-Key: key-c")
	}
	reloadOK(t, g, cfg("ietf\n  max_cost: 7"), 1)
	r := send(t, c, g.url("/all"), "X-API-Key: key-c")
	if n, _ := stateOf(r.header.Get("RateLimit"), "c:day"); r.status != 200 || n != 1 {
		t.Fatalf("after reload: %d, RateLimit %q, want 1 unit left", r.status, r.header.Get("RateLimit"))
	}
	if got := drain(t, c, 10, g.url("/all"), "X-API-Key: key-c"); got != 1 {
		t.Errorf("admitted %d after the reload, want 1", got)
	}
}

// TestQuotaSurvivesRestartWithRedis: with the Redis store, a day's count
// lives in Redis: a gateway restarted finds it.
func TestQuotaSurvivesRestartWithRedis(t *testing.T) {
	t.Parallel()
	rs := startRedis(t)
	clients := "  default: {rate: 1/s, burst: 1}\n  c: {rate: 1000/s, burst: 1000, quota: {limit: 20, period: day}}"
	cfg := quotaConfig(okOrigin(t).addr, clients, "", redisLimits(rs.addr, "deny"), "")
	g := startGateway(t, cfg)
	c := newClient()
	// A key new to a gateway may spend its credit before the first grant
	// comes back (within a sync interval); a request beyond it meanwhile
	// is refused with Retry-After 1.
	spent := 0
	waitFor(t, func() bool {
		if r := send(t, c, g.url("/all"), "X-API-Key: key-c"); r.status == 200 {
			spent++
		} else if r.header.Get("Retry-After") != "1" {
			t.Fatalf("refused for good after %d: %d %s", spent, r.status, r.body)
		}
		return spent == 12
	})
	waitFor(t, func() bool { // the spent units reached Redis
		v, err := rs.do("EVAL \"local n=0 for _,k in ipairs(redis.call('KEYS','*|q|*')) do n=n+tonumber(redis.call('GET',k)) end return n\" 0")
		n, _ := strconv.Atoi(strings.TrimPrefix(v, ":"))
		return err == nil && n >= 12
	})
	g.stop()
	g2 := startGateway(t, cfg)
	c2 := newClient()
	var got int
	waitFor(t, func() bool { // until refused for the rest of the day
		r := send(t, c2, g2.url("/all"), "X-API-Key: key-c")
		if r.status == 200 {
			got++
		}
		return r.status == 429 && r.header.Get("Retry-After") != "1"
	})
	// 8 were left; the first gateway may have held up to one chunk of
	// granted units unspent when it stopped: min(rate × 1 s, limit ÷ (10 ×
	// instances)) = 2 here (limiter/README.md).
	if got < 6 || got > 8 {
		t.Errorf("after the restart %d admitted, want 8 (6 or 7 if granted units were held)", got)
	}
}

// TestPlanFromJWTClaim: a client not listed takes its plan from the
// token's plan claim: the plan's quota, its policy name in the headers and
// its name as the metric's client label; a token without the claim (or
// naming no plan) gets the default.
func TestPlanFromJWTClaim(t *testing.T) {
	t.Parallel()
	as, asOrigin := startAuthServer(t)
	jwtBlock := fmt.Sprintf(`  jwt:
    algorithms: [RS256]
    keys: [{jwks_url: "http://%s/jwks"}]
    plan_claim: plan`, asOrigin.addr)
	plans := "  gold: {rate: 1/h, burst: 7}"
	g := startGateway(t, quotaConfig(okOrigin(t).addr, "  default: {rate: 1/h, burst: 2}", plans, "  headers: ietf", jwtBlock))
	tok := func(sub, plan string) string {
		claims := jwt.MapClaims{"sub": sub, "exp": time.Now().Add(time.Hour).Unix()}
		if plan != "" {
			claims["plan"] = plan
		}
		return "Authorization: Bearer " + as.token(t, claims)
	}
	c := newClient()
	r := send(t, c, g.url("/all"), tok("u1", "gold"))
	if p := r.header.Get("RateLimit-Policy"); r.status != 200 || p != `"gold";q=7;w=25200` {
		t.Fatalf("gold member: %d, RateLimit-Policy %q", r.status, p)
	}
	if got := drain(t, c, 20, g.url("/all"), tok("u1", "gold")); got != 6 {
		t.Errorf("u1 on gold: %d more admitted, want 6", got)
	}
	if got := drain(t, c, 20, g.url("/all"), tok("u2", "gold")); got != 7 {
		t.Errorf("u2 on gold (its own bucket): %d admitted, want 7", got)
	}
	for _, h := range []string{tok("u3", ""), tok("u4", "platinum")} {
		if got := drain(t, c, 20, g.url("/all"), h); got != 2 {
			t.Errorf("no plan or an unknown one: %d admitted, want the default's 2", got)
		}
	}
	if a, d := decisions(g, "gold", "allow"), decisions(g, "gold", "deny"); a != 14 || d != 2 {
		t.Errorf(`decisions{client="gold"}: allow %v deny %v, want 14 and 2`, a, d)
	}
}

// TestSharedPlanMembersSpendOneBucket: two API keys on a shared plan (and a
// client listed under clients: naming it) spend one bucket and one quota.
func TestSharedPlanMembersSpendOneBucket(t *testing.T) {
	t.Parallel()
	plans := "  team: {rate: 1/h, burst: 100, shared: true, quota: {limit: 10, period: day}}\n  gold: {rate: 1/h, burst: 100}"
	g := startGateway(t, quotaConfig(okOrigin(t).addr, "  default: {rate: 1/h, burst: 1}\n  c: {plan: team}", plans, "  headers: ietf", ""))
	c := newClient()
	total := 0
	for _, key := range []string{"key-a", "key-b", "key-c"} {
		for range 3 {
			if r := send(t, c, g.url("/all"), "X-API-Key: "+key); r.status == 200 {
				total++
			}
		}
	}
	r := send(t, c, g.url("/all"), "X-API-Key: key-a")
	if n, _ := stateOf(r.header.Get("RateLimit"), "team:day"); r.status != 200 || n != 0 || total != 9 {
		t.Fatalf("10th request of the team: %d, RateLimit %q (after %d admitted)", r.status, r.header.Get("RateLimit"), total)
	}
	r = send(t, c, g.url("/all"), "X-API-Key: key-b")
	check429(t, r, r.header.Get("Retry-After"))
	if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); ra < 1 || ra > 86400 {
		t.Errorf("Retry-After %q, want the seconds until midnight UTC", r.header.Get("Retry-After"))
	}
}
