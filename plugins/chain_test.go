package plugins

import (
	"reflect"
	"testing"

	"tollgate/conf"
)

// slowNamed is a Waiter: it decides at once unless the request asks it to
// wait (X-Wait), and then its Request records its name.
type slowNamed string

func (n slowNamed) Decide(x *Exchange) (*Reply, bool) {
	if x.Request.Get("X-Wait") != nil {
		return nil, true
	}
	x.Request.Add("X-Ran", string(n))
	return nil, false
}
func (n slowNamed) Request(x *Exchange) *Reply {
	x.Request.Add("X-Ran", string(n)+" waited")
	return nil
}
func (n slowNamed) Response(*Exchange) {}

// Decide stops at a filter that must wait and says where; the chain goes
// on from the next filter once the wait answered. RunRequest waits inline.
func TestChainDecideStopsAtAWaiter(t *testing.T) {
	chain := Chain{named("a"), slowNamed("auth"), named("b")}
	x := newExchange("GET", newKVHead())
	if r, at, pending := chain.Decide(x, 0); r != nil || pending || at != 3 {
		t.Fatalf("nothing to wait for: %+v, %d, %v", r, at, pending)
	}
	x = newExchange("GET", newKVHead())
	x.Request.Set("X-Wait", "1")
	r, at, pending := chain.Decide(x, 0)
	if r != nil || !pending || at != 1 {
		t.Fatalf("Decide = %+v, %d, %v; want pending at 1", r, at, pending)
	}
	if r := chain.Wait(x, at); r != nil {
		t.Fatalf("Wait = %+v", r)
	}
	if r, at, pending := chain.Decide(x, at+1); r != nil || pending || at != 3 {
		t.Fatalf("after the wait: %+v, %d, %v", r, at, pending)
	}
	if got := x.Request.(*kvHead).values("X-Ran"); !reflect.DeepEqual(got, []string{"a", "auth waited", "b"}) {
		t.Errorf("X-Ran = %v", got)
	}
	x = newExchange("GET", newKVHead())
	x.Request.Set("X-Wait", "1")
	if r, n := chain.RunRequest(x); r != nil || n != 3 {
		t.Fatalf("RunRequest = %+v, %d", r, n)
	}
	if got := x.Request.(*kvHead).values("X-Ran"); !reflect.DeepEqual(got, []string{"a", "auth waited", "b"}) {
		t.Errorf("RunRequest: X-Ran = %v", got)
	}
}

// TestChainKind names the filters a trace span can wait on.
func TestChainKind(t *testing.T) {
	a := NewAuthFilter(nil, &conf.Route{Name: "r", Auth: []string{conf.AuthJWT}}, nil, "")
	l := NewLimitFilter(limitLimiter(t), &conf.Route{Name: "r", Limit: true}, "ietf", nil)
	c := Chain{a, l, slowNamed("other")}
	for i, want := range []string{"auth", "quota", "filter"} {
		if got := c.Kind(i); got != want {
			t.Errorf("Kind(%d) = %q, want %q", i, got, want)
		}
	}
}
