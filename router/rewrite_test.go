package router

import "testing"

func TestRewrite(t *testing.T) {
	tests := []struct {
		target, strip, want string
	}{
		{"/v1/users", "", "/v1/users"},
		{"/v1/users", "/v1", "/users"},
		{"/v1/users?x=1&y=%20", "/v1", "/users?x=1&y=%20"},
		{"/v1", "/v1", "/"},
		{"/v1?q", "/v1", "/?q"},
		{"/v1/", "/v1/", "/"},
		{"/v1/users", "/v1/", "/users"},
		{"/v1x", "/v1", "/x"},
		{"/v2/users", "/v1", "/v2/users"},
		{"/v", "/v1", "/v"},
		{"/%761/users", "/v1", "/%761/users"},
		{"/a?b/c", "/a?b", "/a?b/c"}, // the prefix is compared with the path only
		{"", "", "/"},
		{"?q=1", "", "/?q=1"},
	}
	for _, tc := range tests {
		got := string(Rewrite([]byte("prefix:"), []byte(tc.target), tc.strip))
		if got != "prefix:"+tc.want {
			t.Errorf("Rewrite(%q, %q) = %q, want %q", tc.target, tc.strip, got, "prefix:"+tc.want)
		}
	}
}
