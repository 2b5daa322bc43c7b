// Command jwtgen writes the keys and tokens of the benchmark's JWT
// scenarios (bench/run.sh gateway) into one directory:
//
//	hs256.secret    random shared secret (64 hex characters), for HS256
//	hs256.jwt       a token signed with it
//	rs256.pub.pem   public half of a fresh 2048-bit RSA key (PKIX PEM)
//	rs256.jwt       a token signed with the private half (never written)
//
// Both tokens carry iss, aud, sub, client_id, scope, iat and an exp far in
// the future, so one token serves every request of a run.
//
// Usage:
//
//	jwtgen -dir bench/out/jwt [-client bench-client] [-issuer …] [-audience …] [-ttl 87600h]
package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func main() {
	dir := flag.String("dir", ".", "directory the keys and tokens are written to")
	client := flag.String("client", "bench-client", "client_id (and sub) claim")
	issuer := flag.String("issuer", "https://bench.tollgate.local", "iss claim")
	audience := flag.String("audience", "bench", "aud claim")
	ttl := flag.Duration("ttl", 10*365*24*time.Hour, "token lifetime (exp = now + ttl)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("jwtgen: ")

	if err := os.MkdirAll(*dir, 0o700); err != nil {
		log.Fatal(err)
	}
	now := time.Now()
	claims := jwt.MapClaims{
		"iss": *issuer, "aud": *audience, "sub": *client, "client_id": *client, "scope": "bench",
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(*ttl).Unix(),
	}

	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		log.Fatal(err)
	}
	hexSecret := hex.EncodeToString(secret)
	// tollgate trims the secret file and uses its bytes as the key: sign
	// with the same bytes (the hex text, not the decoded bytes).
	hs, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(hexSecret))
	if err != nil {
		log.Fatal(err)
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		log.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		log.Fatal(err)
	}
	rs, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
	if err != nil {
		log.Fatal(err)
	}

	files := []struct {
		name string
		data []byte
	}{
		{"hs256.secret", []byte(hexSecret + "\n")},
		{"hs256.jwt", []byte(hs + "\n")},
		{"rs256.pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})},
		{"rs256.jwt", []byte(rs + "\n")},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(*dir, f.name), f.data, 0o600); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("jwtgen: wrote %d files to %s (client %s, exp %s)\n", len(files), *dir, *client,
		now.Add(*ttl).UTC().Format(time.RFC3339))
}
