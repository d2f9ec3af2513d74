// Package arrowrows is Sluice's Apache Arrow support.
//
// A Decoder is the fields.Rows of a feed with `format: arrow`: each Kafka
// record value is an Arrow IPC stream (a Schema message, dictionary
// batches, one or more record batches, optionally the end-of-stream
// marker), and the decoder fills one fields.Value per planned path for
// every row. It reads the IPC framing and the FlatBuffers metadata itself,
// with every offset checked, and reads values straight from the record's
// bytes: no Arrow arrays are built, no allocator is involved, and a row
// costs a few loads per planned column. The field plan (which column,
// which buffers, which dictionary) is built once per schema and cached by
// a hash of the Schema message's bytes, so the schema that every record
// repeats is parsed once; in steady state decoding allocates nothing.
// Values follow what the row's JSON form would give (see Decoder.Decode).
//
// This package does not import arrow-go, on purpose: its fuzz target
// (package arrowrows/fuzz) runs 30 to 50 times faster in a binary without
// it. Whole files, for replay and quarantine exports, are arrow-go's job,
// in package arrowrows/arrowfile.
package arrowrows

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/sluicehq/sluice/fields"
)

var (
	// ErrFormat is wrapped by the errors of a value that is not a
	// well-formed Arrow IPC stream.
	ErrFormat = errors.New("invalid Arrow IPC stream")
	// ErrUnsupported is wrapped by the errors of a well-formed stream that
	// Sluice cannot read: big-endian data, compressed bodies, or a planned
	// field of a type that has no value (interval, union, run-end encoded).
	ErrUnsupported = errors.New("unsupported Arrow IPC")
)

// formatError is an ErrFormat that says what was wrong; it is a string so
// that the error paths allocate nothing.
type formatError string

func (e formatError) Error() string { return ErrFormat.Error() + ": bad " + string(e) }
func (e formatError) Unwrap() error { return ErrFormat }

func errFormat(what string) error { return formatError(what) }

// RowsPerByte is how many rows a record may claim per byte of its value.
// Arrow lets a batch of null-typed columns claim any length for free; the
// cap keeps a hostile record from making the gate loop for nothing. A
// real record spends at least a bit per row.
const RowsPerByte = 8

// maxPlans is how many schemas a decoder keeps plans for; when a feed
// goes past it, the cache starts over.
const maxPlans = 64

// Decoder decodes the Arrow IPC streams of one feed. It implements
// fields.Rows. It is not safe for concurrent use: a gate has one per
// partition.
type Decoder struct {
	paths []string
	segs  [][]string
	msgs  []message
	cache map[uint64]*plan
	cur   *plan
	vpre  []int // prefix sums of a batch's variadic buffer counts
	bound batch // the record batch being read
	// rewalk is set by check when showing the rows needs a second pass:
	// more than one record batch, or a dictionary batch after one.
	rewalk bool
	// parses counts schema parses (cache misses), for tests.
	parses int

	// Schema changes: shape of the last decoded record's schema, and of
	// the one in force when the open batch started (at Reset).
	shape, baseShape uint64
	seen, baseSeen   bool
	changes          int
	cols             int
}

// message is one IPC message of a stream.
type message struct {
	typ     uint8
	version int16
	hdr     table
	meta    []byte // the Message FlatBuffer
	body    []byte
}

// NewDecoder returns a decoder that extracts paths, in that order. A path
// is a dot path through struct columns ("contact.email"); a top-level
// column whose name is the whole path, dots and all, also matches.
func NewDecoder(paths []string) (*Decoder, error) {
	d := &Decoder{paths: append([]string(nil), paths...), cache: map[uint64]*plan{}}
	for _, p := range paths {
		segs := strings.Split(p, ".")
		for _, s := range segs {
			if s == "" {
				return nil, fmt.Errorf("invalid field path %q: empty segment", p)
			}
		}
		d.segs = append(d.segs, segs)
	}
	return d, nil
}

// Paths returns the planned paths; Decode fills out[i] for Paths()[i].
func (d *Decoder) Paths() []string { return d.paths }

// Decode decodes one record value, an Arrow IPC stream. For each row of
// each record batch, in order, it fills out[i] with the value of
// Paths()[i] and calls row; out must hold at least len(Paths()) values,
// and they alias value (or, for numbers, a buffer of the decoder's),
// valid until row returns. It returns the number of rows.
//
// The values are what the row's JSON form would give:
//   - utf8, binary, their large and view forms and fixed-size binary:
//     String, Raw the bytes themselves (never Escaped);
//   - integers, floating point and decimals: Number, Raw the decimal text
//     (floats as encoding/json writes them, the shortest text that reads
//     back the same: "0.5", "1e+21"; NaN and +Inf, which JSON lacks, as
//     strconv writes them); dates, times, timestamps and durations:
//     Number, the integer count of the type's unit (days or milliseconds
//     since the epoch for dates, the timestamp's unit since the epoch);
//   - bool: Bool, Raw "true" or "false";
//   - a null slot and the null type: Null, Raw "null";
//   - a column that is not in the schema, or a field under a null struct:
//     Missing (as a JSON path through null is);
//   - a struct: Object, and the list types and map: Array, both with Raw
//     nil (their contents are not rendered).
//
// Dictionary-encoded columns read their dictionary's value. A planned path
// of a type with no such value (interval, union, run-end encoded) makes
// every record with that schema fail, with ErrUnsupported.
//
// The whole record is checked before row is first called: on error
// (which wraps ErrFormat or ErrUnsupported) row is never called and every
// value is Missing, so an undecodable record shows nothing to the
// detectors. Decode allocates nothing in steady state: only a schema it
// has not seen costs a parse.
func (d *Decoder) Decode(value []byte, out []fields.Value, row func()) (int, error) {
	out = out[:len(d.paths)]
	clear(out)
	p, n, err := d.check(value)
	if err != nil {
		return 0, err
	}
	switch {
	case n == 0:
	case !d.rewalk:
		// One record batch, the last message with data: the check left
		// the plan bound to it and the dictionaries as it needs them.
		for r := range n {
			p.fill(out, r)
			row()
		}
	default:
		if err := d.walk(p, value, out, row); err != nil {
			clear(out)
			return 0, err
		}
	}
	d.noteSchema(p)
	return n, nil
}

// SchemaChanges returns how many times the schema changed from one
// decoded record to the next since Reset, and what the last schema is in
// words. A change is a change of the logical schema: column names, types,
// nullability and dictionary index types; not dictionary ids, custom
// metadata or how a writer laid out the bytes. The first record a decoder
// sees is not a change.
func (d *Decoder) SchemaChanges() (n int, now string) {
	if !d.seen {
		return d.changes, ""
	}
	return d.changes, fmt.Sprintf("%d columns, shape %016x", d.cols, d.shape)
}

// Reset starts counting schema changes anew, from the schema in force now:
// a batch closed.
func (d *Decoder) Reset() {
	d.changes = 0
	d.baseShape, d.baseSeen = d.shape, d.seen
}

// Rewind forgets the schemas seen since Reset: the open batch was
// abandoned and its records will be decoded again.
func (d *Decoder) Rewind() {
	d.changes = 0
	d.shape, d.seen = d.baseShape, d.baseSeen
}

func (d *Decoder) noteSchema(p *plan) {
	if d.seen && p.s.shape != d.shape {
		d.changes++
	}
	d.shape, d.seen, d.cols = p.s.shape, true, p.s.cols
}

// check frames value, finds its plan and checks every record batch; it
// returns the plan and the number of rows.
func (d *Decoder) check(value []byte) (*plan, int, error) {
	if err := d.frame(value); err != nil {
		return nil, 0, err
	}
	if len(d.msgs) == 0 || d.msgs[0].typ != msgSchema {
		return nil, 0, errFormat("stream: it does not start with a schema")
	}
	p, err := d.planFor(&d.msgs[0])
	if err != nil {
		return nil, 0, err
	}
	if p.err != nil {
		return nil, 0, p.err
	}
	n, err := d.walkCheck(p, value)
	return p, n, err
}

// frame splits value into its messages.
func (d *Decoder) frame(v []byte) error {
	d.msgs = d.msgs[:0]
	for off := 0; off < len(v); {
		if len(v)-off < 4 {
			return errFormat("message length")
		}
		n := int(int32(binary.LittleEndian.Uint32(v[off:])))
		off += 4
		if n == -1 { // continuation marker, then the length
			if len(v)-off < 4 {
				return errFormat("message length")
			}
			n = int(int32(binary.LittleEndian.Uint32(v[off:])))
			off += 4
		}
		if n == 0 { // end of stream
			if off != len(v) {
				return errFormat("stream: bytes after its end")
			}
			return nil
		}
		if n < 0 || n > len(v)-off {
			return errFormat("message length")
		}
		meta := v[off : off+n]
		off += n
		m, ok := rootTable(meta)
		if !ok {
			return errFormat("message")
		}
		version, ok1 := m.int16(0, 0)
		typ, ok2 := m.int8(1, 0)
		hdr, present, ok3 := m.table(2)
		bodyLen, ok4 := m.int64(3, 0)
		if !ok1 || !ok2 || !ok3 || !ok4 || !present {
			return errFormat("message")
		}
		if version < metadataV4 || version > metadataV5 {
			return fmt.Errorf("%w: metadata version %d", ErrUnsupported, version)
		}
		if bodyLen < 0 || bodyLen > int64(len(v)-off) {
			return errFormat("message body length")
		}
		d.msgs = append(d.msgs, message{typ: uint8(typ), version: version, hdr: hdr, meta: meta, body: v[off : off+int(bodyLen)]})
		off += int(bodyLen)
	}
	return nil
}

// planFor returns the plan for a Schema message, from the cache when its
// bytes were seen before.
func (d *Decoder) planFor(m *message) (*plan, error) {
	if p := d.cur; p != nil && bytes.Equal(p.meta, m.meta) {
		return p, nil
	}
	h := xxhash.Sum64(m.meta)
	if p := d.cache[h]; p != nil && bytes.Equal(p.meta, m.meta) {
		d.cur = p
		return p, nil
	}
	d.parses++
	s, err := parseSchema(m.hdr, m.version)
	if err != nil {
		return nil, err
	}
	p := newPlan(s, d.paths, d.segs)
	p.meta = bytes.Clone(m.meta)
	if len(d.cache) >= maxPlans {
		clear(d.cache)
	}
	d.cache[h] = p
	d.cur = p
	return p, nil
}

// walkCheck checks every message after the schema against plan p and
// counts the rows.
func (d *Decoder) walkCheck(p *plan, value []byte) (int, error) {
	p.resetDicts()
	maxRows := RowsPerByte * len(value)
	rows, batches := 0, 0
	d.rewalk = false
	for i := 1; i < len(d.msgs); i++ {
		m := &d.msgs[i]
		switch m.typ {
		case msgDictionaryBatch:
			if err := d.applyDict(p, m, maxRows, true); err != nil {
				return 0, err
			}
			d.rewalk = d.rewalk || batches > 0
		case msgRecordBatch:
			if batches++; batches > 1 {
				d.rewalk = true
			}
			b, err := d.bind(p, m, maxRows-rows)
			if err != nil {
				return 0, err
			}
			if err := p.check(b.rows); err != nil {
				return 0, err
			}
			rows += b.rows
		case msgSchema:
			return 0, errFormat("stream: a second schema")
		default:
			return 0, fmt.Errorf("%w: message type %d in a stream", ErrUnsupported, m.typ)
		}
	}
	return rows, nil
}

// walk shows every row to row; walkCheck has checked them.
func (d *Decoder) walk(p *plan, value []byte, out []fields.Value, row func()) error {
	p.resetDicts()
	maxRows := RowsPerByte * len(value)
	for i := 1; i < len(d.msgs); i++ {
		m := &d.msgs[i]
		switch m.typ {
		case msgDictionaryBatch:
			if err := d.applyDict(p, m, maxRows, false); err != nil {
				return err
			}
		case msgRecordBatch:
			b, err := d.bind(p, m, maxRows)
			if err != nil {
				return err
			}
			for r := range b.rows {
				p.fill(out, r)
				row()
			}
		}
	}
	return nil
}

// batch is a RecordBatch message being read.
type batch struct {
	body       []byte
	b          []byte // the metadata the vectors are in
	rows       int
	nodeStart  int
	nodes      int
	bufStart   int
	bufs       int
	varStart   int
	variadic   int
	compressed bool
}

// openBatch reads a RecordBatch table.
func openBatch(t table, body []byte, maxRows int) (batch, error) {
	b := batch{body: body, b: t.b}
	length, ok := t.int64(0, 0)
	if !ok || length < 0 {
		return b, errFormat("record batch length")
	}
	if length > int64(maxRows) {
		return b, errFormat("record batch length: more rows than the record has bytes for")
	}
	b.rows = int(length)
	if b.nodeStart, b.nodes, ok = t.vector(1, 16); !ok {
		return b, errFormat("record batch nodes")
	}
	if b.bufStart, b.bufs, ok = t.vector(2, 16); !ok {
		return b, errFormat("record batch buffers")
	}
	if _, present, ok := t.table(3); !ok {
		return b, errFormat("record batch compression")
	} else if present {
		return b, fmt.Errorf("%w: compressed record batch bodies", ErrUnsupported)
	}
	if b.varStart, b.variadic, ok = t.vector(4, 8); !ok {
		return b, errFormat("record batch variadic buffer counts")
	}
	return b, nil
}

// node returns field node i: its length and null count, checked against
// the batch's rows.
func (b *batch) node(i int) (nulls int, err error) {
	if i >= b.nodes {
		return 0, errFormat("record batch: too few field nodes")
	}
	at := b.nodeStart + 16*i
	length := int64(binary.LittleEndian.Uint64(b.b[at:]))
	n := int64(binary.LittleEndian.Uint64(b.b[at+8:]))
	if length < int64(b.rows) || n < 0 || n > length {
		return 0, errFormat("field node")
	}
	return int(min(n, int64(b.rows)+1)), nil
}

// buffer returns buffer i of the body.
func (b *batch) buffer(i int) ([]byte, error) {
	if i >= b.bufs {
		return nil, errFormat("record batch: too few buffers")
	}
	at := b.bufStart + 16*i
	off := int64(binary.LittleEndian.Uint64(b.b[at:]))
	n := int64(binary.LittleEndian.Uint64(b.b[at+8:]))
	if off < 0 || n < 0 || off > int64(len(b.body)) || n > int64(len(b.body))-off {
		return nil, errFormat("buffer")
	}
	return b.body[off : off+n], nil
}

// variadicCount returns the variadic buffer count of view field i.
func (b *batch) variadicCount(i int) (int, error) {
	if i >= b.variadic {
		return 0, errFormat("record batch: too few variadic buffer counts")
	}
	n := int64(binary.LittleEndian.Uint64(b.b[b.varStart+8*i:]))
	if n < 0 || n > int64(b.bufs) {
		return 0, errFormat("variadic buffer count")
	}
	return int(n), nil
}

// bind opens a record batch and points every planned column at its data.
func (d *Decoder) bind(p *plan, m *message, maxRows int) (*batch, error) {
	b, err := openBatch(m.hdr, m.body, maxRows)
	if err != nil {
		return nil, err
	}
	s := p.s
	if b.nodes != s.nodes {
		return nil, errFormat("record batch: field nodes do not match the schema")
	}
	// Each view field's variadic buffers come right after its own.
	d.vpre = append(d.vpre[:0], 0)
	total := 0
	if s.views > 0 || b.variadic > 0 {
		if b.variadic != s.views {
			return nil, errFormat("record batch: variadic buffer counts do not match the schema")
		}
		for i := range b.variadic {
			n, err := b.variadicCount(i)
			if err != nil {
				return nil, err
			}
			total += n
			if total > b.bufs {
				return nil, errFormat("variadic buffer count")
			}
			d.vpre = append(d.vpre, total)
		}
	}
	if b.bufs != s.bufs+total {
		return nil, errFormat("record batch: buffers do not match the schema")
	}
	d.bound = b
	for i := range p.cols {
		c := &p.cols[i]
		if !c.present {
			continue
		}
		for k, pf := range c.parents {
			v, err := bindValidity(&d.bound, pf.node, pf.buf+d.vpre[pf.views])
			if err != nil {
				return nil, err
			}
			c.pvalid[k] = v
		}
		f := c.leaf
		views := 0
		if c.r.kind == rView {
			if views, err = b.variadicCount(f.views); err != nil {
				return nil, err
			}
		}
		if err := c.r.bind(&d.bound, f.node, f.buf+d.vpre[f.views], views); err != nil {
			return nil, err
		}
		if c.dict >= 0 && !p.dicts[c.dict].seen {
			return nil, errFormat("record batch: a dictionary is used before it is sent")
		}
	}
	return &d.bound, nil
}

// bindValidity returns the validity bitmap of a struct field, nil when
// none of its values is null.
func bindValidity(b *batch, node, buf int) ([]byte, error) {
	nulls, err := b.node(node)
	if err != nil || nulls == 0 {
		return nil, err
	}
	v, err := b.buffer(buf)
	if err != nil {
		return nil, err
	}
	if len(v) < (b.rows+7)/8 {
		return nil, errFormat("validity buffer")
	}
	return v, nil
}

// applyDict reads a DictionaryBatch into the plan's dictionary, when a
// planned column uses it.
func (d *Decoder) applyDict(p *plan, m *message, maxRows int, check bool) error {
	id, ok1 := m.hdr.int64(0, 0)
	data, present, ok2 := m.hdr.table(1)
	delta, ok3 := m.hdr.int8(2, 0)
	if !ok1 || !ok2 || !ok3 || !present {
		return errFormat("dictionary batch")
	}
	if p.s.dicts[id] == nil {
		return errFormat("dictionary batch: its id is not in the schema")
	}
	k, used := p.dictOf[id]
	if !used {
		return nil
	}
	dc := &p.dicts[k]
	b, err := openBatch(data, m.body, maxRows)
	if err != nil {
		return err
	}
	if delta == 0 {
		dc.segs, dc.ends = dc.segs[:0], dc.ends[:0]
	} else if !dc.seen {
		return errFormat("dictionary batch: a delta before the dictionary")
	}
	views := 0
	if dc.val.kind == rView {
		if views, err = b.variadicCount(0); err != nil {
			return err
		}
	}
	if n := len(dc.segs); n < cap(dc.segs) {
		dc.segs = dc.segs[:n+1]
	} else {
		dc.segs = append(dc.segs, reader{})
	}
	r := &dc.segs[len(dc.segs)-1]
	r.kind, r.width, r.scale = dc.val.kind, dc.val.width, dc.val.scale
	bb := b
	if err := r.bind(&bb, 0, 0, views); err != nil {
		dc.segs = dc.segs[:len(dc.segs)-1]
		return err
	}
	if check {
		if err := r.check(b.rows); err != nil {
			return err
		}
	}
	end := b.rows
	if n := len(dc.ends); n > 0 {
		end += dc.ends[n-1]
	}
	if end > maxRows {
		return errFormat("dictionary: more entries than the record has bytes for")
	}
	dc.ends = append(dc.ends, end)
	dc.seen = true
	return nil
}

// plan is how a schema's rows become values of the planned paths.
type plan struct {
	meta   []byte
	s      *schema
	err    error
	cols   []col
	dicts  []dict
	dictOf map[int64]int
}

// col is one planned path in one schema.
type col struct {
	present bool
	parents []*field // the struct fields the path goes through
	pvalid  [][]byte // their validity in the bound batch
	leaf    *field
	r       reader // the leaf's data, or its dictionary indices
	dict    int    // index in plan.dicts, or -1
	scratch []byte // the text of the current number
}

// dict is one dictionary a planned column reads: the batches that built
// it (the first and its deltas) and where each ends.
type dict struct {
	val  reader // the value type
	segs []reader
	ends []int
	seen bool
}

func (p *plan) resetDicts() {
	for i := range p.dicts {
		dc := &p.dicts[i]
		dc.segs, dc.ends, dc.seen = dc.segs[:0], dc.ends[:0], false
	}
}

// newPlan finds each path in schema s.
func newPlan(s *schema, paths []string, segs [][]string) *plan {
	p := &plan{s: s, cols: make([]col, len(paths)), dictOf: map[int64]int{}}
	for i := range paths {
		c := &p.cols[i]
		c.dict = -1
		parents, leaf, err := resolve(s.fields, segs[i])
		if leaf == nil && err == nil && len(segs[i]) > 1 {
			for k := range s.fields {
				if s.fields[k].name == paths[i] {
					parents, leaf = nil, &s.fields[k]
				}
			}
		}
		if err == nil && leaf != nil {
			err = p.plan(c, parents, leaf)
		}
		if err != nil {
			if p.err == nil {
				p.err = fmt.Errorf("field %s: %w", paths[i], err)
			}
			continue
		}
	}
	return p
}

// resolve finds the field a path names: the last field of each name wins,
// as the last key of a JSON object does.
func resolve(fs []field, segs []string) (parents []*field, leaf *field, err error) {
	for k, seg := range segs {
		var f *field
		for i := range fs {
			if fs[i].name == seg {
				f = &fs[i]
			}
		}
		if f == nil {
			return nil, nil, nil
		}
		if k == len(segs)-1 {
			return parents, f, nil
		}
		if f.typ != typeStruct {
			return nil, nil, nil // a path through a non-object is missing
		}
		if f.dict != nil {
			return nil, nil, fmt.Errorf("%w: dictionary-encoded struct", ErrUnsupported)
		}
		parents = append(parents, f)
		fs = f.children
	}
	return nil, nil, nil
}

func (p *plan) plan(c *col, parents []*field, leaf *field) error {
	val, err := readerFor(leaf)
	if err != nil {
		return err
	}
	c.present, c.parents, c.leaf = true, parents, leaf
	c.pvalid = make([][]byte, len(parents))
	if leaf.dict == nil {
		c.r = val
		return nil
	}
	c.r = reader{kind: rInt, width: leaf.dict.width}
	if !leaf.dict.signed {
		c.r.kind = rUint
	}
	k, ok := p.dictOf[leaf.dict.id]
	if !ok {
		k = len(p.dicts)
		p.dictOf[leaf.dict.id] = k
		// Fields sharing a dictionary read it as its first field's type.
		first, err := readerFor(p.s.dicts[leaf.dict.id])
		if err != nil {
			return err
		}
		p.dicts = append(p.dicts, dict{val: first})
	}
	c.dict = k
	return nil
}

// check checks the bound batch's planned columns for rows: offsets,
// views and dictionary indices within their buffers.
func (p *plan) check(rows int) error {
	for i := range p.cols {
		c := &p.cols[i]
		if !c.present {
			continue
		}
		if err := c.r.check(rows); err != nil {
			return err
		}
		if c.dict >= 0 {
			dc := &p.dicts[c.dict]
			n := 0
			if len(dc.ends) > 0 {
				n = dc.ends[len(dc.ends)-1]
			}
			for r := range rows {
				if c.r.valid != nil && !bit(c.r.valid, r) {
					continue
				}
				if k := c.r.index(r); k < 0 || k >= n {
					return errFormat("dictionary index")
				}
			}
		}
	}
	return nil
}

// fill sets out to row r of the bound batch.
func (p *plan) fill(out []fields.Value, r int) {
	for i := range p.cols {
		c := &p.cols[i]
		if c.present {
			out[i] = c.value(p, r)
		}
	}
}

var (
	rawNull  = []byte("null")
	rawTrue  = []byte("true")
	rawFalse = []byte("false")
)

func (c *col) value(p *plan, r int) fields.Value {
	for _, v := range c.pvalid {
		if v != nil && !bit(v, r) {
			return fields.Value{} // under a null struct: missing, as in JSON
		}
	}
	if c.r.valid != nil && !bit(c.r.valid, r) {
		return fields.Value{Raw: rawNull, Kind: fields.Null}
	}
	if c.dict < 0 {
		return c.r.value(r, &c.scratch)
	}
	dc := &p.dicts[c.dict]
	k, s, start := c.r.index(r), 0, 0
	for k >= dc.ends[s] {
		start = dc.ends[s]
		s++
	}
	d := &dc.segs[s]
	if k -= start; d.valid != nil && !bit(d.valid, k) {
		return fields.Value{Raw: rawNull, Kind: fields.Null}
	}
	return d.value(k, &c.scratch)
}

func bit(b []byte, i int) bool { return b[i>>3]>>(i&7)&1 != 0 }

// Kinds of reader.
const (
	rNull    uint8 = iota // the null type
	rBool                 // bit-packed
	rInt                  // signed, 1, 2, 4 or 8 bytes
	rUint                 // unsigned
	rFloat                // 2, 4 or 8 bytes
	rDecimal              // 4, 8, 16 or 32 bytes, with a scale
	rBinary               // 32-bit offsets and data
	rLarge                // 64-bit offsets and data
	rView                 // 16-byte views and data buffers
	rFixed                // fixed-size binary
	rStruct               // an object: only its validity is read
	rList                 // an array: only its validity is read
)

// reader reads the values of one column of a bound record batch.
type reader struct {
	kind  uint8
	width int
	scale int32
	valid []byte   // validity; nil when no value is null
	data  []byte   // values, views or bytes
	offs  []byte   // offsets
	vbufs [][]byte // a view column's data buffers
}

// readerFor returns the reader of a field's values.
func readerFor(f *field) (reader, error) {
	switch f.typ {
	case typeNull:
		return reader{kind: rNull}, nil
	case typeBool:
		return reader{kind: rBool}, nil
	case typeInt:
		if f.signed {
			return reader{kind: rInt, width: f.width}, nil
		}
		return reader{kind: rUint, width: f.width}, nil
	case typeDate, typeTime, typeTimestamp, typeDuration:
		return reader{kind: rInt, width: f.width}, nil
	case typeFloat:
		return reader{kind: rFloat, width: f.width}, nil
	case typeDecimal:
		return reader{kind: rDecimal, width: f.width, scale: f.scale}, nil
	case typeBinary, typeUtf8:
		return reader{kind: rBinary}, nil
	case typeLargeBinary, typeLargeUtf8:
		return reader{kind: rLarge}, nil
	case typeBinaryView, typeUtf8View:
		return reader{kind: rView, width: 16}, nil
	case typeFixedSizeBinary:
		return reader{kind: rFixed, width: f.width}, nil
	case typeStruct:
		return reader{kind: rStruct}, nil
	case typeList, typeLargeList, typeFixedSizeList, typeMap, typeListView, typeLargeListView:
		return reader{kind: rList}, nil
	}
	return reader{}, fmt.Errorf("%w: %s columns have no value Sluice can read", ErrUnsupported, typeName(f.typ))
}

// bind points r at field node's data in b, whose buffers start at buf;
// views is a view column's number of data buffers.
func (r *reader) bind(b *batch, node, buf, views int) error {
	nulls, err := b.node(node)
	if err != nil {
		return err
	}
	r.valid, r.data, r.offs, r.vbufs = nil, nil, nil, r.vbufs[:0]
	if r.kind == rNull {
		return nil
	}
	if nulls > 0 {
		if r.valid, err = b.buffer(buf); err != nil {
			return err
		}
		if len(r.valid) < (b.rows+7)/8 {
			return errFormat("validity buffer")
		}
	}
	n := b.rows
	switch r.kind {
	case rBool:
		r.data, err = b.buffer(buf + 1)
		if err == nil && len(r.data) < (n+7)/8 {
			err = errFormat("bool buffer")
		}
	case rInt, rUint, rFloat, rDecimal, rFixed, rView:
		if r.data, err = b.buffer(buf + 1); err != nil {
			return err
		}
		if int64(len(r.data)) < int64(n)*int64(r.width) {
			return errFormat("values buffer")
		}
		for i := range views {
			v, err := b.buffer(buf + 2 + i)
			if err != nil {
				return err
			}
			r.vbufs = append(r.vbufs, v)
		}
	case rBinary, rLarge:
		w := 4
		if r.kind == rLarge {
			w = 8
		}
		if r.offs, err = b.buffer(buf + 1); err != nil {
			return err
		}
		if n > 0 && len(r.offs) < (n+1)*w {
			return errFormat("offsets buffer")
		}
		r.data, err = b.buffer(buf + 2)
	}
	return err
}

// check checks the offsets and views of the first rows values.
func (r *reader) check(rows int) error {
	if rows == 0 {
		return nil
	}
	switch r.kind {
	case rBinary:
		prev := int32(binary.LittleEndian.Uint32(r.offs))
		if prev < 0 {
			return errFormat("offsets")
		}
		for i := 1; i <= rows; i++ {
			o := int32(binary.LittleEndian.Uint32(r.offs[4*i:]))
			if o < prev {
				return errFormat("offsets")
			}
			prev = o
		}
		if int64(prev) > int64(len(r.data)) {
			return errFormat("offsets")
		}
	case rLarge:
		prev := int64(binary.LittleEndian.Uint64(r.offs))
		if prev < 0 {
			return errFormat("offsets")
		}
		for i := 1; i <= rows; i++ {
			o := int64(binary.LittleEndian.Uint64(r.offs[8*i:]))
			if o < prev {
				return errFormat("offsets")
			}
			prev = o
		}
		if prev > int64(len(r.data)) {
			return errFormat("offsets")
		}
	case rView:
		for i := range rows {
			if r.valid != nil && !bit(r.valid, i) {
				continue
			}
			v := r.data[16*i : 16*i+16]
			size := int64(int32(binary.LittleEndian.Uint32(v)))
			if size < 0 {
				return errFormat("view")
			}
			if size <= 12 {
				continue
			}
			idx := int64(int32(binary.LittleEndian.Uint32(v[8:])))
			off := int64(int32(binary.LittleEndian.Uint32(v[12:])))
			if idx < 0 || idx >= int64(len(r.vbufs)) || off < 0 || off+size > int64(len(r.vbufs[idx])) {
				return errFormat("view")
			}
		}
	}
	return nil
}

// index returns value i of an integer column as an int (a uint64 beyond
// MaxInt64 comes out negative).
func (r *reader) index(i int) int {
	switch r.width {
	case 1:
		if r.kind == rUint {
			return int(r.data[i])
		}
		return int(int8(r.data[i]))
	case 2:
		v := binary.LittleEndian.Uint16(r.data[2*i:])
		if r.kind == rUint {
			return int(v)
		}
		return int(int16(v))
	case 4:
		v := binary.LittleEndian.Uint32(r.data[4*i:])
		if r.kind == rUint {
			return int(v)
		}
		return int(int32(v))
	}
	return int(binary.LittleEndian.Uint64(r.data[8*i:]))
}

// value returns the value at row i, which is not null; numbers are
// written over *scratch.
func (r *reader) value(i int, scratch *[]byte) fields.Value {
	switch r.kind {
	case rBinary:
		s := binary.LittleEndian.Uint32(r.offs[4*i:])
		e := binary.LittleEndian.Uint32(r.offs[4*i+4:])
		return fields.Value{Raw: r.data[s:e:e], Kind: fields.String}
	case rLarge:
		s := binary.LittleEndian.Uint64(r.offs[8*i:])
		e := binary.LittleEndian.Uint64(r.offs[8*i+8:])
		return fields.Value{Raw: r.data[s:e:e], Kind: fields.String}
	case rView:
		v := r.data[16*i : 16*i+16]
		size := binary.LittleEndian.Uint32(v)
		if size <= 12 {
			return fields.Value{Raw: v[4 : 4+size : 4+size], Kind: fields.String}
		}
		b := r.vbufs[binary.LittleEndian.Uint32(v[8:])]
		off := binary.LittleEndian.Uint32(v[12:])
		return fields.Value{Raw: b[off : off+size : off+size], Kind: fields.String}
	case rFixed:
		return fields.Value{Raw: r.data[r.width*i : r.width*(i+1) : r.width*(i+1)], Kind: fields.String}
	case rInt:
		var v int64
		switch r.width {
		case 1:
			v = int64(int8(r.data[i]))
		case 2:
			v = int64(int16(binary.LittleEndian.Uint16(r.data[2*i:])))
		case 4:
			v = int64(int32(binary.LittleEndian.Uint32(r.data[4*i:])))
		default:
			v = int64(binary.LittleEndian.Uint64(r.data[8*i:]))
		}
		*scratch = strconv.AppendInt((*scratch)[:0], v, 10)
		return fields.Value{Raw: *scratch, Kind: fields.Number}
	case rUint:
		var v uint64
		switch r.width {
		case 1:
			v = uint64(r.data[i])
		case 2:
			v = uint64(binary.LittleEndian.Uint16(r.data[2*i:]))
		case 4:
			v = uint64(binary.LittleEndian.Uint32(r.data[4*i:]))
		default:
			v = binary.LittleEndian.Uint64(r.data[8*i:])
		}
		*scratch = strconv.AppendUint((*scratch)[:0], v, 10)
		return fields.Value{Raw: *scratch, Kind: fields.Number}
	case rFloat:
		switch r.width {
		case 2:
			*scratch = appendFloat((*scratch)[:0], float64(halfToFloat(binary.LittleEndian.Uint16(r.data[2*i:]))), 32)
		case 4:
			*scratch = appendFloat((*scratch)[:0], float64(math.Float32frombits(binary.LittleEndian.Uint32(r.data[4*i:]))), 32)
		default:
			*scratch = appendFloat((*scratch)[:0], math.Float64frombits(binary.LittleEndian.Uint64(r.data[8*i:])), 64)
		}
		return fields.Value{Raw: *scratch, Kind: fields.Number}
	case rDecimal:
		*scratch = appendDecimal((*scratch)[:0], r.data[r.width*i:r.width*(i+1)], r.scale)
		return fields.Value{Raw: *scratch, Kind: fields.Number}
	case rBool:
		if bit(r.data, i) {
			return fields.Value{Raw: rawTrue, Kind: fields.Bool}
		}
		return fields.Value{Raw: rawFalse, Kind: fields.Bool}
	case rStruct:
		return fields.Value{Kind: fields.Object}
	case rList:
		return fields.Value{Kind: fields.Array}
	}
	return fields.Value{Raw: rawNull, Kind: fields.Null}
}
