package conf

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestPublicJSONRedactsSecrets(t *testing.T) {
	c := loadGood(t, "full.good.yaml")
	out, err := c.PublicJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"s3cret-from-file", "redis-pass", "80fd3c65b4bcf319", "80FD3C65"} {
		if bytes.Contains(out, []byte(secret)) {
			t.Errorf("PublicJSON leaks %q:\n%s", secret, out)
		}
	}
	var doc struct {
		Server struct {
			ReadHeaderTimeout string   `json:"read_header_timeout"`
			TrustedProxies    []string `json:"trusted_proxies"`
		} `json:"server"`
		Auth struct {
			Introspection struct {
				ClientSecret string `json:"client_secret"`
				CacheTTL     string `json:"cache_ttl"`
			} `json:"introspection"`
			APIKeys struct {
				Keys []APIKey `json:"keys"`
			} `json:"api_keys"`
		} `json:"auth"`
		Clients struct {
			Default struct {
				Rate string `json:"rate"`
			} `json:"default"`
		} `json:"clients"`
		Limits struct {
			Redis struct {
				Password string `json:"password"`
			} `json:"redis"`
		} `json:"limits"`
		Routes []map[string]any `json:"routes"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("PublicJSON is not valid JSON: %v\n%s", err, out)
	}
	check(t, "client_secret", doc.Auth.Introspection.ClientSecret, "[redacted]")
	check(t, "password", doc.Limits.Redis.Password, "[redacted]")
	check(t, "api key", doc.Auth.APIKeys.Keys, []APIKey{{SHA256: "[redacted]", ClientID: "partner-x"}})
	check(t, "read_header_timeout", doc.Server.ReadHeaderTimeout, "5s")
	check(t, "cache_ttl", doc.Auth.Introspection.CacheTTL, "30s")
	check(t, "default rate", doc.Clients.Default.Rate, "50/s")
	check(t, "trusted_proxies[1]", doc.Server.TrustedProxies[1], "192.168.1.7/32")
	check(t, "routes", len(doc.Routes), 2)
	if _, ok := doc.Routes[0]["Line"]; ok {
		t.Errorf("json:\"-\" field Line is rendered")
	}

	// The loaded config itself keeps its secrets.
	check(t, "ClientSecret", c.Auth.Introspection.ClientSecret, "s3cret-from-file")
	check(t, "Password", c.Limits.Redis.Password, "redis-pass")
	check(t, "SHA256", c.Auth.APIKeys.Keys[0].SHA256, "80fd3c65b4bcf319f86702556606ee9d4e6caa2b853d5e11cb32dc431cdc55fc")
}

func TestPublicJSONMinimal(t *testing.T) {
	c := loadGood(t, "minimal.good.yaml")
	out, err := c.PublicJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"routes":[]`, `"trusted_proxies":[]`, `"idle_timeout":"1m0s"`, `"auth":{}`, `"rate":"100/s"`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("PublicJSON lacks %s:\n%s", want, out)
		}
	}
	if bytes.Contains(out, []byte(`"password"`)) || bytes.Contains(out, []byte(`"client_secret"`)) {
		t.Errorf("PublicJSON shows unset secret fields:\n%s", out)
	}
}
