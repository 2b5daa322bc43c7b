package conf

import (
	"strings"
	"testing"
)

// TestAdminToken reads the admin token from the environment and from a
// file (relative to the config), and keeps it out of /config.
func TestAdminToken(t *testing.T) {
	t.Setenv("TOLLGATE_TEST_SECRET", " admin-secret\n")
	c, err := Parse("inline.yaml", []byte("server: {listen: \":8080\"}\nadmin: {token_env: TOLLGATE_TEST_SECRET}\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	check(t, "Token from env", c.Admin.Token, "admin-secret")
	js, err := c.PublicJSON()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(js), "admin-secret") || !strings.Contains(string(js), `"token":"[redacted]"`) {
		t.Errorf("/config shows the token: %s", js)
	}
	c, err = Parse("testdata/inline.yaml", []byte("server: {listen: \":8080\"}\nadmin: {token_file: secrets/introspect}\n"), "testdata")
	if err != nil {
		t.Fatal(err)
	}
	check(t, "Token from file", c.Admin.Token, "s3cret-from-file")
	c, err = Parse("inline.yaml", []byte("server: {listen: \":8080\"}\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	check(t, "no token by default", c.Admin.Token, "")
}
