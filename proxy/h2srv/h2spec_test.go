package h2srv

import (
	"strings"
	"testing"

	"tollgate/internal/testkit"
)

// TestH2Spec runs h2spec (github.com/summerwind/h2spec, all 145 cases of
// its generic, http2 and hpack groups) over h2c against the harness
// (harness_test.go): a Conn per connection, each request answered 200
// with 1 KiB once its body is read. Every case must pass; the test fails
// listing each one h2spec failed, errored or skipped. h2spec missing: the
// test fails under CI (.ci/run installs it) and is skipped elsewhere.
func TestH2Spec(t *testing.T) {
	h2spec := testkit.H2Spec(t)
	addr := startHarness(t, Config{}, func() Handler { return newAnswerHandler(oneKiB) })
	cases := testkit.RunH2Spec(t, h2spec, addr, false)
	t.Logf("h2spec: %d cases, %d did not pass", len(cases), len(testkit.H2SpecNotPassed(cases)))
	if len(cases) < testkit.H2SpecCases {
		t.Errorf("h2spec reported %d cases, want at least %d", len(cases), testkit.H2SpecCases)
	}
	if bad := testkit.H2SpecNotPassed(cases); len(bad) > 0 {
		t.Errorf("h2spec: %d of %d cases did not pass:\n%s", len(bad), len(cases), strings.Join(bad, "\n"))
	}
}
