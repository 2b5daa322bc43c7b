package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// event is a gateway log line about the victim target: a breaker
// transition or a health flip.
type event struct {
	at   time.Time
	what string // "breaker open", "breaker half-open", "breaker closed", "health down", "health up"
}

// victimEvents parses the gateway's JSON log for the victim's breaker
// transitions and health flips.
func victimEvents(logs, addr string) []event {
	var out []event
	for _, line := range strings.Split(logs, "\n") {
		var l struct {
			Time   time.Time `json:"time"`
			Msg    string    `json:"msg"`
			Target string    `json:"target"`
			To     string    `json:"to"`
		}
		if json.Unmarshal([]byte(line), &l) != nil || l.Target != addr {
			continue
		}
		switch l.Msg {
		case "upstream breaker state changed":
			out = append(out, event{l.Time, "breaker " + l.To})
		case "upstream target marked unhealthy":
			out = append(out, event{l.Time, "health down"})
		case "upstream target marked healthy":
			out = append(out, event{l.Time, "health up"})
		}
	}
	return out
}

// reportInput is everything the report is computed from.
type reportInput struct {
	opts                     options
	start, failAt, recoverAt time.Time
	end                      time.Time
	records                  []record
	dropped                  int
	victim                   string
	events                   []event
}

// phaseStats summarises the requests sent in one phase.
type phaseStats struct {
	requests, errors, victim int
	p50, p99                 time.Duration
}

func stats(recs []record, from, to time.Time, victim string) phaseStats {
	var s phaseStats
	var lat []time.Duration
	for _, r := range recs {
		if r.at.Before(from) || !r.at.Before(to) {
			continue
		}
		s.requests++
		if r.status != 200 {
			s.errors++
		}
		if r.origin == victim && r.status == 200 {
			s.victim++
		}
		lat = append(lat, r.latency)
	}
	slices.Sort(lat)
	if n := len(lat); n > 0 {
		s.p50, s.p99 = lat[n/2], lat[min(n*99/100, n-1)]
	}
	return s
}

func printReport(in reportInput) {
	o := in.opts
	fmt.Printf("failover: 3 targets, %s fails with %s from %.1fs to %.1fs; %d req/s, %d workers, retries %v\n\n",
		in.victim, o.mode, in.failAt.Sub(in.start).Seconds(), in.recoverAt.Sub(in.start).Seconds(), o.rate, o.workers, o.retries)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\twindow\trequests\terrors\terror rate\tserved by "+in.victim+"\tp50\tp99\t")
	phases := []struct {
		name     string
		from, to time.Time
	}{{"before", in.start, in.failAt}, {"during", in.failAt, in.recoverAt}, {"after", in.recoverAt, in.end}}
	for _, p := range phases {
		s := stats(in.records, p.from, p.to, in.victim)
		fmt.Fprintf(tw, "%s\t%.1f–%.1fs\t%d\t%d\t%s\t%s\t%v\t%v\t\n", p.name,
			p.from.Sub(in.start).Seconds(), p.to.Sub(in.start).Seconds(),
			s.requests, s.errors, pct(s.errors, s.requests), pct(s.victim, s.requests),
			s.p50.Round(10*time.Microsecond), s.p99.Round(10*time.Microsecond))
	}
	tw.Flush()
	if in.dropped > 0 {
		fmt.Printf("(%d ticks dropped: every worker busy)\n", in.dropped)
	}
	fmt.Println()
	printTimings(in)
}

// printTimings prints the time to eject and to recover, from the gateway's
// own log lines and from what clients saw.
func printTimings(in reportInput) {
	since := func(t time.Time, from time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.Sub(from).Round(time.Millisecond).String()
	}
	fmt.Printf("eject:   breaker open after %s, health check down after %s, last client error %s after the failure began\n",
		since(firstEvent(in.events, "breaker open", in.failAt), in.failAt),
		since(firstEvent(in.events, "health down", in.failAt), in.failAt),
		since(lastError(in.records, in.failAt, in.recoverAt), in.failAt))
	fmt.Printf("recover: health check up after %s, breaker closed after %s, first answer from %s %s after it recovered\n",
		since(firstEvent(in.events, "health up", in.recoverAt), in.recoverAt),
		since(firstEvent(in.events, "breaker closed", in.recoverAt), in.recoverAt),
		in.victim, since(firstServed(in.records, in.victim, in.recoverAt), in.recoverAt))
	fmt.Println("\nvictim events (s since the failure began):")
	for _, e := range in.events {
		if !e.at.Before(in.failAt) {
			fmt.Printf("  %6.3f  %s\n", e.at.Sub(in.failAt).Seconds(), e.what)
		}
	}
}

func firstEvent(evs []event, what string, after time.Time) time.Time {
	for _, e := range evs {
		if e.what == what && !e.at.Before(after) {
			return e.at
		}
	}
	return time.Time{}
}

// lastError is when the last failed request sent in [from, to) completed.
func lastError(recs []record, from, to time.Time) time.Time {
	var last time.Time
	for _, r := range recs {
		if r.status != 200 && !r.at.Before(from) && r.at.Before(to) {
			if done := r.at.Add(r.latency); done.After(last) {
				last = done
			}
		}
	}
	return last
}

// firstServed is when the first request sent after from was answered by
// the named origin.
func firstServed(recs []record, name string, from time.Time) time.Time {
	var first time.Time
	for _, r := range recs {
		if r.origin == name && r.status == 200 && !r.at.Before(from) && (first.IsZero() || r.at.Before(first)) {
			first = r.at.Add(r.latency)
		}
	}
	return first
}

func pct(n, of int) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", 100*float64(n)/float64(of))
}
