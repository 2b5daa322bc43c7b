package plugins

import (
	"net/netip"
	"testing"

	"tollgate/conf"
)

// ipRecorder counts IP-rule refusals.
type ipRecorder struct {
	authRecorder
	refusals []string
}

func (r *ipRecorder) IPRefusal(route, scope, list string) {
	r.refusals = append(r.refusals, route+" "+scope+" "+list)
}

func TestIPRulesInChain(t *testing.T) {
	pfx := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	route := &conf.Route{Name: "r", AllowCIDRs: pfx("10.0.0.0/8", "2001:db8::/32"), DenyCIDRs: pfx("10.6.6.0/24")}
	clients := conf.Clients{Named: map[string]*conf.Quota{"partner": {AllowCIDRs: pfx("10.1.0.0/16")}}}
	m := &ipRecorder{}
	setClient := func(id string) func(*conf.Route) (Filter, error) {
		return depOf(filterFunc(func(x *Exchange) *Reply { x.ClientID = id; return nil }), nil)
	}
	for _, c := range []struct {
		ip, client string
		refused    string
	}{
		{"10.1.2.3", "", ""},
		{"::ffff:10.1.2.3", "partner", ""},
		{"10.6.6.7", "", "r route deny"},
		{"11.0.0.1", "", "r route allow"},
		{"2001:db8::5", "", ""},
		{"10.2.0.1", "partner", "r client allow"},
		{"10.2.0.1", "someone-else", ""},
	} {
		m.refusals = nil
		chain, err := Build(route, Deps{Auth: setClient(c.client), Metrics: m, ClientIPRules: CompileClientIPRules(clients)})
		if err != nil {
			t.Fatal(err)
		}
		x := newExchange("GET", newKVHead())
		x.Route, x.ClientIP = "r", netip.MustParseAddr(c.ip)
		r, _ := chain.RunRequest(x)
		switch {
		case c.refused == "" && r != nil:
			t.Errorf("%s as %q: refused %+v", c.ip, c.client, r)
		case c.refused != "" && (r == nil || r.Status != 403 || r.Code != "forbidden"):
			t.Errorf("%s as %q: reply %+v, want 403 forbidden", c.ip, c.client, r)
		case c.refused != "" && (len(m.refusals) != 1 || m.refusals[0] != c.refused):
			t.Errorf("%s as %q: counted %v, want %q", c.ip, c.client, m.refusals, c.refused)
		}
	}
	if CompileClientIPRules(conf.Clients{Named: map[string]*conf.Quota{"a": {}}}) != nil {
		t.Error("clients without rules should compile to nil (no filter)")
	}
}

// filterFunc is a Filter made of its Request function.
type filterFunc func(*Exchange) *Reply

func (f filterFunc) Request(x *Exchange) *Reply { return f(x) }
func (f filterFunc) Response(*Exchange)         {}
