package auth

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tollgate/conf"
	"tollgate/internal/testkit"
)

// benchJWT measures one Authenticate call for a token the client reuses,
// with the verified-token cache on (cacheSize 0 = default) or off (-1).
func benchJWT(b *testing.B, m jwt.SigningMethod, cacheSize int) {
	clock := testkit.NewClock(testEpoch)
	secret := []byte("0123456789abcdef0123456789abcdef")
	ec := ecKey(b)
	var signKey any
	var keyFile []byte
	switch m {
	case jwt.SigningMethodRS256:
		signKey, keyFile = rsaKey(b, 0), pemPublic(b, &rsaKey(b, 0).PublicKey)
	case jwt.SigningMethodES256:
		signKey, keyFile = ec, pemPublic(b, &ec.PublicKey)
	default:
		signKey, keyFile = secret, secret
	}
	cfg := conf.Auth{JWT: &conf.JWT{Issuer: "https://auth.test", Audiences: []string{"api"},
		Algorithms: []string{m.Alg()}, Leeway: 30 * time.Second,
		Keys: []conf.JWTKey{{File: writeFile(b, "key", keyFile)}}}}
	a := mustNew(b, cfg, nil, Options{Now: clock.Now, CacheSize: cacheSize})
	creds := bearerCreds(sign(b, m, signKey, "", claimsAt(clock.Now())))
	methods, scopes := []string{conf.AuthJWT}, []string{"read"}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := a.Authenticate(context.Background(), methods, scopes, creds); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJWTCached(b *testing.B) {
	for _, m := range []jwt.SigningMethod{jwt.SigningMethodRS256, jwt.SigningMethodES256, jwt.SigningMethodHS256} {
		b.Run(m.Alg(), func(b *testing.B) { benchJWT(b, m, 0) })
	}
}

func BenchmarkJWTUncached(b *testing.B) {
	for _, m := range []jwt.SigningMethod{jwt.SigningMethodRS256, jwt.SigningMethodES256, jwt.SigningMethodHS256} {
		b.Run(m.Alg(), func(b *testing.B) { benchJWT(b, m, -1) })
	}
}

// BenchmarkAPIKey is the cost of an API-key check (one SHA-256 and a
// constant-time scan of the configured hashes).
func BenchmarkAPIKey(b *testing.B) {
	keys := []conf.APIKey{}
	for i := range 10 {
		keys = append(keys, conf.APIKey{SHA256: hexSum(goodAPIKey + string(rune('a'+i))), ClientID: "c"})
	}
	keys = append(keys, conf.APIKey{SHA256: hexSum(goodAPIKey), ClientID: "partner-x"})
	a := mustNew(b, conf.Auth{APIKeys: &conf.APIKeys{Keys: keys}}, nil, Options{})
	creds, methods := Credentials{APIKey: []byte(goodAPIKey)}, []string{conf.AuthAPIKey}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(context.Background(), methods, nil, creds); err != nil {
			b.Fatal(err)
		}
	}
}
