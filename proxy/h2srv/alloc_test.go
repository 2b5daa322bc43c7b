//go:build !race

package h2srv

import "testing"

// TestRequestsAllocations pins what BenchmarkRequests measures: a GET
// and its answer cost one allocation, the HeadersFrame the Framer makes
// for each HEADERS frame it parses (DATA frames it reuses); streams,
// fields, HPACK buffers and output are reused.
func TestRequestsAllocations(t *testing.T) {
	const perFeed = 50
	c, rb := newBenchConn(t, perFeed)
	id := uint32(3)
	allocs := testing.AllocsPerRun(20, func() {
		id = rb.setIDs(id)
		if _, err := c.Feed(rb.bytes); err != nil {
			t.Fatal(err)
		}
		c.Wrote(len(c.Output()))
	})
	t.Logf("%.2f allocations per request", allocs/perFeed)
	if allocs/perFeed > 1.1 {
		t.Errorf("%.2f allocations per request, want at most 1.1", allocs/perFeed)
	}
}
