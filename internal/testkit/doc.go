// Package testkit holds the helpers that tollgate's tests share across
// packages: a fake clock (Clock), bounded polling waits (Poll,
// Eventually), a goroutine-safe log sink (LogBuffer), reading Prometheus
// samples from collectors or a /metrics endpoint (Gather, Scrape,
// ParseSamples), free loopback ports (FreePort, FreeAddr), a real
// OTLP/HTTP trace receiver (StartOTLPReceiver), throwaway certificate
// authorities, certificates and CRLs (CA, Leaf), and HTTP/2 upstreams: a
// real h2c server (StartH2C) and a raw frame server for refusals and
// GOAWAYs (StartH2Frames); running h2spec and reading its report
// (H2Spec, RunH2Spec, H2SpecNotPassed), and finding tools installed with
// go install (GoToolPath).
//
// It is an ordinary package so that _test.go files anywhere in the module
// can import it; only tests do. It depends on the standard library, the
// Prometheus client, the OTLP protobuf types and x/net/http2 only, never on another
// tollgate package, so that any of them can use it in its tests.
package testkit
