package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestCommittedChartIsCurrent fails when bench/summary.svg is not what the
// summary table in bench/README.md draws.
func TestCommittedChartIsCurrent(t *testing.T) {
	want, err := chartFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../summary.svg")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("bench/summary.svg is not the chart of bench/README.md's summary table: run `go run ./bench/chart` from the repository root and commit the SVG")
	}
}

func TestParseSummary(t *testing.T) {
	s, err := parseSummary("x\n" + startMarker + "\nRun of `today`.\n\n| scenario | req/s | p99 | CPU |\n| --- | --- | --- | --- |\n| GET | 1.10 | 0.90 | 0.89 |\n| POST | 1 | 2 | 3 |\n" + endMarker)
	if err != nil {
		t.Fatal(err)
	}
	if s.caption != "Run of today." || len(s.rows) != 2 || s.rows[0].name != "GET" || s.rows[0].ratios != [3]float64{1.10, 0.90, 0.89} || s.rows[1].ratios[2] != 3 {
		t.Fatalf("parsed %+v", s)
	}
	svg := string(draw(s))
	for _, want := range []string{">GET<", ">POST<", ">1.10<", ">3.00<", "Run of today."} {
		if !strings.Contains(svg, want) {
			t.Errorf("the chart lacks %q", want)
		}
	}
	for _, bad := range []string{"no markers", startMarker + "\n| a | b | c | d |\n" + endMarker, startMarker + "\n| a | 1 | x | 2 |\n" + endMarker} {
		if _, err := parseSummary(bad); err == nil {
			t.Errorf("parseSummary(%q) accepted it", bad)
		}
	}
}
