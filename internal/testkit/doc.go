// Package testkit holds the helpers that tollgate's tests share across
// packages: a fake clock (Clock), bounded polling waits (Poll,
// Eventually), a goroutine-safe log sink (LogBuffer), reading Prometheus
// samples from collectors or a /metrics endpoint (Gather, Scrape,
// ParseSamples), free loopback ports (FreePort, FreeAddr), a real
// OTLP/HTTP trace receiver (StartOTLPReceiver) and throwaway certificate
// authorities, certificates and CRLs (CA, Leaf).
//
// It is an ordinary package so that _test.go files anywhere in the module
// can import it; only tests do. It depends on the standard library, the
// Prometheus client and the OTLP protobuf types only, never on another
// tollgate package, so that any of them can use it in its tests.
package testkit
