package arrowrows

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// Arrow's Type union, MessageHeader union and metadata versions
// (format/Schema.fbs, format/Message.fbs).
const (
	typeNull            = 1
	typeInt             = 2
	typeFloat           = 3
	typeBinary          = 4
	typeUtf8            = 5
	typeBool            = 6
	typeDecimal         = 7
	typeDate            = 8
	typeTime            = 9
	typeTimestamp       = 10
	typeInterval        = 11
	typeList            = 12
	typeStruct          = 13
	typeUnion           = 14
	typeFixedSizeBinary = 15
	typeFixedSizeList   = 16
	typeMap             = 17
	typeDuration        = 18
	typeLargeBinary     = 19
	typeLargeUtf8       = 20
	typeLargeList       = 21
	typeRunEndEncoded   = 22
	typeBinaryView      = 23
	typeUtf8View        = 24
	typeListView        = 25
	typeLargeListView   = 26

	msgSchema          = 1
	msgDictionaryBatch = 2
	msgRecordBatch     = 3

	metadataV4 = 3
	metadataV5 = 4
)

var typeNames = [...]string{"none", "null", "int", "floating point", "binary", "utf8", "bool", "decimal", "date",
	"time", "timestamp", "interval", "list", "struct", "union", "fixed-size binary", "fixed-size list", "map",
	"duration", "large binary", "large utf8", "large list", "run-end encoded", "binary view", "utf8 view",
	"list view", "large list view"}

func typeName(t uint8) string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "type " + strconv.Itoa(int(t))
}

// Limits on a schema, so that hostile metadata cannot make the plan
// unbounded.
const (
	maxDepth  = 64
	maxFields = 1 << 16
)

// field is one field of a schema, with where its data is in a record
// batch.
type field struct {
	name     string
	typ      uint8
	nullable bool
	width    int   // bytes a value: Int, FloatingPoint, Decimal, Date, Time, FixedSizeBinary
	signed   bool  // Int
	scale    int32 // Decimal
	unit     int16 // Date, Time, Timestamp, Duration, Interval
	tz       string
	mode     int16 // Union: 0 sparse, 1 dense
	dict     *dictEncoding
	children []field

	// node is its field node in a record batch (fields are numbered in
	// pre-order); buf its first buffer, not counting the variadic buffers
	// of view fields before it, of which there are views.
	node, buf, views int
}

// dictEncoding says a field is dictionary-encoded: its record batch data
// are indices into dictionary id, whose values have the field's type.
type dictEncoding struct {
	id     int64
	width  int
	signed bool
}

// schema is a decoded Schema message.
type schema struct {
	fields []field
	nodes  int // field nodes a record batch has
	bufs   int // buffers a record batch has, not counting variadic ones
	views  int // view fields: each has a variadic buffer count
	// dicts are the dictionary-encoded fields, by id.
	dicts map[int64]*field
	// shape identifies the schema's logical content: names, types,
	// nullability, dictionary index types; not the dictionary ids or
	// custom metadata, nor how the writer laid the bytes out.
	shape uint64
	cols  int // top-level columns
}

// parseSchema decodes a Schema message header.
func parseSchema(t table, version int16) (*schema, error) {
	if e, ok := t.int16(0, 0); !ok {
		return nil, errFormat("schema endianness")
	} else if e != 0 {
		return nil, fmt.Errorf("%w: big-endian data", ErrUnsupported)
	}
	s := &schema{dicts: map[int64]*field{}}
	start, n, ok := t.vector(1, 4)
	if !ok {
		return nil, errFormat("schema fields")
	}
	s.fields = make([]field, n)
	count := 0
	for i := range n {
		ft, ok := t.tableIn(start, i)
		if !ok {
			return nil, errFormat("schema field")
		}
		if err := s.parseField(&s.fields[i], ft, version, 0, &count, true); err != nil {
			return nil, err
		}
	}
	s.cols = n
	var h shapeHash
	for i := range s.fields {
		h.field(&s.fields[i])
	}
	s.shape = h.sum()
	return s, nil
}

// parseField decodes f from ft and, when inBatch, numbers it and its
// children: the values of a dictionary-encoded field are not in record
// batches.
func (s *schema) parseField(f *field, ft table, version int16, depth int, count *int, inBatch bool) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: fields nest deeper than %d", ErrUnsupported, maxDepth)
	}
	if *count++; *count > maxFields {
		return fmt.Errorf("%w: more than %d fields", ErrUnsupported, maxFields)
	}
	name, ok := ft.str(0)
	if !ok {
		return errFormat("field name")
	}
	f.name = string(name)
	nullable, ok := ft.int8(1, 0)
	if !ok {
		return errFormat("field nullable")
	}
	f.nullable = nullable != 0
	typ, ok := ft.int8(2, 0)
	if !ok {
		return errFormat("field type")
	}
	f.typ = uint8(typ)
	tt, _, ok := ft.table(3)
	if !ok {
		return errFormat("field type")
	}
	if err := f.parseType(tt); err != nil {
		return err
	}
	f.node, f.buf, f.views = s.nodes, s.bufs, s.views
	if inBatch {
		s.nodes++
	}
	if dt, present, ok := ft.table(4); !ok {
		return errFormat("field dictionary")
	} else if present {
		d := &dictEncoding{width: 4, signed: true}
		if d.id, ok = dt.int64(0, 0); !ok {
			return errFormat("dictionary id")
		}
		it, present, ok := dt.table(1)
		if !ok {
			return errFormat("dictionary index type")
		}
		if present {
			bits, ok1 := it.int32(0, 0)
			signed, ok2 := it.int8(1, 0)
			if !ok1 || !ok2 {
				return errFormat("dictionary index type")
			}
			switch bits {
			case 8, 16, 32, 64:
			default:
				return errFormat("dictionary index width")
			}
			d.width, d.signed = int(bits/8), signed != 0
		}
		f.dict = d
		if _, dup := s.dicts[d.id]; !dup {
			s.dicts[d.id] = f // fields that share a dictionary read it as the first one's type
		}
		if inBatch {
			s.bufs += 2 // validity and indices; the values are in dictionary batches
		}
	} else if inBatch {
		s.bufs += f.buffers(version)
		if f.typ == typeBinaryView || f.typ == typeUtf8View {
			s.views++
		}
	}
	start, n, ok := ft.vector(5, 4)
	if !ok {
		return errFormat("field children")
	}
	f.children = make([]field, n)
	for i := range n {
		ct, ok := ft.tableIn(start, i)
		if !ok {
			return errFormat("field child")
		}
		// The children of a dictionary-encoded field describe its values;
		// a record batch has no nodes for them.
		if err := s.parseField(&f.children[i], ct, version, depth+1, count, inBatch && f.dict == nil); err != nil {
			return err
		}
	}
	return nil
}

// parseType reads the parameters of f's type.
func (f *field) parseType(t table) error {
	ok := true
	switch f.typ {
	case typeNull, typeBinary, typeUtf8, typeBool, typeList, typeStruct, typeMap, typeLargeBinary,
		typeLargeUtf8, typeLargeList, typeRunEndEncoded, typeBinaryView, typeUtf8View, typeListView, typeLargeListView:
	case typeInt:
		bits, ok1 := t.int32(0, 0)
		signed, ok2 := t.int8(1, 0)
		switch bits {
		case 8, 16, 32, 64:
		default:
			return errFormat("int width")
		}
		f.width, f.signed, ok = int(bits/8), signed != 0, ok1 && ok2
	case typeFloat:
		var p int16
		p, ok = t.int16(0, 0)
		switch p {
		case 0:
			f.width = 2
		case 1:
			f.width = 4
		case 2:
			f.width = 8
		default:
			return errFormat("floating point precision")
		}
	case typeDecimal:
		_, ok1 := t.int32(0, 0)
		scale, ok2 := t.int32(1, 0)
		bits, ok3 := t.int32(2, 128)
		switch bits {
		case 32, 64, 128, 256:
		default:
			return errFormat("decimal width")
		}
		f.width, f.scale, ok = int(bits/8), scale, ok1 && ok2 && ok3
	case typeDate:
		f.unit, ok = t.int16(0, 1)
		f.width = 8
		if f.unit == 0 {
			f.width = 4
		}
	case typeTime:
		var bits int32
		var ok2 bool
		f.unit, ok = t.int16(0, 1)
		bits, ok2 = t.int32(1, 32)
		if bits != 32 && bits != 64 {
			return errFormat("time width")
		}
		f.width, ok = int(bits/8), ok && ok2
	case typeTimestamp:
		var tz []byte
		var ok2 bool
		f.unit, ok = t.int16(0, 0)
		tz, ok2 = t.str(1)
		f.tz, f.width, ok = string(tz), 8, ok && ok2
	case typeDuration:
		f.unit, ok = t.int16(0, 1)
		f.width = 8
	case typeInterval:
		f.unit, ok = t.int16(0, 0)
	case typeFixedSizeBinary:
		var w int32
		w, ok = t.int32(0, 0)
		if w < 0 {
			return errFormat("fixed-size binary width")
		}
		f.width = int(w)
	case typeFixedSizeList:
		var n int32
		n, ok = t.int32(0, 0)
		f.width = int(n)
	case typeUnion:
		f.mode, ok = t.int16(0, 0)
	default:
		return fmt.Errorf("%w: field %q has unknown type %d", ErrUnsupported, f.name, f.typ)
	}
	if !ok {
		return errFormat(typeName(f.typ) + " type")
	}
	return nil
}

// buffers is how many buffers a record batch has for f itself (not its
// children), not counting a view field's variadic buffers.
func (f *field) buffers(version int16) int {
	switch f.typ {
	case typeNull, typeRunEndEncoded:
		return 0
	case typeStruct, typeFixedSizeList:
		return 1
	case typeBinary, typeUtf8, typeLargeBinary, typeLargeUtf8, typeListView, typeLargeListView:
		return 3
	case typeUnion:
		n := 1 // type ids
		if f.mode == 1 {
			n++ // offsets
		}
		if version < metadataV5 {
			n++ // unions had a validity bitmap before V5
		}
		return n
	}
	return 2 // validity and values (or offsets, or views)
}

// shapeHash hashes a schema's logical content, FNV-1a style.
type shapeHash uint64

func (h *shapeHash) bytes(b []byte) {
	x := uint64(*h)
	if x == 0 {
		x = 14695981039346656037
	}
	for _, c := range b {
		x ^= uint64(c)
		x *= 1099511628211
	}
	*h = shapeHash(x)
}

func (h *shapeHash) int(v int64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(v))
	h.bytes(b[:])
}

func (h *shapeHash) field(f *field) {
	h.int(int64(len(f.name)))
	h.bytes([]byte(f.name))
	nullable := int64(0)
	if f.nullable {
		nullable = 1
	}
	h.int(int64(f.typ)<<32 | nullable)
	signed := int64(0)
	if f.signed {
		signed = 1
	}
	h.int(int64(f.width)<<32 | signed<<16 | int64(uint16(f.unit)))
	h.int(int64(f.scale)<<32 | int64(uint16(f.mode)))
	h.int(int64(len(f.tz)))
	h.bytes([]byte(f.tz))
	if f.dict != nil {
		s := int64(0)
		if f.dict.signed {
			s = 1
		}
		h.int(1<<32 | int64(f.dict.width)<<1 | s)
	} else {
		h.int(0)
	}
	h.int(int64(len(f.children)))
	for i := range f.children {
		h.field(&f.children[i])
	}
}

func (h *shapeHash) sum() uint64 { return uint64(*h) }
