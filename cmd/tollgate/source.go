package main

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strings"

	"tollgate/conf"
)

//go:embed quickstart.yaml
var quickstartYAML string

// source is where the config comes from: a file, or the embedded quick
// start whose demo origin address is filled in when it starts.
type source struct {
	path     string
	demo     bool
	demoAddr string
	// adminAddr, when set (-admin-addr, TOLLGATE_ADMIN_ADDR), replaces
	// admin.listen of every config loaded, so a container can serve the
	// admin endpoints on all its interfaces whatever the file says.
	adminAddr string
}

// chooseSource applies CONTRACT.md section 1: -config, else
// ./tollgate.yaml, else the embedded quick start.
func chooseSource(flagPath string) (*source, error) {
	if flagPath != "" {
		return &source{path: flagPath}, nil
	}
	if _, err := os.Stat("tollgate.yaml"); err == nil {
		return &source{path: "tollgate.yaml"}, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("checking ./tollgate.yaml: %w", err)
	}
	return &source{demo: true, demoAddr: "127.0.0.1:0"}, nil
}

func (s *source) load() (*conf.Config, error) {
	cfg, err := s.loadFile()
	if err != nil || s.adminAddr == "" {
		return cfg, err
	}
	// Load's result is not shared yet: the override is applied before
	// anyone sees the config, which stays immutable from here on.
	cfg.Admin.Listen = s.adminAddr
	return cfg, nil
}

func (s *source) loadFile() (*conf.Config, error) {
	if !s.demo {
		return conf.Load(s.path)
	}
	text := strings.ReplaceAll(quickstartYAML, "DEMO_ADDR", s.demoAddr)
	return conf.Parse("quickstart.yaml (embedded)", []byte(text), ".")
}

// adminOverride returns the admin address given by the -admin-addr flag,
// else by TOLLGATE_ADMIN_ADDR ("" when neither is set), checked to be a
// host:port.
func adminOverride(flagValue string) (string, error) {
	v, from := flagValue, "-admin-addr"
	if v == "" {
		v, from = os.Getenv(adminAddrEnv), adminAddrEnv
	}
	if v == "" {
		return "", nil
	}
	if _, _, err := net.SplitHostPort(v); err != nil {
		return "", fmt.Errorf("%s: %q is not host:port: %w", from, v, err)
	}
	return v, nil
}

// adminAddrEnv names the environment variable that sets the admin address.
const adminAddrEnv = "TOLLGATE_ADMIN_ADDR"

func (s *source) startDemo(log *slog.Logger) (func(), error) {
	addr, stop, err := startDemoOrigin(log)
	if err != nil {
		return nil, err
	}
	s.demoAddr = addr
	log.Info("no config file: running the embedded quick start", "demo_origin", addr, "try", "curl localhost:8080/demo/hello")
	return stop, nil
}
