package conf

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem found in a config file, located by line and key
// path. Its text reads like `tollgate.yaml:14: routes[2].upstream: unknown
// upstream "userz"`.
type Error struct {
	// File is the name the config was parsed under (the path, for Load).
	File string
	// Line is 1-based; 0 when the problem has no single line (a required
	// block missing from the file altogether).
	Line int
	// Path is the key path, such as "routes[2].upstream"; "" when the
	// problem concerns the whole file (a YAML syntax error).
	Path string
	// Msg says what is wrong.
	Msg string
}

// Error formats the problem as "file:line: path: msg", leaving out the
// parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in one config file. Parse and Load
// return it sorted by line; Error joins the messages, one per line, in
// file-line order.
type ErrorList []*Error

// Error joins the messages in file-line order, separated by newlines.
func (l ErrorList) Error() string {
	sorted := append(ErrorList(nil), l...)
	sorted.sort()
	lines := make([]string, len(sorted))
	for i, e := range sorted {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sort orders the list by line, keeping the order of discovery within a
// line.
func (l ErrorList) sort() {
	sort.SliceStable(l, func(i, j int) bool { return l[i].Line < l[j].Line })
}

// report collects the errors of one parse together with the line of every
// key path seen, so that validation, which works on the typed Config, can
// still point at the right line.
type report struct {
	file  string
	errs  ErrorList
	lines map[string]int
	// failed holds the key paths whose value could not be decoded; checks
	// on them or below them are skipped, so one mistake gives one message.
	failed map[string]bool
}

func newReport(file string) *report {
	return &report{file: file, lines: map[string]int{}, failed: map[string]bool{}}
}

// mark records the line of a key path, unless one is already known (the
// key's own line wins over its value's).
func (r *report) mark(path string, line int) {
	if _, ok := r.lines[path]; !ok && path != "" {
		r.lines[path] = line
	}
}

// add records a problem at a known line.
func (r *report) add(line int, path, format string, args ...any) {
	r.errs = append(r.errs, &Error{File: r.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// fail records a problem with a value that could not be decoded, so that
// later checks on the same path stay quiet.
func (r *report) fail(line int, path, format string, args ...any) {
	r.failed[path] = true
	r.add(line, path, format, args...)
}

// errorf records a validation problem at the line of path (or of its
// nearest ancestor with a known line), unless the path already failed to
// decode.
func (r *report) errorf(path, format string, args ...any) {
	if r.hasFailed(path) {
		return
	}
	r.add(r.lineOf(path), path, format, args...)
}

// hasFailed reports whether any of paths, or an ancestor of one (up to the
// root, ""), failed to decode.
func (r *report) hasFailed(paths ...string) bool {
	for _, p := range paths {
		for {
			if r.failed[p] {
				return true
			}
			if p == "" {
				break
			}
			p = parentPath(p)
		}
	}
	return false
}

// lineOf returns the line of path or of its nearest ancestor seen in the
// file, 0 when none was.
func (r *report) lineOf(path string) int {
	for ; path != ""; path = parentPath(path) {
		if l, ok := r.lines[path]; ok {
			return l
		}
	}
	return 0
}

// err returns the collected problems sorted by line, or nil.
func (r *report) err() error {
	if len(r.errs) == 0 {
		return nil
	}
	r.errs.sort()
	return r.errs
}

// parentPath strips the last element of a key path: "a.b[2]" → "a.b",
// "a.b" → "a", "a" → "".
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

// joinPath appends a key to a key path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// indexPath appends a list index to a key path.
func indexPath(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}
