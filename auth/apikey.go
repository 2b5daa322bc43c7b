package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"tollgate/conf"
)

// apiKeys maps the SHA-256 of API keys to client ids. Only hashes are
// held; a presented key is hashed and compared with every configured hash
// in constant time, so neither timing nor an early exit tells which (or
// how much of one) matched.
type apiKeys struct {
	sums [][32]byte
	ids  []Identity
}

// newAPIKeys decodes the configured hashes.
func newAPIKeys(cfg *conf.APIKeys) (*apiKeys, error) {
	k := &apiKeys{}
	for i, e := range cfg.Keys {
		raw, err := hex.DecodeString(strings.TrimSpace(e.SHA256))
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("api_keys.keys[%d]: sha256 must be 64 hex digits", i)
		}
		if !headerSafe(e.ClientID) {
			return nil, fmt.Errorf("api_keys.keys[%d]: client_id %q is empty or not a valid header value", i, e.ClientID)
		}
		k.sums = append(k.sums, [32]byte(raw))
		k.ids = append(k.ids, Identity{ClientID: e.ClientID, Method: conf.AuthAPIKey, Plan: e.Plan, Tenant: e.Tenant})
	}
	return k, nil
}

// check returns the identity of a presented key.
func (k *apiKeys) check(key []byte) (Identity, *Error) {
	sum := sha256.Sum256(key)
	found := -1
	for i := range k.sums {
		eq := subtle.ConstantTimeCompare(sum[:], k.sums[i][:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	if found < 0 {
		return Identity{}, errInvalid(conf.AuthAPIKey, ReasonUnknownKey, errors.New("no such API key"))
	}
	return k.ids[found], nil
}
