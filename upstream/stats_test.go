package upstream

import (
	"testing"

	"tollgate/conf"
)

// TestTryCounts counts finished tries and failures on a target without a
// breaker; outcomes the target is not to blame for are not failures.
func TestTryCounts(t *testing.T) {
	r := testRegistry(t, registryOptions{})
	_, tg := singleTarget(t, r, conf.Pool{}, "127.0.0.1:1")
	for _, o := range []Outcome{{}, {Status: 200}, {Status: 503}, {ConnectFailure: true}, {Timeout: true}, {Reset: true}, {Status: 404}} {
		tr, err := tg.Begin()
		if err != nil {
			t.Fatal(err)
		}
		tr.Done(o)
	}
	Try{}.Done(Outcome{Status: 500}) // the zero Try counts nowhere
	if tries, failures := tg.TryCounts(); tries != 7 || failures != 4 {
		t.Errorf("TryCounts = %d, %d; want 7 tries, 4 failures", tries, failures)
	}
	if tg.HealthChecked() {
		t.Error("a target without health_check reports health checks")
	}
}
