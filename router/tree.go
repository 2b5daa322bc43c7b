package router

import "strings"

// prefixTree is a radix tree over path prefixes. Every node holds the
// indices, ascending, of the routes whose path_prefix ends exactly at that
// node; walking a request path down the tree visits every prefix of it.
type prefixTree struct {
	root node
}

// node is one edge label of the tree and the routes that end after it.
// first[i] is the first byte of children[i].label, so a child is found with
// one IndexByte over a short string.
type node struct {
	label    string
	routes   []int32
	first    string
	children []*node
}

// insert adds route idx under prefix. Routes must be inserted in ascending
// index order so that every node's list stays sorted.
func (t *prefixTree) insert(prefix string, idx int32) {
	n := &t.root
	for {
		if prefix == "" {
			n.routes = append(n.routes, idx)
			return
		}
		i := strings.IndexByte(n.first, prefix[0])
		if i < 0 {
			n.addChild(&node{label: prefix, routes: []int32{idx}})
			return
		}
		c := n.children[i]
		l := commonPrefix(c.label, prefix)
		if l < len(c.label) {
			c = c.split(l)
			n.children[i] = c
		}
		n, prefix = c, prefix[l:]
	}
}

// addChild appends c to n's children.
func (n *node) addChild(c *node) {
	n.first += c.label[:1]
	n.children = append(n.children, c)
}

// split cuts n's label after l bytes and returns the new parent, which has
// the first l bytes and n (with the rest of its label) as its only child.
func (n *node) split(l int) *node {
	parent := &node{label: n.label[:l]}
	n.label = n.label[l:]
	parent.addChild(n)
	return parent
}

// walk offers m the route list of every node whose full prefix is a
// prefix of path, shortest first, and stops early once m is satisfied.
func (t *prefixTree) walk(path []byte, m *matcher) {
	n := &t.root
	for {
		if len(n.routes) > 0 && !m.consider(n.routes) {
			return
		}
		if len(path) == 0 {
			return
		}
		i := strings.IndexByte(n.first, path[0])
		if i < 0 {
			return
		}
		c := n.children[i]
		if len(path) < len(c.label) || string(path[:len(c.label)]) != c.label {
			return
		}
		n, path = c, path[len(c.label):]
	}
}

// commonPrefix returns the length of the longest common prefix of a and b.
func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
