// Command h2attack sends one of two HTTP/2 denial-of-service attacks on a
// single connection for a bounded time and reports how the server took
// it:
//
//   - rapid-reset (CVE-2023-44487): HEADERS opening a stream, at once
//     RST_STREAM(CANCEL) on it, the next stream, and so on: the server
//     may start work for each stream the client has already cancelled;
//   - continuation (the CONTINUATION flood of 2024): one HEADERS frame
//     without END_HEADERS, then CONTINUATION frames without END_HEADERS
//     for ever: a server that buffers the header block until it ends
//     keeps growing.
//
// The frames are written with golang.org/x/net/http2's Framer and header
// blocks encoded with its hpack Encoder. A reader drains what the server
// sends (acknowledging SETTINGS and PING) and notes a GOAWAY and the
// connection's end (EOF or reset). The attack stops at -duration, when the
// server closes the connection, or when a write stays blocked for
// -write-timeout (the server stopped reading: the attack is bounded by
// TCP flow control). It is meant for the gateway's tests and for trying a
// server by hand, against loopback.
//
// Usage:
//
//	h2attack -addr 127.0.0.1:8080 -attack rapid-reset -duration 3s [-rate 10000] [-tls] [-json]
//	h2attack -addr 127.0.0.1:8443 -tls -attack continuation -duration 3s
//
// -rate paces the attack (stream pairs, or CONTINUATION frames, per
// second; 0: as fast as the connection takes them). The report is one
// line of key=value pairs, or a JSON object with -json (see report).
package main

import (
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:8080", "server address (host:port)")
	flag.BoolVar(&o.tls, "tls", false, "connect with TLS and ALPN h2 (certificate not verified) instead of h2c")
	flag.StringVar(&o.attack, "attack", "rapid-reset", "rapid-reset or continuation")
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "how long the attack lasts at most")
	flag.IntVar(&o.rate, "rate", 0, "stream pairs (rapid-reset) or CONTINUATION frames per second; 0 = unpaced")
	flag.StringVar(&o.path, "path", "/h2attack", "request path of the attacking streams")
	flag.DurationVar(&o.writeTimeout, "write-timeout", 2*time.Second, "a write blocked this long ends the attack")
	asJSON := flag.Bool("json", false, "print the report as JSON")
	flag.Parse()
	if o.attack != "rapid-reset" && o.attack != "continuation" {
		fmt.Fprintf(os.Stderr, "h2attack: -attack %q: want rapid-reset or continuation\n", o.attack)
		os.Exit(2)
	}
	if o.tls {
		o.tlsConfig = &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}} //nolint:gosec // loopback test tool
	}
	r, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "h2attack:", err)
		os.Exit(1)
	}
	if *asJSON {
		json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	fmt.Println(r.String())
}
