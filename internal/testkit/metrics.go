package testkit

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Samples maps each sample of a Prometheus text exposition, named as it is
// printed there (the metric name, then its labels sorted by name:
// `tollgate_requests_total{code="200",route="all"}`), to its value.
type Samples map[string]float64

// Family returns the samples whose metric name is name.
func (s Samples) Family(name string) Samples {
	out := Samples{}
	for k, v := range s {
		if k == name || strings.HasPrefix(k, name+"{") {
			out[k] = v
		}
	}
	return out
}

// ParseSamples reads a Prometheus text exposition (format 0.0.4, what
// /metrics serves by default). Comment and blank lines are skipped; a
// timestamp after the value is ignored.
func ParseSamples(r io.Reader) (Samples, error) {
	out := Samples{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		// The name ends at its label set's last "}" (label values may hold
		// spaces or braces, the value and timestamp do not), else at the
		// first space.
		end := strings.LastIndexByte(line, '}') + 1
		if end == 0 {
			end = strings.IndexByte(line, ' ')
		}
		if end <= 0 {
			return nil, fmt.Errorf("line %d: no value: %q", n, line)
		}
		fields := strings.Fields(line[end:])
		if len(fields) == 0 {
			return nil, fmt.Errorf("line %d: no value: %q", n, line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		out[line[:end]] = v
	}
	return out, sc.Err()
}

// Scrape fetches url (a /metrics endpoint) and returns its samples,
// failing t if the fetch or the parse fails or the status is not 200.
func Scrape(t testing.TB, url string) Samples {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("scraping %s: %s\n%s", url, resp.Status, body)
	}
	s, err := ParseSamples(resp.Body)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	return s
}

// Gather registers cs on a new pedantic registry (which also checks that
// what they collect matches what they describe) and returns the samples
// as that registry's /metrics handler prints them, so names and values
// read the same as in Scrape. It fails t if registering or gathering
// fails.
func Gather(t testing.TB, cs ...prometheus.Collector) Samples {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			t.Fatalf("registering %T: %v", c, err)
		}
	}
	rec := httptest.NewRecorder()
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("gathering: %d\n%s", rec.Code, rec.Body)
	}
	s, err := ParseSamples(rec.Body)
	if err != nil {
		t.Fatalf("gathering: %v", err)
	}
	return s
}
