// Command failover runs a failure scenario against a real tollgate: three
// origin targets behind one upstream with a breaker, active health checks
// and retries; one target starts failing (500s or connection resets) part
// way through and recovers later. It prints the error rate clients saw
// before, during and after the failure, and how long the gateway took to
// eject the failing target and to take it back.
//
// Usage (from the module root):
//
//	go build -o /tmp/tollgate ./cmd/tollgate
//	go run ./bench/failover -bin /tmp/tollgate [-mode 500|reset] [-rate 400] [-retries=true]
//
// Without -bin it builds ./cmd/tollgate into a temporary directory first.
// The default run takes about 20 s: 6 s before, 7 s failing, 7 s after.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

// options are the command's flags.
type options struct {
	bin     string
	mode    string
	rate    int
	workers int
	before  time.Duration
	during  time.Duration
	after   time.Duration
	retries bool
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "", "tollgate binary (default: go build ./cmd/tollgate)")
	flag.StringVar(&o.mode, "mode", "500", "how the failing target fails: 500 (every answer, /healthz too) or reset (every connection reset)")
	flag.IntVar(&o.rate, "rate", 400, "client requests per second (open loop; ticks with every worker busy are dropped)")
	flag.IntVar(&o.workers, "workers", 16, "concurrent client workers")
	flag.DurationVar(&o.before, "before", 6*time.Second, "healthy phase before the failure")
	flag.DurationVar(&o.during, "during", 7*time.Second, "how long the target fails")
	flag.DurationVar(&o.after, "after", 7*time.Second, "phase after the target recovers")
	flag.BoolVar(&o.retries, "retries", true, `retry failed GETs on another target (retries: {attempts: 1, on: [connect_failure, reset, "500"]})`)
	flag.Parse()
	if o.mode != "500" && o.mode != "reset" {
		fmt.Fprintln(os.Stderr, "failover: -mode must be 500 or reset")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "failover:", err)
		os.Exit(1)
	}
}

// run sets up origins and the gateway, drives the load through the three
// phases and prints the report.
func run(o options) error {
	bin, cleanup, err := gatewayBinary(o.bin)
	if err != nil {
		return err
	}
	defer cleanup()
	origins, err := startOrigins(3, o.mode)
	if err != nil {
		return err
	}
	defer stopOrigins(origins)
	gw, err := startGateway(bin, gatewayConfig(origins, o.retries))
	if err != nil {
		return err
	}
	defer gw.stop()

	victim := origins[0]
	l := startLoad(gw.addr, o.rate, o.workers)
	start := time.Now()
	time.Sleep(o.before)
	failAt := time.Now()
	victim.failing.Store(true)
	time.Sleep(o.during)
	recoverAt := time.Now()
	victim.failing.Store(false)
	time.Sleep(o.after)
	recs := l.stop()
	end := time.Now()
	gw.stop()

	printReport(reportInput{
		opts: o, start: start, failAt: failAt, recoverAt: recoverAt, end: end,
		records: recs, dropped: l.dropped, victim: victim.name,
		events: victimEvents(gw.logs.String(), victim.addr),
	})
	return nil
}
