package limiter

import (
	"net/netip"
	"testing"
	"time"

	"tollgate/conf"
	"tollgate/internal/testkit"
)

// perSec returns a rate of n per second.
func perSec(n float64) conf.Rate { return conf.Rate{N: n, Per: time.Second} }

// q returns a quota.
func q(rate float64, burst int) *conf.Quota { return &conf.Quota{Rate: perSec(rate), Burst: burst} }

// newLocal returns a limiter on a fake clock with the given clients.
func newLocal(t *testing.T, clients conf.Clients, limits conf.Limits) (*Limiter, *testkit.Clock) {
	t.Helper()
	clk := testkit.NewClock(testkit.Epoch)
	l := New(Options{Now: clk.Now, SweepInterval: -1, Shards: 16})
	if err := l.Apply(clients, limits, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l, clk
}

// partnerClients is the CONTRACT's example clients: block.
func partnerClients() conf.Clients {
	p := q(10, 20)
	p.Concurrency = 10
	p.Routes = map[string]conf.RouteQuota{"search": {Rate: perSec(2), Burst: 2}}
	return conf.Clients{Default: *q(100, 200), Named: map[string]*conf.Quota{"partner-x": p}}
}

var (
	ipA = netip.MustParseAddr("192.0.2.1")
	ipB = netip.MustParseAddr("192.0.2.2")
)
