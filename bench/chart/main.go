// Command chart draws bench/summary.svg, the bar chart at the top of
// bench/README.md, from the summary table in that README (the lines between
// <!-- summary:start --> and <!-- summary:end -->): for each scenario, the
// tollgate/nginx ratios of requests/s, p99 latency and CPU per request,
// against a line at 1 (nginx). The table is the one source of the numbers:
// update it after a `make bench`, then run
//
//	go run ./bench/chart
//
// (from the repository root; -readme and -out change the paths). The
// package's test fails when the committed SVG is not what the table draws.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"html"
	"math"
	"os"
	"strconv"
	"strings"
)

// Markers around the summary in the README.
const (
	startMarker = "<!-- summary:start -->"
	endMarker   = "<!-- summary:end -->"
)

// row is one scenario of the summary table.
type row struct {
	name   string
	ratios [3]float64 // requests/s, p99 latency, CPU per request
}

// summary is what the chart shows: a caption and the rows.
type summary struct {
	caption string
	rows    []row
}

func main() {
	readme := flag.String("readme", "bench/README.md", "README holding the summary table")
	out := flag.String("out", "bench/summary.svg", "SVG file to write")
	flag.Parse()
	if err := run(*readme, *out); err != nil {
		fmt.Fprintln(os.Stderr, "chart:", err)
		os.Exit(1)
	}
}

// run reads the summary from readme and writes the chart to out.
func run(readme, out string) error {
	svg, err := chartFile(readme)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, svg, 0o644); err != nil {
		return fmt.Errorf("write chart: %w", err)
	}
	return nil
}

// chartFile draws the chart of the summary in the README at path.
func chartFile(path string) ([]byte, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read summary: %w", err)
	}
	s, err := parseSummary(string(text))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return draw(s), nil
}

// parseSummary reads the caption (the first line of text between the
// markers) and the table rows (scenario | req/s | p99 | CPU) below it.
func parseSummary(text string) (summary, error) {
	_, rest, ok := strings.Cut(text, startMarker)
	if !ok {
		return summary{}, errors.New("no " + startMarker)
	}
	body, _, ok := strings.Cut(rest, endMarker)
	if !ok {
		return summary{}, errors.New("no " + endMarker)
	}
	var s summary
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "!["):
		case !strings.HasPrefix(line, "|"):
			if s.caption == "" {
				s.caption = strings.NewReplacer("`", "", "**", "").Replace(line)
			}
		default:
			r, ok, err := parseRow(line)
			if err != nil {
				return summary{}, err
			}
			if ok {
				s.rows = append(s.rows, r)
			}
		}
	}
	if len(s.rows) == 0 {
		return summary{}, errors.New("the summary has no table rows")
	}
	return s, nil
}

// parseRow reads "| name | a | b | c |"; the header and separator rows
// (whose cells are not numbers) are skipped.
func parseRow(line string) (row, bool, error) {
	cells := strings.Split(strings.Trim(line, "|"), "|")
	if len(cells) != 4 {
		return row{}, false, fmt.Errorf("summary row %q: want 4 cells", line)
	}
	r := row{name: strings.TrimSpace(cells[0])}
	for i, c := range cells[1:] {
		v, err := strconv.ParseFloat(strings.TrimSpace(c), 64)
		if err != nil {
			if i == 0 {
				return row{}, false, nil // header or separator
			}
			return row{}, false, fmt.Errorf("summary row %q: %q is not a number", line, c)
		}
		r.ratios[i] = v
	}
	return r, true, nil
}

// Layout of the chart, in pixels.
const (
	width      = 780
	labelWidth = 230
	plotLeft   = labelWidth + 10
	plotRight  = width - 50
	top        = 78
	barHeight  = 11
	groupGap   = 16
)

// series are the three bars of a scenario.
var series = [3]struct{ name, color string }{
	{"requests/s (higher is better)", "#3b73b9"},
	{"p99 latency (lower is better)", "#e08a2c"},
	{"CPU per request (lower is better)", "#4a9a5b"},
}

// draw renders the summary as an SVG bar chart.
func draw(s summary) []byte {
	maxV := 1.25
	for _, r := range s.rows {
		for _, v := range r.ratios {
			maxV = math.Max(maxV, v)
		}
	}
	maxV = math.Ceil(maxV*4) / 4
	x := func(v float64) float64 { return plotLeft + (plotRight-plotLeft)*v/maxV }
	group := 3*barHeight + groupGap
	height := top + len(s.rows)*group + 30

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="15" font-weight="bold">tollgate / nginx (1 = nginx)</text>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="40" fill="#555">%s</text>`+"\n", html.EscapeString(s.caption))
	for i, se := range series {
		lx := 10 + i*250
		fmt.Fprintf(&b, `<rect x="%d" y="50" width="12" height="12" fill="%s"/><text x="%d" y="60">%s</text>`+"\n", lx, se.color, lx+17, se.name)
	}
	for v := 0.0; v <= maxV+1e-9; v += 0.25 {
		color, w := "#e3e3e3", 1
		if math.Abs(v-1) < 1e-9 {
			color, w = "#222", 2
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="%d"/>`+"\n", x(v), top-6, x(v), height-24, color, w)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", x(v), height-10, strconv.FormatFloat(v, 'f', -1, 64))
	}
	for i, r := range s.rows {
		y0 := top + i*group
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", labelWidth, y0+barHeight*3/2+4, html.EscapeString(r.name))
		for j, v := range r.ratios {
			y := y0 + j*barHeight
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", plotLeft, y, x(v)-plotLeft, barHeight-1, series[j].color)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10" fill="#333" stroke="#fff" stroke-width="3" paint-order="stroke">%.2f</text>`+"\n", x(v)+3, y+barHeight-2, v)
		}
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}
