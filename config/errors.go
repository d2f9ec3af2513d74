package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Error is one problem in a config file, at the place it is about.
type Error struct {
	File      string
	Line, Col int // 1-based; 0 when the place is unknown (a Config built in code)
	// Path is the field the problem is about, as in Config.Pos
	// ("feeds[0].batch.max_bytes"); empty for the file as a whole (a YAML
	// syntax error).
	Path string
	Msg  string
}

// Error renders e as FILE:LINE:COL: path.to.field: message, leaving out
// the parts e does not have.
func (e Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Col))
		b.WriteByte(':')
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

// Errors is every problem found in a config file, in the order they stand
// in the file. Print one per line.
type Errors []Error

// Error joins the errors' lines with "\n".
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Err returns es as an error, or nil when there are none: a nil Errors in
// an error interface is not a nil error.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// Sort orders es by position; errors at the same place keep their order.
// Load and Parse return them sorted; call it after adding more.
func (es Errors) Sort() {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Col < es[j].Col
	})
}

// Errorf builds an Error about the field at path (as in Pos), placed where
// the file sets it or, when it does not (a missing field), where its
// nearest parent stands.
func (c *Config) Errorf(path, format string, args ...any) Error {
	p := c.PosOf(path)
	return Error{File: c.File, Line: p.Line, Col: p.Col, Path: path, Msg: fmt.Sprintf(format, args...)}
}

// PosOf returns where path stands in File, or its nearest parent that
// does; the zero Pos when neither does.
func (c *Config) PosOf(path string) Pos {
	for {
		if p, ok := c.Pos[path]; ok {
			return p
		}
		if path == "" {
			return Pos{}
		}
		path = parentPath(path)
	}
}

// given reports whether the file sets path to something other than null.
func (c *Config) given(path string) bool {
	_, ok := c.Pos[path]
	return ok
}

// parentPath strips the last element of a path: "feeds[0].batch" gives
// "feeds[0]", which gives "feeds", which gives "".
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// underPath reports whether path is base or inside it.
func underPath(path, base string) bool {
	if !strings.HasPrefix(path, base) {
		return false
	}
	if len(path) == len(base) || base == "" {
		return true
	}
	c := path[len(base)]
	return c == '.' || c == '['
}
