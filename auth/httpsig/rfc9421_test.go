package httpsig

import (
	"encoding/base64"
	"os"
	"strconv"
	"strings"
	"testing"
)

// fieldList is a Fields over name/value pairs.
type fieldList [][2]string

func (f fieldList) Len() int { return len(f) }
func (f fieldList) At(i int) (name, value []byte) {
	return []byte(f[i][0]), []byte(f[i][1])
}

// get returns the first value of name.
func (f fieldList) get(name string) string {
	for _, kv := range f {
		if strings.EqualFold(kv[0], name) {
			return kv[1]
		}
	}
	return ""
}

// readMessage reads one of the RFC's messages: a request or status line,
// fields, a blank line, the body.
func readMessage(t *testing.T, file string) (*Message, fieldList, []byte) {
	t.Helper()
	data, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	head, body, _ := strings.Cut(string(data), "\n\n")
	lines := strings.Split(head, "\n")
	m := &Message{Scheme: "https"}
	first := strings.Fields(lines[0])
	if strings.HasPrefix(first[0], "HTTP/") {
		m.Status, _ = strconv.Atoi(first[1])
	} else {
		m.Method, m.Target = []byte(first[0]), []byte(first[1])
	}
	var fields fieldList
	for _, l := range lines[1:] {
		name, value, _ := strings.Cut(l, ":")
		fields = append(fields, [2]string{name, strings.TrimSpace(value)})
	}
	m.Fields = fields
	m.Authority = []byte(fields.get("Host"))
	n, err := strconv.Atoi(fields.get("Content-Length"))
	if err != nil || n > len(body) {
		t.Fatalf("%s: Content-Length %q for %d bytes", file, fields.get("Content-Length"), len(body))
	}
	return m, fields, []byte(body[:n]) // the file ends with a newline the body does not have
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rfcKeys are the keys of RFC 9421 Appendix B.1, by keyid.
func rfcKeys(t *testing.T) map[string]*Key {
	t.Helper()
	secret, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(readFile(t, "rfc9421-test-shared-secret"))))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]*Key{}
	if keys["test-shared-secret"], err = NewSecretKey(secret); err != nil {
		t.Fatal(err)
	}
	for keyid, alg := range map[string]string{"test-key-ed25519": AlgEd25519, "test-key-ecc-p256": AlgECDSAP256, "test-key-rsa-pss": AlgRSAPSSSHA512} {
		if keys[keyid], err = ParsePublicKey(alg, readFile(t, "rfc9421-"+keyid+".pub")); err != nil {
			t.Fatalf("%s: %v", keyid, err)
		}
	}
	return keys
}

// TestRFC9421Vectors verifies the signatures of RFC 9421 Appendix B.2
// with the RFC's keys: rsa-pss-sha512 (B.2.1–B.2.3), ecdsa-p256-sha256
// (B.2.4, a response), hmac-sha256 (B.2.5) and ed25519 (B.2.6). Each also
// fails once a covered component is altered.
func TestRFC9421Vectors(t *testing.T) {
	keys := rfcKeys(t)
	for _, c := range []struct {
		file, alter string
	}{
		{"rfc9421-b21_request_signed.txt", ""}, // covers nothing but its parameters
		{"rfc9421-b22_request_signed.txt", "@authority"},
		{"rfc9421-b23_request_signed.txt", "@path"},
		{"rfc9421-b24_response_signed.txt", "@status"},
		{"rfc9421-b25_request_signed.txt", "@authority"},
		{"rfc9421-b26_request_signed.txt", "@method"},
	} {
		m, fields, body := readMessage(t, c.file)
		sigs, err := Parse(fields.get("Signature-Input"), fields.get("Signature"))
		if err != nil || len(sigs) != 1 {
			t.Fatalf("%s: Parse: %v (%d signatures)", c.file, err, len(sigs))
		}
		s := sigs[0]
		key := keys[s.Params.KeyID]
		if key == nil {
			t.Fatalf("%s: no key %q", c.file, s.Params.KeyID)
		}
		base, err := Base(m, &s)
		if err != nil {
			t.Fatalf("%s: Base: %v", c.file, err)
		}
		if err := key.Verify(base, s.Value); err != nil {
			t.Errorf("%s (%s): %v\nbase:\n%s", c.file, key.Alg, err, base)
		}
		if err := CheckDigest(fields.get("Content-Digest"), body); err != nil {
			t.Errorf("%s: Content-Digest: %v", c.file, err)
		}
		if c.alter == "" {
			continue
		}
		switch c.alter {
		case "@authority":
			m.Authority = []byte("example.org")
		case "@path":
			m.Target = []byte("/bar?param=Value&Pet=dog")
		case "@status":
			m.Status = 201
		case "@method":
			m.Method = []byte("PUT")
		}
		base, _ = Base(m, &s)
		if key.Verify(base, s.Value) == nil {
			t.Errorf("%s: still verifies with %s altered", c.file, c.alter)
		}
	}
}

// TestRFC9421DeterministicSignatures signs B.2.5 (HMAC) and B.2.6
// (Ed25519, whose private key the RFC gives) again and gets the RFC's
// exact Signature-Input and Signature.
func TestRFC9421DeterministicSignatures(t *testing.T) {
	ed, err := ParsePrivateKey(AlgEd25519, readFile(t, "rfc9421-test-key-ed25519.key"))
	if err != nil {
		t.Fatal(err)
	}
	hmacKey := rfcKeys(t)["test-shared-secret"]
	for file, key := range map[string]*Key{"rfc9421-b25_request_signed.txt": hmacKey, "rfc9421-b26_request_signed.txt": ed} {
		m, fields, _ := readMessage(t, file)
		sigs, err := Parse(fields.get("Signature-Input"), fields.get("Signature"))
		if err != nil {
			t.Fatal(err)
		}
		s := sigs[0]
		input, sig, err := Sign(m, key, SignOptions{Label: s.Label, KeyID: s.Params.KeyID, Components: s.Components,
			Created: s.Params.Created, NoNonce: true})
		if err != nil {
			t.Fatal(err)
		}
		if input != fields.get("Signature-Input") || sig != fields.get("Signature") {
			t.Errorf("%s: signed again\n  %s\n  %s\nwant\n  %s\n  %s", file, input, sig, fields.get("Signature-Input"), fields.get("Signature"))
		}
	}
}
