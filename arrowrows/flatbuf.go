package arrowrows

import "encoding/binary"

// A reader of the FlatBuffers tables that Arrow's IPC metadata is made of
// (Message, Schema, Field, RecordBatch, ...), for the few fields Sluice
// needs. Unlike generated FlatBuffers code it checks every offset against
// the buffer, so that hostile bytes give an error, never a panic, and it
// allocates nothing: a table is a position in the caller's bytes.
//
// The slots are the fields' positions in Arrow's format/Message.fbs and
// format/Schema.fbs.

type table struct {
	b   []byte
	pos int // the table's start
	vt  int // its vtable's start
	vtn int // its vtable's length in bytes
}

// rootTable is the root table of a FlatBuffer.
func rootTable(b []byte) (table, bool) {
	if len(b) < 4 {
		return table{}, false
	}
	return tableAt(b, int(binary.LittleEndian.Uint32(b)))
}

// tableAt is the table that starts at pos.
func tableAt(b []byte, pos int) (table, bool) {
	if pos < 0 || pos > len(b)-4 {
		return table{}, false
	}
	vt := pos - int(int32(binary.LittleEndian.Uint32(b[pos:])))
	if vt < 0 || vt > len(b)-4 {
		return table{}, false
	}
	vtn := int(binary.LittleEndian.Uint16(b[vt:]))
	if vtn < 4 || vtn > len(b)-vt {
		return table{}, false
	}
	return table{b: b, pos: pos, vt: vt, vtn: vtn}, true
}

// field is where slot's value is, or 0 when the table does not have it
// (a FlatBuffer then means the default), or -1 when the value would not
// fit in the buffer.
func (t *table) field(slot, size int) int {
	o := 4 + 2*slot
	if o+2 > t.vtn {
		return 0
	}
	off := int(binary.LittleEndian.Uint16(t.b[t.vt+o:]))
	if off == 0 {
		return 0
	}
	at := t.pos + off
	if at > len(t.b)-size {
		return -1
	}
	return at
}

func (t *table) int8(slot int, def int8) (int8, bool) {
	at := t.field(slot, 1)
	if at <= 0 {
		return def, at == 0
	}
	return int8(t.b[at]), true
}

func (t *table) int16(slot int, def int16) (int16, bool) {
	at := t.field(slot, 2)
	if at <= 0 {
		return def, at == 0
	}
	return int16(binary.LittleEndian.Uint16(t.b[at:])), true
}

func (t *table) int32(slot int, def int32) (int32, bool) {
	at := t.field(slot, 4)
	if at <= 0 {
		return def, at == 0
	}
	return int32(binary.LittleEndian.Uint32(t.b[at:])), true
}

func (t *table) int64(slot int, def int64) (int64, bool) {
	at := t.field(slot, 8)
	if at <= 0 {
		return def, at == 0
	}
	return int64(binary.LittleEndian.Uint64(t.b[at:])), true
}

// ref follows the offset stored in slot (to a table, a vector or a
// string). present is false when the table does not have the slot.
func (t *table) ref(slot int) (at int, present, ok bool) {
	f := t.field(slot, 4)
	if f <= 0 {
		return 0, false, f == 0
	}
	at = f + int(binary.LittleEndian.Uint32(t.b[f:]))
	return at, true, at <= len(t.b)-4
}

// table is the table in slot.
func (t *table) table(slot int) (sub table, present, ok bool) {
	at, present, ok := t.ref(slot)
	if !present || !ok {
		return table{}, present, ok
	}
	sub, ok = tableAt(t.b, at)
	return sub, true, ok
}

// vector is the vector in slot: where its first element starts and how
// many elements of elemSize bytes it holds, all within the buffer. An
// absent vector is empty.
func (t *table) vector(slot, elemSize int) (start, n int, ok bool) {
	at, present, ok := t.ref(slot)
	if !present || !ok {
		return 0, 0, ok
	}
	n = int(binary.LittleEndian.Uint32(t.b[at:]))
	start = at + 4
	if n > (len(t.b)-start)/elemSize {
		return 0, 0, false
	}
	return start, n, true
}

// tableIn is element i of a vector of tables that starts at start.
func (t *table) tableIn(start, i int) (table, bool) {
	at := start + 4*i
	return tableAt(t.b, at+int(binary.LittleEndian.Uint32(t.b[at:])))
}

// str is the string in slot; absent is empty.
func (t *table) str(slot int) ([]byte, bool) {
	start, n, ok := t.vector(slot, 1)
	if !ok {
		return nil, false
	}
	return t.b[start : start+n], true
}
