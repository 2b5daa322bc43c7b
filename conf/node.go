package conf

import (
	"math"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder walks a yaml.Node tree into a Config. It never stops at the first
// problem: every error goes to the report and decoding carries on with the
// value's default.
type decoder struct {
	*report
	// dir resolves relative file paths; "" leaves them as written.
	dir string
	// schema, when set, turns decoding into a walk of every key the
	// decoder accepts (schema.go); nil for files.
	schema *schemaWalk
}

// field decodes the value of one key found at path.
type field func(n *yaml.Node, path string)

// fields maps the keys a mapping accepts to their decoders.
type fields map[string]field

// resolve follows YAML aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is absent or an explicit null (`key:` or `~`).
// A null value leaves the key's default in place.
func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe names a node's type for messages: "a mapping", "a string", ...
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch tag := n.ShortTag(); tag {
		case "!!str":
			return "a string"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		default:
			return "a value tagged " + tag
		}
	}
	return "an unexpected node"
}

// pairs walks a mapping with free-form keys, reporting duplicate and
// non-string keys. A null node is an empty mapping.
func (d *decoder) pairs(n *yaml.Node, path string, fn func(k, v *yaml.Node, path string)) {
	if d.schema != nil {
		d.schema.pairs(path, fn)
		return
	}
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n.Line, path, "expected a mapping, got %s", describe(n))
		return
	}
	d.mark(path, n.Line)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if !d.key(k, path, seen) {
			continue
		}
		p := joinPath(path, k.Value)
		d.mark(p, k.Line)
		fn(k, v, p)
	}
}

// key checks one mapping key: a string, not a merge key, not seen before.
func (d *decoder) key(k *yaml.Node, path string, seen map[string]int) bool {
	switch {
	case k.Kind != yaml.ScalarNode:
		d.add(k.Line, path, "keys must be strings, got %s", describe(k))
		return false
	case k.ShortTag() == "!!merge":
		d.add(k.Line, path, "merge keys (<<) are not supported")
		return false
	}
	if first, dup := seen[k.Value]; dup {
		d.add(k.Line, joinPath(path, k.Value), "duplicate key (first at line %d)", first)
		return false
	}
	seen[k.Value] = k.Line
	return true
}

// mapping decodes a mapping with a fixed set of keys. Unknown keys are
// errors; null values are skipped. It returns the keys given a value.
func (d *decoder) mapping(n *yaml.Node, path string, fs fields) map[string]bool {
	if d.schema != nil {
		return d.schema.mapping(path, fs)
	}
	present := map[string]bool{}
	d.pairs(n, path, func(k, v *yaml.Node, p string) {
		fn, ok := fs[k.Value]
		if !ok {
			d.add(k.Line, p, "unknown key%s", suggest(k.Value, fs))
			return
		}
		if isNull(v) {
			return
		}
		present[k.Value] = true
		fn(v, p)
	})
	return present
}

// seq walks a list. A null node is an empty list.
func (d *decoder) seq(n *yaml.Node, path string, fn func(item *yaml.Node, line int, path string)) {
	if d.schema != nil {
		d.schema.seq(path, fn)
		return
	}
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n.Line, path, "expected a list, got %s", describe(n))
		return
	}
	d.mark(path, n.Line)
	for i, item := range n.Content {
		p := indexPath(path, i)
		d.mark(p, item.Line)
		fn(resolve(item), item.Line, p)
	}
}

// text returns a scalar's text. Strings, numbers and timestamps are text;
// booleans, lists and mappings are not. ok is false for null and errors.
func (d *decoder) text(n *yaml.Node, path, what string) (s string, ok bool) {
	if isNull(n) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(n.Line, path, "expected %s, got %s", what, describe(n))
		return "", false
	}
	switch n.ShortTag() {
	case "!!str", "!!int", "!!float", "!!timestamp":
		return n.Value, true
	}
	d.fail(n.Line, path, "expected %s, got %s", what, describe(n))
	return "", false
}

// str decodes a string.
func (d *decoder) str(dst *string) field {
	return func(n *yaml.Node, path string) {
		if s, ok := d.text(n, path, "a string"); ok {
			*dst = s
		}
	}
}

// file decodes a file path, resolved against the config directory.
func (d *decoder) file(dst *string) field {
	return func(n *yaml.Node, path string) {
		if s, ok := d.text(n, path, "a file path"); ok {
			*dst = d.resolvePath(s)
		}
	}
}

// resolvePath makes a relative path relative to the config directory.
func (d *decoder) resolvePath(p string) string {
	if p == "" || filepath.IsAbs(p) || d.dir == "" {
		return p
	}
	return filepath.Join(d.dir, p)
}

// integer decodes a YAML integer into an int64.
func (d *decoder) integer(n *yaml.Node, path string) (int64, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		d.fail(n.Line, path, "expected an integer, got %s", describe(n))
		return 0, false
	}
	var v int64
	if err := n.Decode(&v); err != nil {
		d.fail(n.Line, path, "integer %s is out of range", n.Value)
		return 0, false
	}
	return v, true
}

// integerField decodes an int.
func (d *decoder) integerField(dst *int) field {
	return func(n *yaml.Node, path string) {
		if v, ok := d.integer(n, path); ok {
			*dst = int(v)
		}
	}
}

// integer64Field decodes an int64.
func (d *decoder) integer64Field(dst *int64) field {
	return func(n *yaml.Node, path string) {
		if v, ok := d.integer(n, path); ok {
			*dst = v
		}
	}
}

// countField decodes a uint32, refusing negative and too large values.
func (d *decoder) countField(dst *uint32) field {
	return func(n *yaml.Node, path string) {
		v, ok := d.integer(n, path)
		if !ok {
			return
		}
		if v < 0 || v > math.MaxUint32 {
			d.fail(n.Line, path, "must be between 0 and %d, got %d", uint32(math.MaxUint32), v)
			return
		}
		*dst = uint32(v)
	}
}

// numberField decodes a finite float64 (integers are accepted).
func (d *decoder) numberField(dst *float64) field {
	return func(n *yaml.Node, path string) {
		tag := n.ShortTag()
		if n.Kind != yaml.ScalarNode || (tag != "!!int" && tag != "!!float") {
			d.fail(n.Line, path, "expected a number, got %s", describe(n))
			return
		}
		var v float64
		if err := n.Decode(&v); err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			d.fail(n.Line, path, "invalid number %s", n.Value)
			return
		}
		*dst = v
	}
}

// flagField decodes a boolean (true or false).
func (d *decoder) flagField(dst *bool) field {
	return func(n *yaml.Node, path string) {
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			d.fail(n.Line, path, "expected true or false, got %s", describe(n))
			return
		}
		var v bool
		if err := n.Decode(&v); err != nil {
			d.fail(n.Line, path, "invalid boolean %s", n.Value)
			return
		}
		*dst = v
	}
}

// durationField decodes a Go duration such as "250ms".
func (d *decoder) durationField(dst *time.Duration) field {
	return func(n *yaml.Node, path string) {
		s, ok := d.text(n, path, "a duration")
		if !ok {
			return
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			d.fail(n.Line, path, "invalid duration %q (use Go syntax such as 250ms, 5s, 1m)", s)
			return
		}
		*dst = v
	}
}

// rateField decodes a rate such as "100/s".
func (d *decoder) rateField(dst *Rate) field {
	return func(n *yaml.Node, path string) {
		s, ok := d.text(n, path, "a rate")
		if !ok {
			return
		}
		r, err := ParseRate(s)
		if err != nil {
			d.fail(n.Line, path, "%v", err)
			return
		}
		*dst = r
	}
}

// strList decodes a list of strings; an explicit empty list stays empty,
// not nil.
func (d *decoder) strList(dst *[]string) field {
	return func(n *yaml.Node, path string) {
		out := []string{}
		d.seq(n, path, func(item *yaml.Node, _ int, p string) {
			if isNull(item) {
				d.fail(item.Line, p, "expected a string, got null")
				return
			}
			if s, ok := d.text(item, p, "a string"); ok {
				out = append(out, s)
			}
		})
		*dst = out
	}
}

// strMap decodes a mapping of strings to strings.
func (d *decoder) strMap(dst *map[string]string) field {
	return func(n *yaml.Node, path string) {
		out := map[string]string{}
		d.pairs(n, path, func(_, v *yaml.Node, p string) {
			if isNull(v) {
				d.fail(v.Line, p, "expected a string, got null")
				return
			}
			if s, ok := d.text(v, p, "a string"); ok {
				out[p[len(path)+1:]] = s
			}
		})
		*dst = out
	}
}

// prefixList decodes a list of CIDRs; a bare address is a /32 or /128.
func (d *decoder) prefixList(dst *[]netip.Prefix) field {
	return func(n *yaml.Node, path string) {
		out := []netip.Prefix{}
		d.seq(n, path, func(item *yaml.Node, _ int, p string) {
			s, ok := d.text(item, p, "a CIDR")
			if !ok {
				if isNull(item) {
					d.fail(item.Line, p, "expected a CIDR, got null")
				}
				return
			}
			pfx, err := parsePrefix(s)
			if err != nil {
				d.fail(item.Line, p, "%v", err)
				return
			}
			out = append(out, pfx)
		})
		*dst = out
	}
}

// suggest returns ` (did you mean "x"?)` for the known key closest to an
// unknown one, or "" when none is close.
func suggest(key string, fs fields) string {
	known := make([]string, 0, len(fs))
	for k := range fs {
		known = append(known, k)
	}
	sort.Strings(known)
	best, bestDist := "", 3
	for _, k := range known {
		if dist := editDistance(strings.ToLower(key), k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best == "" {
		return ""
	}
	return ` (did you mean "` + best + `"?)`
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
