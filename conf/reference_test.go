package conf

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// referenceFile is the configuration reference, relative to this package.
const referenceFile = "../docs/config.md"

// referenceRow is one key's row in the reference's tables.
type referenceRow struct {
	line                  int
	key                   string // normalised: every <…> segment is anyKey
	def, example, meaning string
}

// placeholder matches a free-form segment written <something> in the
// reference.
var placeholder = regexp.MustCompile(`<[^>]*>`)

// readReference returns the rows of the reference whose first cell is a
// key path in backquotes.
func readReference(t *testing.T) []referenceRow {
	t.Helper()
	data, err := os.ReadFile(referenceFile)
	if err != nil {
		t.Fatalf("the configuration reference is missing: %v", err)
	}
	var rows []referenceRow
	for i, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := tableCells(line)
		if len(cells) != 4 {
			t.Errorf("%s:%d: want 4 cells (key, default, example, what it does), got %d", referenceFile, i+1, len(cells))
			continue
		}
		key := placeholder.ReplaceAllString(strings.Trim(cells[0], "`"), anyKey)
		rows = append(rows, referenceRow{line: i + 1, key: key, def: cells[1], example: cells[2], meaning: cells[3]})
	}
	if len(rows) == 0 {
		t.Fatalf("%s: no key rows found", referenceFile)
	}
	return rows
}

// tableCells splits a Markdown table row on the pipes that are not
// escaped (`\|`), trimming each cell.
func tableCells(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	var cells []string
	var cell strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cell.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cell.String()))
			cell.Reset()
		default:
			cell.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cell.String()))
}

// TestReferenceCoversEveryKey fails for every key the decoder accepts that
// the reference does not document.
func TestReferenceCoversEveryKey(t *testing.T) {
	documented := map[string]bool{}
	for _, r := range readReference(t) {
		documented[r.key] = true
	}
	for _, key := range schemaKeys() {
		if !documented[key] {
			t.Errorf("config key %s is accepted by the decoder (conf/decode*.go) but not documented: "+
				"add the row\n\t| `%s` | <default> | `<example>` | <what it does> |\nto the table of its block in docs/config.md "+
				"(and mention it in README.md)", key, key)
		}
	}
}

// TestReferenceDocumentsOnlyAcceptedKeys fails for every row of the
// reference that names a key the decoder refuses.
func TestReferenceDocumentsOnlyAcceptedKeys(t *testing.T) {
	schema := schemaKeys()
	seen := map[string]int{}
	for _, r := range readReference(t) {
		if first, dup := seen[r.key]; dup {
			t.Errorf("%s:%d: %s is documented twice (first at line %d)", referenceFile, r.line, r.key, first)
		}
		seen[r.key] = r.line
		if !acceptedKey(r.key, schema) {
			t.Errorf("%s:%d: %s is documented but the decoder does not accept it: "+
				"remove the row, or decode the key in conf/decode*.go", referenceFile, r.line, r.key)
		}
	}
}

// acceptedKey reports whether a documented key path is a schema key or a
// parent of one; a schema segment anyKey stands for any name.
func acceptedKey(key string, schema []string) bool {
	doc := strings.Split(key, ".")
	for _, s := range schema {
		segs := strings.Split(s, ".")
		if len(doc) > len(segs) {
			continue
		}
		match := true
		for i, seg := range doc {
			if seg != segs[i] && (segs[i] != anyKey || strings.HasSuffix(seg, "[]")) {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// TestReferenceExamplesDecode decodes every row's example under its key
// path, so that an example with the wrong type or a misspelled nested key
// fails; every row must have a default, an example and a description.
func TestReferenceExamplesDecode(t *testing.T) {
	for _, r := range readReference(t) {
		if r.def == "" || r.meaning == "" {
			t.Errorf("%s:%d: %s needs a default (or required/—/off) and a description", referenceFile, r.line, r.key)
		}
		if len(r.example) < 2 || !strings.HasPrefix(r.example, "`") || !strings.HasSuffix(r.example, "`") {
			t.Errorf("%s:%d: %s: the example must be one YAML value in backquotes, got %q", referenceFile, r.line, r.key, r.example)
			continue
		}
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(strings.Trim(r.example, "`")), &doc); err != nil || len(doc.Content) != 1 {
			t.Errorf("%s:%d: %s: the example is not one YAML value: %v", referenceFile, r.line, r.key, err)
			continue
		}
		rep := newReport(referenceFile)
		d := &decoder{report: rep}
		d.config(nestUnder(r.key, doc.Content[0]))
		for _, e := range rep.errs {
			t.Errorf("%s:%d: the example of %s does not decode: %s: %s", referenceFile, r.line, r.key, e.Path, e.Msg)
		}
	}
}

// nestUnder builds the document that holds value at a key path: a list
// segment ("routes[]") holds one item, a free-form segment is named
// "example".
func nestUnder(key string, value *yaml.Node) *yaml.Node {
	segs := strings.Split(key, ".")
	n := value
	for i := len(segs) - 1; i >= 0; i-- {
		name, list := strings.CutSuffix(segs[i], "[]")
		if list {
			n = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{n}}
		}
		if name == anyKey {
			name = "example"
		}
		k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name}
		n = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{k, n}}
	}
	return n
}

// TestSchemaWalkSeesNestedKeys pins the walk itself: keys of nested
// mappings, list items, free-form names and plugin bodies are all listed.
func TestSchemaWalkSeesNestedKeys(t *testing.T) {
	keys := map[string]bool{}
	for _, k := range schemaKeys() {
		keys[k] = true
	}
	for _, want := range []string{
		"server.tls.cert_file",
		"upstreams.<name>.targets[].weight",
		"clients.<name>.routes.<name>.burst",
		"auth.jwt.keys[].jwks_url",
		"routes[].plugins[].cors.max_age",
		"routes[].plugins[].headers.request_remove",
	} {
		if !keys[want] {
			t.Errorf("schema walk misses %s", want)
		}
	}
	for k := range keys {
		if strings.Contains(k, "example") || strings.Contains(k, "[0]") {
			t.Errorf("schema walk lists %s, which is not a schema path", k)
		}
	}
}

// TestReferenceDefaults checks every default written as one YAML value in
// backquotes: a config that sets the key to it must equal (as /config shows
// it) one that leaves the key out, its parent present. Defaults written in
// words ("required", "off", "one second of rate") are not checked.
func TestReferenceDefaults(t *testing.T) {
	checked := 0
	for _, r := range readReference(t) {
		def, ok := strings.CutPrefix(r.def, "`")
		if !ok || !strings.HasSuffix(def, "`") || strings.Count(r.def, "`") != 2 {
			continue
		}
		var value yaml.Node
		if err := yaml.Unmarshal([]byte(strings.TrimSuffix(def, "`")), &value); err != nil || len(value.Content) != 1 {
			t.Errorf("%s:%d: the default of %s is not one YAML value: %v", referenceFile, r.line, r.key, err)
			continue
		}
		withDefault := decodedJSON(t, nestUnder(r.key, value.Content[0]))
		var without []byte
		if parent := parentPath(r.key); parent == "" {
			without = decodedJSON(t, nil)
		} else {
			without = decodedJSON(t, nestUnder(parent, &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}))
		}
		if string(withDefault) != string(without) {
			t.Errorf("%s:%d: %s: the documented default %s is not the decoder's default (conf/defaults.go):\nset:    %s\nunset:  %s",
				referenceFile, r.line, r.key, r.def, withDefault, without)
		}
		checked++
	}
	if checked < 40 {
		t.Errorf("only %d defaults checked", checked)
	}
}

// decodedJSON decodes a document (nil: empty) and renders it as /config does.
func decodedJSON(t *testing.T, root *yaml.Node) []byte {
	t.Helper()
	rep := newReport(referenceFile)
	c := (&decoder{report: rep}).config(root)
	if len(rep.errs) > 0 {
		t.Fatalf("decoding %v: %v", root, rep.errs)
	}
	out, err := c.PublicJSON()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
