package testkit

import (
	"os"
	"os/exec"
	"testing"
)

// NeedTool returns the path of an external program a test runs. Missing,
// the test fails under CI (the CI environment variable set: .ci/run
// installs what tests need) and is skipped elsewhere, saying why.
func NeedTool(t testing.TB, name, install string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found in PATH (.ci/run installs it: %s)", name, install)
	}
	t.Skipf("%s not found in PATH: %s to run this test (under CI it fails instead)", name, install)
	return ""
}
