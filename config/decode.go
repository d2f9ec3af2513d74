package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Load reads and parses the config file at path. A file that cannot be
// read gives a plain error; a file that does not decode or validate gives
// Errors, every problem at once.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes data strictly (unknown keys and wrong types are errors),
// fills in the defaults and validates the result. file names the data in
// errors and becomes Config.File. On failure the error is Errors, sorted by
// position, and the Config is nil.
func Parse(file string, data []byte) (*Config, error) {
	c := &Config{File: file, Pos: map[string]Pos{}}
	root, err := parseYAML(file, data)
	if err != nil {
		return nil, Errors{*err}
	}
	d := decoder{file: file, pos: c.Pos}
	if root == nil || isNull(root) {
		// An empty file is an empty config; validation says what it lacks.
		c.Pos[""] = Pos{Line: 1, Col: 1}
	} else {
		d.value(root, reflect.ValueOf(c).Elem(), "")
	}
	c.setDefaults()
	errs := d.errs
	if d.steps < maxSteps {
		// A walk cut short leaves a config that is only part of the file.
		errs = append(errs, c.validate(d.decodeFailed)...)
	}
	errs.Sort()
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

// parseYAML parses data's one document into a node tree; nil for an empty
// document.
func parseYAML(file string, data []byte) (*yaml.Node, *Error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(file, data, err)
	}
	for {
		// A trailing "---" is harmless; a second document is a mistake.
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, syntaxError(file, data, err)
		}
		if len(next.Content) > 0 && !isNull(next.Content[0]) {
			return nil, &Error{File: file, Line: next.Line, Col: next.Column,
				Msg: "a config file holds one YAML document; remove this one or the \"---\" before it"}
		}
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, nil
		}
		return doc.Content[0], nil
	}
	return &doc, nil
}

var (
	yamlLine      = regexp.MustCompile(`^yaml: line (\d+): `)
	unknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)
)

// parserProblems are the problems yaml.v3's parser (not its scanner)
// reports, each with where in the file it points. The parser reports the
// 0-based line of the enclosing collection, so these get 1 added; the
// scanner's lines are 1-based already.
var parserProblems = map[string]string{
	// The line is that of the enclosing collection, or of the problem
	// when the collection starts on line 1; the hints hold for both.
	"did not find expected '-' indicator":    "check the indentation at or after this line",
	"did not find expected key":              "check the indentation at or after this line",
	"did not find expected ',' or ']'":       "a [list] opened on or before this line lacks a ',' or its ']'",
	"did not find expected ',' or '}'":       "a {mapping} opened on or before this line lacks a ',' or its '}'",
	"did not find expected node content":     "",
	"did not find expected <document start>": "",
	"did not find expected <stream-start>":   "",
	"found undefined tag handle":             "",
	"found duplicate %YAML directive":        "",
	"found duplicate %TAG directive":         "",
	"found incompatible YAML document":       "",
}

// scannerHints explain scanner problems that are terse on their own.
var scannerHints = map[string]string{
	"found unexpected end of stream": "a quoted string is not closed",
}

// syntaxError turns a YAML parser error into an Error. yaml.v3 reports a
// line but no column: the column is 1 unless a tab gives it away.
func syntaxError(file string, data []byte, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{File: file, Line: 0, Col: 1}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		msg = err.Error()[len(m[0]):]
	}
	hint, isParser := parserProblems[msg]
	if isParser || e.Line == 0 {
		e.Line++
	}
	if h, ok := scannerHints[msg]; ok {
		hint = h
	}
	if m := unknownAnchor.FindStringSubmatch(msg); m != nil {
		// Reported without a line: find the first use of the anchor.
		if i := bytes.Index(data, []byte("*"+m[1])); i >= 0 {
			e.Line = 1 + bytes.Count(data[:i], []byte("\n"))
			e.Col = 1 + i - (bytes.LastIndexByte(data[:i], '\n') + 1)
		}
	}
	if line, col := leadingTab(data, e.Line); line > 0 && (strings.Contains(msg, "tab") || line == e.Line) {
		e.Line, e.Col = line, col
		hint = "YAML does not allow tabs for indentation; use spaces"
	}
	e.Msg = "cannot parse YAML: " + msg
	if hint != "" {
		e.Msg += " (" + hint + ")"
	}
	return e
}

// leadingTab finds the first line from the 1-based line from on whose
// indentation holds a tab, and the tab's column; 0, 0 if there is none.
func leadingTab(data []byte, from int) (line, col int) {
	for n := 1; len(data) > 0; n++ {
		row := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			row, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if n < from {
			continue
		}
		for i, c := range row {
			if c == '\t' {
				return n, i + 1
			}
			if c != ' ' {
				break
			}
		}
	}
	return 0, 0
}

// maxSteps bounds the nodes one decode visits. Aliases let a small file
// stand for an enormous one ("billion laughs"); a real config is a few
// thousand nodes.
const maxSteps = 1 << 18

// decoder walks a YAML node tree against the config types, filling them,
// recording where every field stands and collecting every error.
type decoder struct {
	file   string
	pos    map[string]Pos
	errs   Errors
	failed []string // paths whose value could not be decoded
	steps  int
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, Error{File: d.file, Line: n.Line, Col: n.Column, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// fail reports a value that cannot be decoded. Validation says nothing
// more about its path: its zero value is not what the file says.
func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.errorf(n, path, format, args...)
	d.failed = append(d.failed, path)
}

func (d *decoder) decodeFailed(path string) bool {
	for _, f := range d.failed {
		if underPath(path, f) {
			return true
		}
	}
	return false
}

// step counts a visited node and reports whether the walk may go on.
func (d *decoder) step(n *yaml.Node) bool {
	d.steps++
	if d.steps == maxSteps {
		d.errorf(n, "", "the document is too large once its aliases are expanded")
	}
	return d.steps < maxSteps
}

// resolve follows aliases to the node they stand for.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

// value decodes n into v and records its position at path. A null leaves
// v as it is: null means "not set", and the default applies.
func (d *decoder) value(at *yaml.Node, v reflect.Value, path string) {
	if !d.step(at) {
		return
	}
	n := resolve(at)
	if isNull(n) {
		return
	}
	d.pos[path] = Pos{Line: at.Line, Col: at.Column}
	d.decode(n, at, v, path)
}

// decode decodes n into v. at is where n stands in the file: the alias
// that stands for it, or n itself.
func (d *decoder) decode(n, at *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		if n.Kind != yaml.ScalarNode {
			d.fail(at, path, "must be %s, not %s", kindName(t), describe(n))
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.fail(at, path, "%v", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		d.decode(n, at, p.Elem(), path)
		v.Set(p)
	case reflect.Struct:
		d.mapping(n, at, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(at, path, "must be a list, not %s", describe(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.value(item, s.Index(i), path+"["+strconv.Itoa(i)+"]")
		}
		v.Set(s)
	case reflect.String:
		// Any scalar is text: a topic or an enum value may look like a number.
		if n.Kind != yaml.ScalarNode {
			d.fail(at, path, "must be a string, not %s", describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.fail(at, path, "must be true or false, not %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil || v.OverflowInt(i) {
			d.fail(at, path, "must be an integer, not %s", describe(n))
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		var u uint64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&u) != nil || v.OverflowUint(u) {
			d.fail(at, path, "must be a non-negative integer, not %s", describe(n))
			return
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		var f float64
		tag := n.ShortTag()
		if n.Kind != yaml.ScalarNode || tag != "!!int" && tag != "!!float" || n.Decode(&f) != nil ||
			math.IsNaN(f) || math.IsInf(f, 0) || v.OverflowFloat(f) {
			d.fail(at, path, "must be a number, not %s", describe(n))
			return
		}
		v.SetFloat(f)
	default:
		// Only a new field of a type this decoder does not know gets here.
		d.fail(at, path, "cannot decode into a Go %s", t)
	}
}

// pair is one key and value of a mapping.
type pair struct {
	key, value *yaml.Node
	merged     bool // from a merge key (<<), so explicit keys override it
}

// pairs lists a mapping's pairs: its own first, then those its merge keys
// (<<: *anchor) bring in, for the first of each key to win.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	return d.mergePairs(n, path, []*yaml.Node{n})
}

// mergePairs is pairs for n, merged into the mappings in chain.
func (d *decoder) mergePairs(n *yaml.Node, path string, chain []*yaml.Node) []pair {
	var own, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !d.step(k) {
			return nil
		}
		if k.Kind != yaml.ScalarNode || k.Value != "<<" || k.ShortTag() != "!!merge" {
			own = append(own, pair{key: k, value: v})
			continue
		}
		src := resolve(v)
		maps := []*yaml.Node{src}
		if src.Kind == yaml.SequenceNode {
			maps = maps[:0]
			for _, m := range src.Content {
				maps = append(maps, resolve(m))
			}
		}
		for _, m := range maps {
			switch {
			case m.Kind != yaml.MappingNode:
				d.errorf(v, path, "merge key (<<) needs a mapping or a list of mappings, not %s", describe(m))
				continue
			case slices.Contains(chain, m):
				d.errorf(v, path, "merge key (<<) merges a mapping into itself")
				continue
			}
			for _, p := range d.mergePairs(m, path, append(chain, m)) {
				p.merged = true
				merged = append(merged, p)
			}
		}
	}
	return append(own, merged...)
}

// mapping decodes a mapping into the struct v, field by YAML tag.
func (d *decoder) mapping(n, at *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		if path == "" {
			d.fail(at, path, "the file must hold a mapping (brokers:, feeds:, ...), not %s", describe(n))
		} else {
			d.fail(at, path, "must be a mapping, not %s", describe(n))
		}
		return
	}
	fields := fieldsOf(v.Type())
	seen := map[string]*yaml.Node{}
	for _, p := range d.pairs(n, path) {
		k := resolve(p.key)
		if k.Kind != yaml.ScalarNode {
			d.errorf(p.key, path, "a key must be a field name, not %s", describe(k))
			continue
		}
		name := k.Value
		fpath := name
		if path != "" {
			fpath = path + "." + name
		}
		if first, dup := seen[name]; dup {
			if !p.merged {
				d.errorf(p.key, fpath, "already set at line %d", first.Line)
			}
			continue
		}
		seen[name] = p.key
		i, ok := fields.index[name]
		if !ok {
			msg := "unknown field"
			if s := suggest(name, fields.names); s != "" {
				msg += "; did you mean " + s + "?"
			}
			d.errorf(p.key, fpath, "%s", msg)
			continue
		}
		d.value(p.value, v.Field(i), fpath)
	}
}

// structFields is a struct's YAML field names and their field indexes.
type structFields struct {
	index map[string]int
	names []string
}

var fieldCache sync.Map // reflect.Type → *structFields

func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f := &structFields{index: map[string]int{}}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !t.Field(i).IsExported() {
			continue
		}
		f.index[name] = i
		f.names = append(f.names, name)
	}
	fieldCache.Store(t, f)
	return f
}

// suggest returns the known name that an unknown one most likely
// misspells, or "".
func suggest(name string, known []string) string {
	norm := func(s string) string {
		return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(s))
	}
	best, bestDist := "", 3
	for _, k := range known {
		dist, limit := editDistance(norm(name), norm(k)), 2
		if len(k) <= 5 {
			limit = 1
		}
		if dist < bestDist && dist <= limit {
			best, bestDist = k, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, with an
// adjacent transposition counting as one edit.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt
	}
	prev2 := make([]int, len(b)+1)
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
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// kindName says what a value of type t is written as, for type errors.
func kindName(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[Duration]():
		return "a duration such as 30s"
	case reflect.TypeFor[ByteSize]():
		return "a size such as 64MiB"
	}
	return "a single value"
}

// describe names what a node is, for type errors: a mapping, a list, or
// the quoted scalar.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		s := n.Value
		if len(s) > 40 {
			s = s[:37] + "..."
		}
		return strconv.Quote(s)
	}
	return "nothing"
}
