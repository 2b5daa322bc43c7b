package conf

import (
	"sort"

	"gopkg.in/yaml.v3"
)

// The schema walk lists every key path the decoder accepts, taken from the
// decoder's own key tables (the fields maps that also reject unknown keys),
// so a key cannot be accepted without being listed. The config reference's
// test (reference_test.go) compares the list with docs/config.md.
//
// In schema mode the decoder visits every key of every mapping it knows,
// whether a file holds it or not, and hands each one a probe value (an
// empty mapping): fixed-key mappings record their keys and recurse, lists
// visit one probe item, and free-form mappings (upstream and client names,
// header maps) visit one probe key named anyKey. Scalar decoders refuse
// the probe; those errors go to a report nobody reads. A decoder that
// chooses its keys in code rather than from a fields map (as the plugin
// list does for plugin names) must offer that map in schema mode too.

// anyKey stands for a free-form key (an upstream's, a client's or a
// route's name) in a schema path: "upstreams.<name>.balance".
const anyKey = "<name>"

// schemaWalk collects the key paths of a schema-mode decoding. A list's
// items are written "[]": "routes[].match.path_prefix".
type schemaWalk struct {
	keys map[string]bool
}

// schemaKeys returns every key path the decoder accepts, sorted.
func schemaKeys() []string {
	w := &schemaWalk{keys: map[string]bool{}}
	d := &decoder{report: newReport("schema"), schema: w}
	d.config(nil)
	out := make([]string, 0, len(w.keys))
	for k := range w.keys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// probe is the value handed to every decoder in schema mode.
func probe() *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
}

// mapping records the keys of a fixed-key mapping and decodes a probe
// under each, so nested mappings are walked too.
func (w *schemaWalk) mapping(path string, fs fields) map[string]bool {
	for k, fn := range fs {
		p := joinPath(path, k)
		w.keys[p] = true
		fn(probe(), p)
	}
	return map[string]bool{}
}

// pairs visits one probe entry of a free-form mapping.
func (w *schemaWalk) pairs(path string, fn func(k, v *yaml.Node, path string)) {
	k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: anyKey}
	fn(k, probe(), joinPath(path, anyKey))
}

// seq visits one probe item of a list.
func (w *schemaWalk) seq(path string, fn func(item *yaml.Node, line int, path string)) {
	fn(probe(), 0, path+"[]")
}
