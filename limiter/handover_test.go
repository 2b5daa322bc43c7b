package limiter

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"tollgate/conf"
)

// spend takes n requests from a caller and returns the remaining tokens
// the last one reported.
func spend(t *testing.T, l *Limiter, client string, route string, n int) int {
	t.Helper()
	rem := -1
	for i := 0; i < n; i++ {
		d := l.Allow(client, ipA, route, "u")
		if !d.Allowed {
			t.Fatalf("%s on %s: request %d refused", client, route, i)
		}
		l.ReleaseDecision(&d, client, ipA, route)
		rem = d.Remaining
	}
	return rem
}

// handoverClients: partner-x (named, with a search override), the
// default quota with an override on route "slow", so every kind of
// bucket travels.
func handoverClients() conf.Clients {
	c := partnerClients()
	c.Default.Routes = map[string]conf.RouteQuota{"slow": {Rate: perSec(1), Burst: 10}}
	return c
}

// spentLimiter returns a limiter on the given clock with spent buckets of
// every kind, and its export.
func spentLimiter(t *testing.T) (*bytes.Buffer, HandoverStats) {
	t.Helper()
	old, _ := newLocal(t, handoverClients(), conf.Limits{})
	spend(t, old, "partner-x", "users", 15) // named base: 5 left
	spend(t, old, "partner-x", "search", 2) // named override: 0 left
	spend(t, old, "", "users", 50)          // anonymous ipA, default: 150 left
	spend(t, old, "", "slow", 4)            // anonymous ipA, default override: 6 left
	spend(t, old, "acme", "users", 30)      // unlisted client id: 170 left
	var buf bytes.Buffer
	st, err := old.ExportState(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return &buf, st
}

// TestHandoverCarriesEveryBucket: a new limiter seeded with a handover
// goes on from where the old one stopped, for named clients, their
// per-route overrides, anonymous callers and unlisted client ids.
func TestHandoverCarriesEveryBucket(t *testing.T) {
	buf, st := spentLimiter(t)
	if st.Buckets != 5 || st.Truncated {
		t.Fatalf("export: %+v, want 5 buckets", st)
	}
	fresh, _ := newLocal(t, handoverClients(), conf.Limits{})
	got, err := fresh.ImportState(buf)
	if err != nil || got.Buckets != 5 || got.Applied != 5 {
		t.Fatalf("import: %+v %v", got, err)
	}
	for _, c := range []struct {
		client, route string
		want          int
	}{{"partner-x", "users", 4}, {"", "users", 149}, {"", "slow", 5}, {"acme", "users", 169}} {
		if rem := spend(t, fresh, c.client, c.route, 1); rem != c.want {
			t.Errorf("%q on %s: remaining %d after the handover, want %d", c.client, c.route, rem, c.want)
		}
	}
	if d := fresh.Allow("partner-x", ipA, "search", "u"); d.Allowed {
		t.Error("partner-x/search was empty before the handover and is not after it")
	}
}

// TestHandoverRefillsTheTimeBetween: the time between export and import
// refills the buckets at their rate; a bucket that refilled completely is
// not applied.
func TestHandoverRefillsTheTimeBetween(t *testing.T) {
	old, clk := newLocal(t, handoverClients(), conf.Limits{})
	spend(t, old, "partner-x", "users", 20) // empty; refills 10/s
	spend(t, old, "", "slow", 2)            // 2 owed at 1/s
	var buf bytes.Buffer
	if _, err := old.ExportState(&buf); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	fresh := New(Options{Now: clk.Now, SweepInterval: -1, Shards: 16})
	t.Cleanup(fresh.Close)
	if err := fresh.Apply(handoverClients(), conf.Limits{}, nil); err != nil {
		t.Fatal(err)
	}
	st, err := fresh.ImportState(&buf)
	if err != nil || st.Applied != 2 {
		t.Fatalf("import: %+v %v", st, err)
	}
	if rem := spend(t, fresh, "partner-x", "users", 1); rem != 9 {
		t.Errorf("partner-x: remaining %d one second after emptying, want 9", rem)
	}
	if rem := spend(t, fresh, "", "slow", 1); rem != 8 {
		t.Errorf("slow: remaining %d, want 8", rem)
	}
	var again bytes.Buffer
	old.ExportState(&again) // both owe one more second
	clk.Advance(1500 * time.Millisecond)
	late := New(Options{Now: clk.Now, SweepInterval: -1, Shards: 16})
	t.Cleanup(late.Close)
	late.Apply(handoverClients(), conf.Limits{}, nil)
	if st, err := late.ImportState(&again); err != nil || st.Buckets != 2 || st.Applied != 0 {
		t.Errorf("import of buckets refilled since: %+v %v, want 2 read, none applied", st, err)
	}
}

// TestHandoverFollowsTheNewConfig: a client no longer configured is
// dropped; a changed burst keeps the spent fraction, as a reload does.
func TestHandoverFollowsTheNewConfig(t *testing.T) {
	buf, _ := spentLimiter(t)
	c := handoverClients()
	delete(c.Named, "partner-x")
	c.Named["partner-y"] = q(10, 20)
	c.Default = *q(100, 400) // burst doubled: 50 of 200 spent becomes 100 of 400
	fresh, _ := newLocal(t, c, conf.Limits{})
	st, err := fresh.ImportState(buf)
	if err != nil || st.Applied != 2 { // ipA and acme on the default; its route override is gone
		t.Fatalf("import: %+v %v", st, err)
	}
	if rem := spend(t, fresh, "", "users", 1); rem != 299 {
		t.Errorf("anonymous: remaining %d, want 299", rem)
	}
	if rem := spend(t, fresh, "partner-y", "users", 1); rem != 19 {
		t.Errorf("partner-y: remaining %d, want a full bucket", rem)
	}
}

// TestGarbledHandoverChangesNothing: a handover cut short, with a flipped
// byte, of another version or of random bytes is refused with an error
// that says so, and every bucket stays as it was.
func TestGarbledHandoverChangesNothing(t *testing.T) {
	buf, _ := spentLimiter(t)
	good := buf.Bytes()
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	version := bytes.Clone(good)
	version[4] = 9
	cases := map[string][]byte{
		"empty":     nil,
		"cut short": good[:len(good)-3],
		"flipped":   flipped,
		"version":   version,
		"random":    []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"long string": append([]byte("TGLH\x01\x00"), append(make([]byte, 8),
			kindNamed, 0xff, 0xff)...),
	}
	for name, b := range cases {
		fresh, _ := newLocal(t, handoverClients(), conf.Limits{})
		st, err := fresh.ImportState(bytes.NewReader(b))
		if err == nil || !strings.Contains(err.Error(), "limiter handover") {
			t.Errorf("%s: import returned %+v, %v; want a handover error", name, st, err)
		}
		if rem := spend(t, fresh, "partner-x", "users", 1); rem != 19 {
			t.Errorf("%s: a refused handover changed a bucket (remaining %d)", name, rem)
		}
		if n := fresh.Tracked(); n != 0 {
			t.Errorf("%s: a refused handover created %d buckets", name, n)
		}
	}
}

// FuzzImportState: no input makes the import panic, and an input it
// accepts leaves the limiter deciding.
func FuzzImportState(f *testing.F) {
	var buf bytes.Buffer
	l := New(Options{SweepInterval: -1, Shards: 16})
	l.Apply(handoverClients(), conf.Limits{}, nil)
	for i := 0; i < 25; i++ {
		d := l.Allow("partner-x", ipA, "users", "u")
		l.ReleaseDecision(&d, "partner-x", ipA, "users")
		l.Allow("", ipB, "slow", "u")
		l.Allow("acme", ipB, "users", "u")
	}
	l.ExportState(&buf)
	l.Close()
	f.Add(buf.Bytes())
	f.Add([]byte("TGLH\x01\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fresh := New(Options{SweepInterval: -1, Shards: 16})
		defer fresh.Close()
		if err := fresh.Apply(handoverClients(), conf.Limits{}, nil); err != nil {
			t.Fatal(err)
		}
		fresh.ImportState(bytes.NewReader(b))
		fresh.Allow("partner-x", ipA, "users", "u")
	})
}
