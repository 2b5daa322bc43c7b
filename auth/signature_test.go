package auth

import (
	"testing"
	"time"

	"tollgate/auth/httpsig"
	"tollgate/conf"
	"tollgate/internal/testkit"
)

// sigFields is httpsig.Fields over pairs.
type sigFields [][2]string

func (f sigFields) Len() int                      { return len(f) }
func (f sigFields) At(i int) (name, value []byte) { return []byte(f[i][0]), []byte(f[i][1]) }

const sigSecret = "0123456789abcdef0123456789abcdef"

// newSigAuth returns an Authenticator with one hmac key (partner-x) on
// clock.
func newSigAuth(t testing.TB, clock *testkit.Clock, cacheSize int) (*Authenticator, *httpsig.Key) {
	t.Helper()
	cfg := conf.Auth{Signatures: &conf.Signatures{
		Keys:       []conf.SignatureKey{{KeyID: "k1", ClientID: "partner-x", Alg: httpsig.AlgHMACSHA256, SecretFile: writeFile(t, "secret", []byte(sigSecret))}},
		Components: []string{"@method", "@authority", "@path", "@query"}, MaxAge: time.Minute,
		RequireNonce: true, MaxBodyBytes: 1024, NonceCacheSize: cacheSize,
	}}
	a, err := New(cfg, nil, Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := httpsig.NewSecretKey([]byte(sigSecret))
	return a, key
}

// signedCreds signs GET /p at created with nonce.
func signedCreds(t testing.TB, key *httpsig.Key, created time.Time, nonce string) Credentials {
	t.Helper()
	m := httpsig.Message{Method: []byte("GET"), Scheme: "http", Authority: []byte("api.test"), Target: []byte("/p?q=1"), Fields: sigFields{}}
	in, sig, err := httpsig.Sign(&m, key, httpsig.SignOptions{KeyID: "k1", Created: created, Nonce: nonce, NoNonce: nonce == "",
		Components: []httpsig.Component{{Name: "@method"}, {Name: "@authority"}, {Name: "@path"}, {Name: "@query"}}})
	if err != nil {
		t.Fatal(err)
	}
	m.Fields = sigFields{{"Signature-Input", in}, {"Signature", sig}}
	return Credentials{Signed: &SignedRequest{Msg: m}}
}

func TestSignatureWindowAndNonces(t *testing.T) {
	clock := testkit.NewClock(testEpoch)
	a, key := newSigAuth(t, clock, 3)
	methods := []string{conf.AuthSignature}
	decide := func(c Credentials) string {
		id, err, done := a.Decide(methods, nil, c)
		switch {
		case !done:
			return "pending"
		case err != nil:
			return err.Reason
		}
		return id.ClientID
	}
	now := clock.Now()
	for _, c := range []struct {
		name string
		cred Credentials
		want string
	}{
		{"fresh", signedCreds(t, key, now, "n1"), "partner-x"},
		{"replayed", signedCreds(t, key, now, "n1"), ReasonReplayed},
		{"no nonce", signedCreds(t, key, now, ""), ReasonMissingNonce},
		{"too old", signedCreds(t, key, now.Add(-2*time.Minute), "n2"), ReasonExpired},
		{"from the future", signedCreds(t, key, now.Add(2*time.Minute), "n3"), ReasonIssuedInFuture},
		{"second nonce", signedCreds(t, key, now, "n4"), "partner-x"},
		{"third nonce", signedCreds(t, key, now, "n5"), "partner-x"},
		{"cache at its bound", signedCreds(t, key, now, "n6"), ReasonNonceCacheFull},
	} {
		if got := decide(c.cred); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	// Two spans later the old generations are gone: room again, and n1
	// is too old to be replayed anyway (its created is out of the window).
	clock.Advance(5 * time.Minute)
	if got := decide(signedCreds(t, key, clock.Now(), "n7")); got != "partner-x" {
		t.Errorf("after the nonces expired: %s", got)
	}
	if got := decide(signedCreds(t, key, now, "n1")); got != ReasonExpired {
		t.Errorf("an old replay: %s, want %s", got, ReasonExpired)
	}
	// A reload keeps the nonces.
	b, err := New(a.cfg, a, Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err, _ := b.Decide(methods, nil, signedCreds(t, key, clock.Now(), "n7")); err == nil || err.Reason != ReasonReplayed {
		t.Errorf("after a reload, a replay: %v", err)
	}
}

func TestSignatureBodyRules(t *testing.T) {
	clock := testkit.NewClock(testEpoch)
	a, key := newSigAuth(t, clock, 100)
	c := signedCreds(t, key, clock.Now(), "b1")
	c.Signed.HasBody = true // a body the signature does not cover (no content-digest)
	c.Signed.Body = []byte("x")
	if _, err, _ := a.Decide([]string{conf.AuthSignature}, nil, c); err == nil || err.Reason != ReasonMissingComponent {
		t.Errorf("a body without content-digest: %v", err)
	}
}

// BenchmarkSignatureHMAC verifies an hmac-sha256 signed GET: parsing
// both fields (httpsfv), the checks, the base and the MAC. The signature
// has no nonce (require_nonce off), so every round verifies in full
// without filling the nonce cache.
func BenchmarkSignatureHMAC(b *testing.B) {
	clock := testkit.NewClock(testEpoch)
	a, key := newSigAuth(b, clock, 10)
	a.sigs.nonce = false
	c := signedCreds(b, key, clock.Now(), "")
	methods := []string{conf.AuthSignature}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err, _ := a.Decide(methods, nil, c); err != nil {
			b.Fatal(err)
		}
	}
}
