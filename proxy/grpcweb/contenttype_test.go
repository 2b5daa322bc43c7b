package grpcweb

import "testing"

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		ct   string
		want Mode
	}{
		{"application/grpc-web", Binary},
		{"application/grpc-web+proto", Binary},
		{"Application/GRPC-Web+json; charset=utf-8", Binary},
		{"application/grpc-web;charset=utf-8", Binary},
		{"application/grpc-web-text", Text},
		{"application/grpc-web-text+proto", Text},
		{"application/grpc", None},
		{"application/grpc+proto", None},
		{"application/grpc-webx", None},
		{"application/grpc-web-textual", None},
		{"text/plain", None},
		{"", None},
	} {
		if got := Classify([]byte(tc.ct)); got != tc.want {
			t.Errorf("Classify(%q) = %v, want %v", tc.ct, got, tc.want)
		}
	}
}

func TestWantsText(t *testing.T) {
	for _, tc := range []struct {
		accept string
		want   bool
	}{
		{"application/grpc-web-text", true},
		{"*/*, application/grpc-web-text;q=0.9", true},
		{"application/grpc-web", false},
		{"application/grpc-web-textual", false},
		{"", false},
	} {
		if got := WantsText([]byte(tc.accept)); got != tc.want {
			t.Errorf("WantsText(%q) = %v, want %v", tc.accept, got, tc.want)
		}
	}
}

func TestIsGRPCAnswer(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/grpc":            true,
		"application/grpc+proto":      true,
		"application/grpc; charset=x": true,
		"application/grpc-web+proto":  false,
		"application/grpcx":           false,
		"application/json":            false,
		"":                            false,
	} {
		if got := IsGRPCAnswer([]byte(ct)); got != want {
			t.Errorf("IsGRPCAnswer(%q) = %v, want %v", ct, got, want)
		}
	}
}

func TestContentTypeMapping(t *testing.T) {
	for _, tc := range []struct{ in, up string }{
		{"application/grpc-web", "application/grpc"},
		{"application/grpc-web+proto", "application/grpc+proto"},
		{"application/grpc-web-text+proto", "application/grpc+proto"},
		{"application/grpc-web-text", "application/grpc"},
		{"application/grpc-web+json; charset=utf-8", "application/grpc+json"},
		{"application/grpc-web;x=a+b", "application/grpc"},
		{"application/grpc-web+bad/fmt", "application/grpc"},
	} {
		if got := string(AppendUpstreamContentType(nil, []byte(tc.in))); got != tc.up {
			t.Errorf("upstream content-type of %q = %q, want %q", tc.in, got, tc.up)
		}
	}
	for _, tc := range []struct {
		up   string
		text bool
		want string
	}{
		{"application/grpc", false, "application/grpc-web+proto"},
		{"application/grpc", true, "application/grpc-web-text+proto"},
		{"application/grpc+proto", false, "application/grpc-web+proto"},
		{"application/grpc+json", true, "application/grpc-web-text+json"},
	} {
		if got := string(AppendAnswerContentType(nil, []byte(tc.up), tc.text)); got != tc.want {
			t.Errorf("answer content-type for %q (text %v) = %q, want %q", tc.up, tc.text, got, tc.want)
		}
	}
}
