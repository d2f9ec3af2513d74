package gate

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// stateVersion is the first byte of a partition's state record.
const stateVersion = 1

// partitionState is what the state topic holds for one feed partition: the
// halt, and each detector's learned state by name.
type partitionState struct {
	Halted      bool
	HaltedAt    int64 // unix milliseconds of the halting decision
	HaltedBatch string
	Detectors   []detectorState
}

type detectorState struct {
	Name, Type string
	State      []byte
}

var errState = errors.New("corrupt state record")

// appendState encodes s: version, flags, halted-at, halted batch, then
// (name, type, state) per detector, each length-prefixed.
func appendState(dst []byte, s *partitionState) []byte {
	dst = append(dst, stateVersion)
	var flags byte
	if s.Halted {
		flags |= 1
	}
	dst = append(dst, flags)
	dst = binary.AppendVarint(dst, s.HaltedAt)
	dst = appendBytes(dst, []byte(s.HaltedBatch))
	dst = binary.AppendUvarint(dst, uint64(len(s.Detectors)))
	for _, d := range s.Detectors {
		dst = appendBytes(dst, []byte(d.Name))
		dst = appendBytes(dst, []byte(d.Type))
		dst = appendBytes(dst, d.State)
	}
	return dst
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// parseState decodes a state record. It never panics; any inconsistency is
// errState.
func parseState(b []byte) (*partitionState, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: %d bytes", errState, len(b))
	}
	if b[0] != stateVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", errState, b[0], stateVersion)
	}
	s := &partitionState{Halted: b[1]&1 != 0}
	b = b[2:]
	v, n := binary.Varint(b)
	if n <= 0 {
		return nil, fmt.Errorf("%w: halted-at", errState)
	}
	s.HaltedAt, b = v, b[n:]
	hb, b, ok := readBytes(b)
	if !ok {
		return nil, fmt.Errorf("%w: halted batch", errState)
	}
	s.HaltedBatch = string(hb)
	cnt, n := binary.Uvarint(b)
	if n <= 0 || cnt > uint64(len(b)) {
		return nil, fmt.Errorf("%w: detector count", errState)
	}
	b = b[n:]
	for i := uint64(0); i < cnt; i++ {
		var name, typ, st []byte
		if name, b, ok = readBytes(b); !ok {
			return nil, fmt.Errorf("%w: detector %d name", errState, i)
		}
		if typ, b, ok = readBytes(b); !ok {
			return nil, fmt.Errorf("%w: detector %d type", errState, i)
		}
		if st, b, ok = readBytes(b); !ok {
			return nil, fmt.Errorf("%w: detector %d state", errState, i)
		}
		s.Detectors = append(s.Detectors, detectorState{string(name), string(typ), append([]byte(nil), st...)})
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errState, len(b))
	}
	return s, nil
}

func readBytes(b []byte) (val, rest []byte, ok bool) {
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return nil, b, false
	}
	return b[n : n+int(l)], b[n+int(l):], true
}
