package conf

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads, decodes, defaults and validates the config file at path.
// Relative file paths inside it are resolved against the file's directory.
// Problems with the content come back as an ErrorList holding every one
// found; a file that cannot be read gives a wrapped I/O error instead
// (errors.Is(err, fs.ErrNotExist) works).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, filepath.Dir(path))
}

// Parse decodes, defaults and validates a config held in memory. name is
// used in messages and as Config.Path; dir resolves relative file paths
// ("" leaves them relative to the working directory). Every problem found
// is returned, as an ErrorList sorted by line.
func Parse(name string, data []byte, dir string) (*Config, error) {
	r := newReport(name)
	root, ok := parseDocument(data, r)
	if !ok {
		return nil, r.err()
	}
	d := &decoder{report: r, dir: dir}
	c := d.config(root)
	validate(c, r)
	if err := r.err(); err != nil {
		return nil, err
	}
	c.Path = name
	c.Version = version(data)
	return c, nil
}

// version is the first 16 hex digits of the SHA-256 of the file's bytes.
func version(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:16]
}

// parseDocument parses the YAML text into a node tree and returns its root
// (nil for an empty file). Syntax errors, and a second document, are
// reported; ok is false when there is nothing to decode.
func parseDocument(data []byte, r *report) (root *yaml.Node, ok bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, true
		}
		line, msg := syntaxError(err)
		r.add(line, "", "invalid YAML: %s", msg)
		return nil, false
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		r.add(extra.Line, "", "only one YAML document is allowed")
		return nil, false
	case !errors.Is(err, io.EOF):
		line, msg := syntaxError(err)
		r.add(line, "", "invalid YAML: %s", msg)
		return nil, false
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0], true
	}
	return nil, true
}

// syntaxError splits a yaml.v3 error such as "yaml: line 3: did not find
// expected key" into its line (0 when it names none) and message.
func syntaxError(err error) (line int, msg string) {
	msg = strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, text, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				return n, text
			}
		}
	}
	return 0, msg
}
