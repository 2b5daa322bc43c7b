package conf

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

// redactedText replaces every secret in Redacted and PublicJSON.
const redactedText = "[redacted]"

// Redacted returns a copy of c in which the introspection client secret,
// the Redis password, the admin token and the API key hashes read
// "[redacted]". c is not
// changed; the copy shares every part that holds no secret.
func (c *Config) Redacted() *Config {
	cp := *c
	if in := c.Auth.Introspection; in != nil {
		inCopy := *in
		if inCopy.ClientSecret != "" {
			inCopy.ClientSecret = redactedText
		}
		cp.Auth.Introspection = &inCopy
	}
	if ak := c.Auth.APIKeys; ak != nil {
		akCopy := *ak
		akCopy.Keys = make([]APIKey, len(ak.Keys))
		for i, k := range ak.Keys {
			akCopy.Keys[i] = APIKey{SHA256: redactedText, ClientID: k.ClientID}
		}
		cp.Auth.APIKeys = &akCopy
	}
	if cp.Limits.Redis.Password != "" {
		cp.Limits.Redis.Password = redactedText
	}
	if cp.Admin.Token != "" {
		cp.Admin.Token = redactedText
	}
	return &cp
}

// PublicJSON renders the config, secrets redacted, as the JSON object the
// admin /config endpoint shows: keys named and ordered as in the YAML (the
// json tags of the types), durations as Go strings ("10s"), rates as
// written ("100/s"), CIDRs as text, empty lists as [].
func (c *Config) PublicJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := writeJSON(&b, reflect.ValueOf(c.Redacted()).Elem()); err != nil {
		return nil, fmt.Errorf("render config: %w", err)
	}
	return b.Bytes(), nil
}

// writeJSON writes v, rendering the config's own value types as text.
func writeJSON(b *bytes.Buffer, v reflect.Value) error {
	switch x := v.Interface().(type) {
	case time.Duration:
		return writeScalar(b, x.String())
	case Rate:
		return writeScalar(b, x.String())
	case encoding.TextMarshaler:
		return writeScalar(b, x)
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			b.WriteString("null")
			return nil
		}
		return writeJSON(b, v.Elem())
	case reflect.Struct:
		return writeStruct(b, v)
	case reflect.Slice, reflect.Array:
		return writeList(b, v)
	case reflect.Map:
		return writeMap(b, v)
	}
	return writeScalar(b, v.Interface())
}

// writeScalar writes one value with encoding/json.
func writeScalar(b *bytes.Buffer, x any) error {
	data, err := json.Marshal(x)
	if err != nil {
		return err
	}
	b.Write(data)
	return nil
}

// writeStruct writes the exported fields that have a json name, in
// declaration order, honouring "-" and omitempty.
func writeStruct(b *bytes.Buffer, v reflect.Value) error {
	b.WriteByte('{')
	first := true
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" || (opts == "omitempty" && isEmptyValue(v.Field(i))) {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		if err := writeKey(b, name); err != nil {
			return err
		}
		if err := writeJSON(b, v.Field(i)); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	b.WriteByte('}')
	return nil
}

// writeList writes a slice; a nil slice is written as [].
func writeList(b *bytes.Buffer, v reflect.Value) error {
	b.WriteByte('[')
	for i := 0; i < v.Len(); i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := writeJSON(b, v.Index(i)); err != nil {
			return err
		}
	}
	b.WriteByte(']')
	return nil
}

// writeMap writes a string-keyed map with its keys sorted.
func writeMap(b *bytes.Buffer, v reflect.Value) error {
	keys := make([]string, 0, v.Len())
	for _, k := range v.MapKeys() {
		keys = append(keys, k.String())
	}
	sort.Strings(keys)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := writeKey(b, k); err != nil {
			return err
		}
		if err := writeJSON(b, v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key()))); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	b.WriteByte('}')
	return nil
}

// writeKey writes an object key and its colon.
func writeKey(b *bytes.Buffer, k string) error {
	if err := writeScalar(b, k); err != nil {
		return err
	}
	b.WriteByte(':')
	return nil
}

// isEmptyValue follows encoding/json's omitempty rule.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}
