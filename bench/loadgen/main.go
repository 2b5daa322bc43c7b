// Command loadgen is the benchmark's load generator for requests wrk
// cannot make: each request signed (RFC 9421, with the auth/httpsig
// package `tollgate sign` uses, a fresh created and nonce per request), or
// sent over TLS with a client certificate. It keeps N HTTP/1.1 keep-alive
// connections busy for T seconds, one request in flight on each, and prints
// requests/s, p50/p99 latency and the request count.
//
// How one request passes through it: a connection's goroutine builds the
// request head in a reused buffer (method, target, Host, the -H headers
// and, with -sign-key, Signature-Input and Signature over the configured
// components), writes it, reads the response head and skips its body
// (Content-Length or chunked), and records the latency. A socket error is
// counted and the connection dialled again; a response other than 2xx is
// counted as non-2xx. Connections are dialled (and TLS handshakes done)
// before the clock starts.
//
// Usage:
//
//	loadgen -url http://127.0.0.1:8080/bytes/128 -c 50 -d 10s \
//	        [-H 'Name: value']... [-sign-keyid ID -sign-key FILE [-sign-alg hmac-sha256]] \
//	        [-ca ca.pem] [-cert client.pem -key client.key] [-server-name NAME]
//
// Output, on stdout: one human line, then a line for scripts in the format
// of bench/run.sh's wrk hook:
//
//	RESULT requests duration_us p50_us p99_us socket_errors non_2xx
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"tollgate/auth/httpsig"
)

func main() {
	var o options
	var headers httpsig.Pairs
	flag.StringVar(&o.url, "url", "", "http:// or https:// URL to request (GET)")
	flag.IntVar(&o.conns, "c", 50, "connections")
	flag.DurationVar(&o.duration, "d", 10*time.Second, "measured duration")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Second, "longest wait for one response")
	flag.Var(&headers, "H", "extra request header 'Name: value' (repeatable; covered when named in -sign-components)")
	flag.StringVar(&o.sign.keyID, "sign-keyid", "", "sign every request with this keyid (needs -sign-key)")
	flag.StringVar(&o.sign.keyFile, "sign-key", "", "secret file (hmac-sha256) or PEM private key")
	flag.StringVar(&o.sign.alg, "sign-alg", "hmac-sha256", "signature algorithm")
	flag.StringVar(&o.sign.components, "sign-components", "@method @authority @path @query", "covered components, space-separated")
	flag.StringVar(&o.tls.caFile, "ca", "", "PEM CA bundle the server's certificate must lead to (https)")
	flag.StringVar(&o.tls.certFile, "cert", "", "client certificate PEM (https)")
	flag.StringVar(&o.tls.keyFile, "key", "", "client certificate's key PEM (https)")
	flag.StringVar(&o.tls.serverName, "server-name", "", "TLS server name (default: the URL's host)")
	flag.Parse()
	o.headers = headers
	if flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "loadgen: unexpected arguments:", strings.Join(flag.Args(), " "))
		os.Exit(2)
	}
	res, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	fmt.Print(res.String())
}
