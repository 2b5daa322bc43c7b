// Package monitoring holds tollgate's monitoring assets — a Grafana
// dashboard (grafana-dashboard.json) and Prometheus alert rules
// (alerts.yml, unit-tested by alerts_test.yml) — and the test that keeps
// them true: the rules pass `promtool check rules` and `promtool test
// rules`, every alert has a unit test that fires it, the dashboard's
// queries are valid PromQL, and every metric either uses is one the
// gateway's code registers. No request passes through here; these read
// what the admin listener's /metrics serves.
package monitoring

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// promtool returns the path of promtool. It is required under CI (the CI
// environment variable set, as .ci/run does), which installs it with
// Debian's prometheus package; locally a missing promtool skips the test.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool not found in PATH (.ci/run installs Debian's prometheus package)")
		}
		t.Skip("promtool not installed (apt-get install prometheus); CI requires it")
	}
	return p
}

// runPromtool runs promtool with args and fails the test with its output
// when it does not exit 0.
func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(promtool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestAlertRulesCheck(t *testing.T) {
	runPromtool(t, "check", "rules", "alerts.yml")
}

func TestAlertRulesUnitTests(t *testing.T) {
	runPromtool(t, "test", "rules", "alerts_test.yml")
}

// ruleFile is the part of a Prometheus rule file the tests read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert  string `yaml:"alert,omitempty"`
			Record string `yaml:"record,omitempty"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// alertExprs returns every alert of alerts.yml with its expression.
func alertExprs(t *testing.T) map[string]string {
	t.Helper()
	var rf ruleFile
	readYAML(t, "alerts.yml", &rf)
	out := map[string]string{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			out[r.Alert] = r.Expr
		}
	}
	if len(out) == 0 {
		t.Fatal("alerts.yml has no alerts")
	}
	return out
}

func readYAML(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// TestEveryAlertIsTested: alerts_test.yml makes each alert fire at least
// once, so no rule is left untested.
func TestEveryAlertIsTested(t *testing.T) {
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	readYAML(t, "alerts_test.yml", &tests)
	fired := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fired[a.Alertname] = true
			}
		}
	}
	for name := range alertExprs(t) {
		if !fired[name] {
			t.Errorf("alert %s has no test in alerts_test.yml that expects it to fire", name)
		}
	}
}

// dashboardExprs returns the PromQL of every panel of the dashboard (rows'
// nested panels included), keyed by panel title and target.
func dashboardExprs(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string  `json:"title"`
		Panels  []panel `json:"panels"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	}
	var dash struct {
		UID    string  `json:"uid"`
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	out := map[string]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				out[p.Title+" "+tg.RefID] = tg.Expr
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	if dash.UID == "" || len(out) == 0 {
		t.Fatal("grafana-dashboard.json has no uid or no queries")
	}
	return out
}

// TestDashboardQueriesAreValidPromQL writes every dashboard query, with
// Grafana's variables given values, as a recording rule and has promtool
// check the file.
func TestDashboardQueriesAreValidPromQL(t *testing.T) {
	bin := promtool(t)
	exprs := dashboardExprs(t)
	vars := strings.NewReplacer("$__rate_interval", "5m", "$instance", ".*", "${datasource}", "")
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	for _, key := range sortedKeys(exprs) {
		rules = append(rules, rule{Record: "dashboard:query", Expr: vars.Replace(exprs[key])})
	}
	data, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "check", "rules", file).CombinedOutput(); err != nil {
		t.Fatalf("a dashboard query is not valid PromQL: %v\n%s", err, out)
	}
}

// metricName finds tollgate's metric names in PromQL.
var metricName = regexp.MustCompile(`\btollgate_[a-z0-9_]+\b`)

// registeredMetrics returns the tollgate_ metric names written as string
// literals in the repository's non-test Go code (where collectors are
// registered), plus the histogram series suffixes.
func registeredMetrics(t *testing.T) map[string]bool {
	t.Helper()
	literal := regexp.MustCompile(`"(tollgate_[a-z0-9_]+)"`)
	names := map[string]bool{}
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "../.." || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range literal.FindAllStringSubmatch(string(src), -1) {
			names[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !names["tollgate_requests_total"] {
		t.Fatalf("found no tollgate metrics in the Go code (got %v)", names)
	}
	return names
}

// TestAssetsUseRealMetrics: every tollgate_ metric the alerts and the
// dashboard query is registered by the gateway's code.
func TestAssetsUseRealMetrics(t *testing.T) {
	known := registeredMetrics(t)
	queries := map[string]string{}
	for name, expr := range alertExprs(t) {
		queries["alerts.yml "+name] = expr
	}
	for name, expr := range dashboardExprs(t) {
		queries["grafana-dashboard.json "+name] = expr
	}
	for _, where := range sortedKeys(queries) {
		for _, name := range metricName.FindAllString(queries[where], -1) {
			base := name
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(name, suffix); ok && known[b] {
					base = b
				}
			}
			if !known[base] {
				t.Errorf("%s queries %s, which the gateway does not register", where, name)
			}
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
