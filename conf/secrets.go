package conf

import (
	"fmt"
	"os"
	"strings"
)

// loadSecrets reads the secrets the config names (the introspection client
// secret, the Redis password, the admin token) into the Config,
// whitespace-trimmed. A
// missing or empty source is an error.
func (v validator) loadSecrets(c *Config) {
	if in := c.Auth.Introspection; in != nil {
		switch {
		case in.ClientSecretFile != "" && in.ClientSecretEnv != "":
			// Reported by validation already.
		case in.ClientSecretFile != "":
			in.ClientSecret = v.secretFile("auth.introspection.client_secret_file", in.ClientSecretFile)
		case in.ClientSecretEnv != "":
			in.ClientSecret = v.secretEnv("auth.introspection.client_secret_env", in.ClientSecretEnv)
		}
	}
	if name := c.Limits.Redis.PasswordEnv; name != "" {
		c.Limits.Redis.Password = v.secretEnv("limits.redis.password_env", name)
	}
	switch a := &c.Admin; {
	case a.TokenFile != "" && a.TokenEnv != "":
		// Reported by validation already.
	case a.TokenFile != "":
		a.Token = v.secretFile("admin.token_file", a.TokenFile)
	case a.TokenEnv != "":
		a.Token = v.secretEnv("admin.token_env", a.TokenEnv)
	}
}

// secretFile reads a secret from a file.
func (v validator) secretFile(path, file string) string {
	if v.hasFailed(path) {
		return ""
	}
	data, err := os.ReadFile(file)
	if err != nil {
		v.errorf(path, "cannot read secret: %v", err)
		return ""
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		v.errorf(path, "secret file %s is empty", file)
	}
	return s
}

// secretEnv reads a secret from an environment variable.
func (v validator) secretEnv(path, name string) string {
	if v.hasFailed(path) {
		return ""
	}
	value, ok := os.LookupEnv(name)
	s := strings.TrimSpace(value)
	switch {
	case !ok:
		v.errorf(path, "environment variable %s is not set", name)
	case s == "":
		v.errorf(path, "environment variable %s is empty", name)
	}
	return s
}

// readable checks that a configured file (a TLS certificate, a JWT key)
// can be opened and is not a directory; "" is skipped.
func (v validator) readable(path, file string) {
	if file == "" || v.hasFailed(path) {
		return
	}
	if err := checkReadable(file); err != nil {
		v.errorf(path, "%v", err)
	}
}

// checkReadable opens file to prove it can be read.
func checkReadable(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("cannot read file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("cannot read file: %w", err)
	}
	if info.IsDir() {
		return fmt.Errorf("cannot read file: %s is a directory", file)
	}
	return nil
}
