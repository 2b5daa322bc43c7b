package proxy

import (
	"bytes"
	"net"
	"syscall"
	"testing"
	"time"

	"tollgate/internal/testkit"
)

// BenchmarkEngineTracing drives keep-alive GETs over loopback TCP through
// the event loop with tracing off, on but not sampling (ratio 0, with and
// without an unsampled traceparent from the client), on at 1%, and
// sampling every request, exporting to a real OTLP/HTTP receiver in the
// process:
//
//	go test -run - -bench EngineTracing -benchmem ./proxy/
//
// off and the unsampled cases allocate nothing; the allocations of the
// others are those of the sampled requests' spans (1% of them at 1%).
// cpu-ns/op is the CPU time the whole process (client, gateway, origin,
// receiver) used per request: unlike ns/op it does not grow while the
// process waits for a busy machine, so the difference between two cases
// is what tracing costs (an upper bound: it includes the receiver).
func BenchmarkEngineTracing(b *testing.B) {
	const get = "GET /small HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n"
	const unsampled = "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00\r\n"
	for _, c := range []struct {
		name, ratio, extra string
	}{
		{"off", "", ""},
		{"unsampled", "0", ""},
		{"unsampled_traceparent", "0", unsampled},
		{"ratio_1pct", "0.01", ""},
		{"ratio_all", "1", ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			origin := rawOrigin(b, string(bytes.Repeat([]byte("x"), 128)))
			block := ""
			if c.ratio != "" {
				block = tracingBlock(testkit.StartOTLPReceiver(b), c.ratio)
			}
			var logs testkit.LogBuffer
			_, addr := tracedEngineLog(b, origin, block, false, &logs)
			client, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			defer client.Close()
			before := processCPU(b)
			benchRequests(b, client, get+c.extra+"\r\n")
			b.ReportMetric(float64((processCPU(b)-before).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is the CPU time (user and system) the process has used.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
