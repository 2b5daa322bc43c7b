package conf

import "testing"

// TestTracingOffByDefault: no tracing block, no tracing.
func TestTracingOffByDefault(t *testing.T) {
	if c := loadGood(t, "minimal.good.yaml"); c.Tracing != nil {
		t.Fatalf("Tracing = %+v, want nil (off)", c.Tracing)
	}
}

// TestTracingBlock: the keys given, and the defaults of those left out.
func TestTracingBlock(t *testing.T) {
	c := loadGood(t, "tracing.good.yaml")
	check(t, "Tracing", *c.Tracing, Tracing{
		Endpoint: "http://127.0.0.1:4317", Protocol: TracingGRPC, SampleRatio: 0.25, ServiceName: "tollgate",
	})
	c, err := Parse("t.yaml", []byte("server: {listen: \":8080\"}\ntracing: {endpoint: \"http://c:4318\"}\n"), ".")
	if err != nil {
		t.Fatal(err)
	}
	check(t, "defaults", *c.Tracing, Tracing{
		Endpoint: "http://c:4318", Protocol: TracingHTTP, SampleRatio: 0.01, ServiceName: "tollgate",
	})
}
