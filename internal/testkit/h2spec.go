package testkit

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// H2SpecVersion is the h2spec (github.com/summerwind/h2spec) .ci/run
// installs.
const H2SpecVersion = "2.2.1"

// H2SpecCases is how many cases h2spec H2SpecVersion runs (its generic,
// http2 and hpack groups).
const H2SpecCases = 145

// H2Spec returns the path of h2spec (GoToolPath: missing, the test fails
// under CI and is skipped elsewhere).
func H2Spec(t testing.TB) string {
	t.Helper()
	return GoToolPath(t, "h2spec", "go install github.com/summerwind/h2spec/cmd/h2spec@v"+H2SpecVersion+"+incompatible")
}

// H2SpecCase is one <testcase> of h2spec's JUnit report.
type H2SpecCase struct {
	Package string       `xml:"package,attr"` // e.g. http2/6.5.3
	Name    string       `xml:"classname,attr"`
	Error   *H2SpecState `xml:"error"`
	Failure *H2SpecState `xml:"failure"`
	Skipped *H2SpecState `xml:"skipped"`
}

// H2SpecState is a case's <error>, <failure> or <skipped>: for the first
// two, the events h2spec expected and what came instead.
type H2SpecState struct {
	Text string `xml:",chardata"`
}

// Passed reports a case that neither failed, errored nor was skipped.
func (c H2SpecCase) Passed() bool { return c.Error == nil && c.Failure == nil && c.Skipped == nil }

// String names the case and how it ended.
func (c H2SpecCase) String() string {
	state := "passed"
	if c.Skipped != nil {
		state = "skipped"
	}
	for _, s := range []*H2SpecState{c.Error, c.Failure} {
		if s != nil {
			state = "failed: " + strings.Join(strings.Fields(s.Text), " ")
		}
	}
	return fmt.Sprintf("  %s %s: %s", c.Package, c.Name, state)
}

// H2SpecNotPassed lists, one line each, the cases that did not pass.
func H2SpecNotPassed(cases []H2SpecCase) []string {
	var bad []string
	for _, c := range cases {
		if !c.Passed() {
			bad = append(bad, c.String())
		}
	}
	return bad
}

// RunH2Spec runs h2spec (-o 3: three seconds per case) against addr (over
// TLS without verifying the certificate when tls is set) and returns the
// cases of its JUnit report; its text output is logged when the test
// fails. It gives up after three minutes.
func RunH2Spec(t testing.TB, h2spec, addr string, tls bool) []H2SpecCase {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	report := filepath.Join(t.TempDir(), "h2spec.xml")
	args := []string{"-h", host, "-p", port, "-o", "3", "-j", report}
	if tls {
		args = append(args, "-t", "-k")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, h2spec, args...).CombinedOutput()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("h2spec %s (%v):\n%s", strings.Join(args, " "), err, out)
		}
	})
	if ctx.Err() != nil {
		t.Fatalf("h2spec did not finish within 3 minutes")
	}
	data, rerr := os.ReadFile(report)
	if rerr != nil {
		t.Fatalf("h2spec wrote no report (%v): %v", err, rerr)
	}
	cases, err := ParseH2SpecReport(data)
	if err != nil {
		t.Fatal(err)
	}
	return cases
}

// ParseH2SpecReport reads the cases of h2spec's JUnit report (-j). h2spec
// writes a failed case's frames as they came, so a PING's zero bytes can
// reach the report: control characters XML does not allow are read as
// U+FFFD, and the case is reported instead of the report refused.
func ParseH2SpecReport(data []byte) ([]H2SpecCase, error) {
	data = bytes.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
			return '\uFFFD'
		}
		return r
	}, data)
	var doc struct {
		Suites []struct {
			Cases []H2SpecCase `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("h2spec report: %w", err)
	}
	var cases []H2SpecCase
	for _, s := range doc.Suites {
		cases = append(cases, s.Cases...)
	}
	return cases, nil
}

// GoToolPath finds a tool installed with `go install`: in
// $(go env GOPATH)/bin, where go install puts it (often not in PATH),
// else in PATH (NeedTool: missing, the test fails under CI and is
// skipped elsewhere).
func GoToolPath(t testing.TB, name, install string) string {
	t.Helper()
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(gopath))) {
			p := filepath.Join(dir, "bin", name)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p
			}
		}
	}
	return NeedTool(t, name, install)
}
