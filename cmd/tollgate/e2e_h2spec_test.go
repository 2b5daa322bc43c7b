package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"tollgate/internal/testkit"
)

// TestH2Spec runs h2spec (github.com/summerwind/h2spec: its generic,
// http2 and hpack groups, 145 cases) against the real binary over h2c
// (prior knowledge, on the plain listener) and over TLS (ALPN h2, a fresh
// self-signed certificate), each against its own gateway in front of an
// origin that answers every request with 1 KiB (h2spec skips its flow
// control cases on a body under 5 bytes). Every case must pass: the test
// fails listing each one h2spec failed, errored or skipped. The gateway's
// HTTP/2 server is proxy/h2srv, driven by proxy/h2stream; over h2c,
// http2/3.5 (bytes that are neither the preface nor HTTP/1.x) passes by
// the front door closing them without an HTTP/1.1 answer (proxy/serve.go,
// failNotHTTP).
// h2spec missing: the test fails under CI (.ci/run installs it) and is
// skipped elsewhere.
func TestH2Spec(t *testing.T) {
	h2spec := testkit.H2Spec(t)
	body := strings.Repeat("0123456789abcdef", 64)
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, body)
	})
	for _, c := range []struct {
		name string
		tls  bool
	}{{"h2c", false}, {"tls", true}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := basicConfig(o.addr, "")
			if c.tls {
				cert, key := writeSelfSigned(t, t.TempDir())
				cfg = strings.Replace(cfg, `  listen: "LISTEN"`, fmt.Sprintf("  listen: \"LISTEN\"\n  tls: {cert_file: %q, key_file: %q}", cert, key), 1)
			}
			g := startGateway(t, cfg)
			cases := testkit.RunH2Spec(t, h2spec, g.addr, c.tls)
			bad := testkit.H2SpecNotPassed(cases)
			if len(cases) < testkit.H2SpecCases {
				t.Errorf("h2spec reported %d cases, want at least %d", len(cases), testkit.H2SpecCases)
			}
			if len(bad) > 0 {
				t.Errorf("h2spec over %s: %d of %d cases did not pass:\n%s", c.name, len(bad), len(cases), strings.Join(bad, "\n"))
			}
			// http2/8.1.2.2 sends two requests with connection-specific
			// fields: each reset is counted.
			if v := g.metric(`tollgate_http2_errors_total{type="connection_specific_field"}`); v != 2 {
				t.Errorf(`tollgate_http2_errors_total{type="connection_specific_field"} = %v, want 2`, v)
			}
		})
	}
}
