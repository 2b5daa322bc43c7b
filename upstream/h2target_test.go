package upstream

import (
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"tollgate/conf"
	"tollgate/internal/testkit"
	"tollgate/proxy/http1"
)

// h2cConf is one h2c upstream with the given targets.
func h2cConf(addrs ...string) *conf.Upstream {
	u := poolConf(defaultPool, addrs...)
	u.Protocol = conf.ProtocolH2C
	return u
}

// bridgeExchange sends GET /n on c and reads the answer as the exchange
// does, from c.R.
func bridgeExchange(t *testing.T, c *Conn) string {
	t.Helper()
	if _, err := io.WriteString(c, "GET /n HTTP/1.1\r\nHost: h\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var p http1.Response
	if err := p.ReadHead(c.R, 64<<10); err != nil {
		t.Fatal(err)
	}
	if err := p.Parse(); err != nil || p.ContentLen < 0 {
		t.Fatalf("parse: %v (length %d)", err, p.ContentLen)
	}
	body := make([]byte, p.ContentLen)
	if _, err := io.ReadFull(c.R, body); err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// An h2c target lends Bridges: none to the event loops, the same one
// again after a clean exchange, every exchange a stream on one TCP
// connection; a reload that changes the protocol builds a new Target.
func TestH2CTargetLendsBridges(t *testing.T) {
	srv := testkit.StartH2C(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "2")
		io.WriteString(w, r.Proto[5:6]+"!")
	}), 0)
	reg := testRegistry(t, registryOptions{})
	s1, err := reg.Apply(map[string]*conf.Upstream{"u": h2cConf(srv.Addr)})
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Release()
	tg := s1.Get("u").Targets()[0]
	c := mustAcquire(t, tg)
	if c.Sock.FD() >= 0 || c.bridge == nil {
		t.Fatal("an h2c target lent a socket")
	}
	if got := bridgeExchange(t, c); got != "2!" {
		t.Fatalf("answer %q, want the origin's over HTTP/2", got)
	}
	c.Release()
	if tg.Idle() != 1 {
		t.Fatalf("idle bridges after a clean exchange: %d, want 1", tg.Idle())
	}
	if _, ok := tg.AcquireIdle(1, false); ok {
		t.Fatal("an event loop got a bridge")
	}
	again := mustAcquire(t, tg)
	if again != c || !again.Reused {
		t.Fatal("the idle bridge was not lent again")
	}
	bridgeExchange(t, again)
	again.Release()
	if n := srv.Conns.Load(); n != 1 {
		t.Fatalf("%d TCP connections for two exchanges, want 1", n)
	}

	s2, err := reg.Apply(map[string]*conf.Upstream{"u": poolConf(defaultPool, srv.Addr)})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Release()
	if s2.Get("u").Targets()[0] == tg {
		t.Fatal("a reload from h2c to http1 kept the Target")
	}
}

// A down h2c target fails Acquire with a *DialError, as a TCP one does.
func TestH2CTargetDown(t *testing.T) {
	reg := testRegistry(t, registryOptions{})
	s, err := reg.Apply(map[string]*conf.Upstream{"u": h2cConf(testkit.FreeAddr(t))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	tg := s.Get("u").Targets()[0]
	_, err = tg.Acquire(time.Now().Add(5 * time.Second))
	var de *DialError
	if !errors.As(err, &de) {
		t.Fatalf("Acquire on a closed port: %v, want a *DialError", err)
	}
	if tg.Active() != 0 {
		t.Fatalf("%d connections still counted after a failed dial", tg.Active())
	}
}
