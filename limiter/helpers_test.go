package limiter

import (
	"bytes"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tollgate/conf"
)

// fakeClock is an injectable clock that only moves when told.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// perSec returns a rate of n per second.
func perSec(n float64) conf.Rate { return conf.Rate{N: n, Per: time.Second} }

// q returns a quota.
func q(rate float64, burst int) *conf.Quota { return &conf.Quota{Rate: perSec(rate), Burst: burst} }

// logBuf is a concurrency-safe log sink.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// newLocal returns a limiter on a fake clock with the given clients.
func newLocal(t *testing.T, clients conf.Clients, limits conf.Limits) (*Limiter, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
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
