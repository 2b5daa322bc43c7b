package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tollgate/conf"
	"tollgate/internal/testkit"
)

// TestPlanAndTenantFromJWT: plan_claim and tenant_claim are read from a
// verified token; absent, non-string or unsafe values read as none.
func TestPlanAndTenantFromJWT(t *testing.T) {
	f := newJWTFixture(t, func(c *conf.JWT) { c.PlanClaim, c.TenantClaim = "plan", "org" })
	for _, tc := range []struct {
		plan, org any
		want      [2]string
	}{
		{"gold", "acme", [2]string{"gold", "acme"}},
		{nil, nil, [2]string{"", ""}},
		{42, "a\r\nb", [2]string{"", ""}},
	} {
		c := claimsAt(f.clock.Now())
		if tc.plan != nil {
			c["plan"] = tc.plan
		}
		if tc.org != nil {
			c["org"] = tc.org
		}
		id, err := f.auth(sign(t, jwt.SigningMethodRS256, rsaKey(t, 0), "", c))
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		if got := [2]string{id.Plan, id.Tenant}; got != tc.want {
			t.Errorf("plan, tenant = %q, want %q", got, tc.want)
		}
	}
}

// TestPlanAndTenantFromIntrospection: the configured members of the
// introspection response.
func TestPlanAndTenantFromIntrospection(t *testing.T) {
	srv := newIntroServer(t)
	clock := testkit.NewClock(testEpoch)
	a := mustNew(t, conf.Auth{Introspection: &conf.Introspection{
		URL: srv.URL, ClientID: "gateway", ClientSecret: "s3cret", CacheTTL: time.Minute, Timeout: time.Second,
		PlanClaim: "plan", TenantClaim: "tenant",
	}}, nil, Options{Now: clock.Now})
	srv.set("tok", map[string]any{"active": true, "client_id": "svc", "plan": "free", "tenant": "t1"})
	id, err := a.Authenticate(context.Background(), []string{conf.AuthIntrospection}, nil, bearerCreds("tok"))
	if err != nil || id.Plan != "free" || id.Tenant != "t1" {
		t.Fatalf("identity %+v, err %v", id, err)
	}
}

// TestPlanAndTenantFromAPIKey: an API key entry's plan and tenant.
func TestPlanAndTenantFromAPIKey(t *testing.T) {
	sum := sha256.Sum256([]byte("k1"))
	a := mustNew(t, conf.Auth{APIKeys: &conf.APIKeys{Header: "X-API-Key", Keys: []conf.APIKey{
		{SHA256: hex.EncodeToString(sum[:]), ClientID: "c1", Plan: "gold", Tenant: "acme"},
	}}}, nil, Options{})
	id, err := a.Authenticate(context.Background(), []string{conf.AuthAPIKey}, nil, Credentials{APIKey: []byte("k1")})
	if err != nil || id.ClientID != "c1" || id.Plan != "gold" || id.Tenant != "acme" {
		t.Fatalf("identity %+v, err %v", id, err)
	}
}
