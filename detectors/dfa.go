package detectors

import (
	"regexp"
	"regexp/syntax"
	"slices"
)

// byteDFA answers regexp.Match (match or not, nothing more) with a lazily
// built DFA over the bytes of ASCII text: a record's string costs a table
// lookup a byte instead of a pass of the regexp package's NFA or
// backtracker, several hundred ns. Each state is a set of threads of the
// pattern's compiled program, built the first time a byte leads to it and
// kept. It falls back to the regexp package for text that is not ASCII
// (the states step bytes, not runes), and when the states outgrow their
// budget: the cache is then cleared, or abandoned for good when it filled
// in fewer Match calls than it holds states.
//
// A byteDFA belongs to one goroutine: Match builds states.
type byteDFA struct {
	re   *regexp.Regexp
	prog *syntax.Prog
	// anchored: every match starts at the beginning of the text, so no
	// thread starts anywhere else and a state without threads is dead.
	anchored bool
	// ctxOf maps the byte before a position (index 256: none, the start)
	// to the context the pattern's empty-width assertions can tell apart.
	ctxOf    [257]uint8
	class    [256]uint8  // bytes the program cannot tell apart share a class
	classRep []byte      // a byte of each ASCII class
	classSet [][4]uint64 // the bytes of each ASCII class, as a bitmap
	nonASCII int         // the class, and column, of bytes from 0x80
	stride   int         // columns a state, a power of two: the classes, nonASCII, end of text
	shift    uint        // log2(stride): a row's state number is row >> shift
	start    int32       // the start state's row; 0 until Match builds the cache

	// trans holds a row of stride columns a state: the row of the next
	// state (its first column: rows start at stride, so 0 means not built
	// yet), or a dfaMatch, dfaNoMatch or dfaGiveUp verdict. State n's row
	// is n·stride; state 0 is unused.
	trans []int32
	// State n's key is arena[keyAt[n-1]:keyAt[n]]: its context, then the
	// sorted pcs of the instructions its threads are at, before their
	// empty-width steps (which depend on the next byte).
	keyAt []uint32
	arena []uint32
	index []int32 // open addressing over state numbers, by key hash
	// loops[n] holds the bytes known to keep state n where it is: Match
	// skips a run of them without the table's load-to-load latency, which
	// is most of a byte's cost in patterns like [^@]+.
	loops [][4]uint64

	maxStates int
	maxArena  int
	matches   int // Match calls since the cache was last cleared
	off       bool

	// Scratch for building a state.
	seen  []uint32 // seen[pc] == mark: pc is in the closure
	mark  uint32
	stack []uint32
	next  []uint32
}

// Verdicts in trans.
const (
	dfaMatch   int32 = -1
	dfaNoMatch int32 = -2
	dfaGiveUp  int32 = -3 // ask the regexp package
)

// Contexts: what the byte before a position says to ^, $, \A, \z, \b, \B.
const (
	ctxStart = iota // no byte: the start of the text
	ctxNL           // '\n'
	ctxWord         // [0-9A-Za-z_]
	ctxOther
	numCtx
)

// ctxRune is a rune of each context, for syntax.EmptyOpContext.
var ctxRune = [numCtx]rune{-1, '\n', 'a', ' '}

const (
	// dfaBudget bounds a pattern's cache: its transition table and its
	// states' keys, each in 4-byte entries. 256 KiB is thousands of
	// states; common patterns need tens.
	dfaBudget = 256 << 10
	// dfaMaxInsts: a larger program (a{1000}) is left to the regexp
	// package; its states would be few and large.
	dfaMaxInsts = 4096
)

// newByteDFA prepares a DFA for re, which regexp.Compile made (the DFA
// parses re.String() with the same flags); one for a pattern not worth it
// is off from the start. It builds no state until Match needs it.
func newByteDFA(re *regexp.Regexp) *byteDFA {
	parsed, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return &byteDFA{re: re, off: true} // re compiled it: cannot happen
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil || len(prog.Inst) > dfaMaxInsts {
		return &byteDFA{re: re, off: true}
	}
	d := &byteDFA{re: re, prog: prog, anchored: prog.StartCond()&syntax.EmptyBeginText != 0}

	// Which contexts the assertions can tell apart.
	var ops syntax.EmptyOp
	for _, in := range prog.Inst {
		if in.Op == syntax.InstEmptyWidth {
			ops |= syntax.EmptyOp(in.Arg)
		}
	}
	needStart := ops&(syntax.EmptyBeginText|syntax.EmptyBeginLine) != 0
	needNL := ops&syntax.EmptyBeginLine != 0
	needWord := ops&(syntax.EmptyWordBoundary|syntax.EmptyNoWordBoundary) != 0
	for b := range 257 {
		r := rune(b)
		if b == 256 {
			r = -1
		}
		switch {
		case r == -1 && needStart:
			d.ctxOf[b] = ctxStart
		case r == '\n' && needNL:
			d.ctxOf[b] = ctxNL
		case r >= 0 && needWord && syntax.IsWordChar(r):
			d.ctxOf[b] = ctxWord
		default:
			d.ctxOf[b] = ctxOther
		}
	}

	// Classes: ASCII bytes that every instruction treats alike and that
	// make the same context, before and after them.
	sig := make([]byte, 0, len(prog.Inst)+2)
	classes := map[string]uint8{}
	for c := range 128 {
		sig = sig[:0]
		for i := range prog.Inst {
			if in := &prog.Inst[i]; isRuneOp(in.Op) {
				sig = append(sig, b2u8(stepRune(in, byte(c))))
			}
		}
		sig = append(sig, d.ctxOf[c], b2u8(c == '\n'))
		k, ok := classes[string(sig)]
		if !ok {
			k = uint8(len(classes))
			classes[string(sig)] = k
			d.classRep = append(d.classRep, byte(c))
			d.classSet = append(d.classSet, [4]uint64{})
		}
		d.class[c] = k
		d.classSet[k][c>>6] |= 1 << (c & 63)
	}
	d.nonASCII = len(d.classRep)
	for c := 128; c < 256; c++ {
		d.class[c] = uint8(d.nonASCII)
	}
	for d.stride = 1; d.stride < d.nonASCII+2; d.stride *= 2 {
		d.shift++
	}
	d.maxStates = dfaBudget / 4 / d.stride
	d.maxArena = dfaBudget / 4
	d.seen = make([]uint32, len(prog.Inst))
	// Room for the states of a common pattern, so that the first records
	// do not grow the tables.
	const states = 16
	d.trans = make([]int32, 0, states*d.stride)
	d.keyAt = make([]uint32, 0, states)
	d.loops = make([][4]uint64, 0, states)
	d.arena = make([]uint32, 0, 8*states)
	d.index = make([]int32, 2*states)
	return d
}

func isRuneOp(op syntax.InstOp) bool {
	switch op {
	case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
		return true
	}
	return false
}

// stepRune reports whether rune instruction in consumes c.
func stepRune(in *syntax.Inst, c byte) bool {
	switch in.Op {
	case syntax.InstRune1:
		return rune(c) == in.Rune[0]
	case syntax.InstRuneAny:
		return true
	case syntax.InstRuneAnyNotNL:
		return c != '\n'
	}
	return in.MatchRune(rune(c))
}

func b2u8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// Match reports whether text contains a match of the pattern, as
// regexp.Match does.
func (d *byteDFA) Match(text []byte) bool {
	if d.off {
		return d.re.Match(text)
	}
	d.matches++
	if d.start == 0 {
		d.clear()
	}
	st, trans, class := d.start, d.trans, &d.class
	for i := 0; i < len(text); i++ {
		c := text[i]
		t := trans[int(st)+int(class[c])]
		if t <= 0 {
			if t == 0 {
				t = d.build(st, int(class[c]))
				trans = d.trans // build may have grown it
			}
			switch t {
			case dfaMatch:
				return true
			case dfaNoMatch:
				return false
			case dfaGiveUp:
				return d.re.Match(text)
			}
		}
		if t == st {
			loop := d.loops[st>>d.shift]
			for i+1 < len(text) && loop[text[i+1]>>6]&(1<<(text[i+1]&63)) != 0 {
				i++
			}
		}
		st = t
	}
	end := d.stride - 1
	t := d.trans[int(st)+end]
	if t == 0 {
		t = d.build(st, end)
	}
	if t == dfaGiveUp {
		return d.re.Match(text)
	}
	return t == dfaMatch
}

// clear forgets every state, keeping the memory, and adds the start
// state.
func (d *byteDFA) clear() {
	d.trans = append(d.trans[:0], make([]int32, d.stride)...) // state 0: unused
	d.keyAt = append(d.keyAt[:0], 0)
	d.loops = append(d.loops[:0], [4]uint64{})
	d.arena = d.arena[:0]
	clear(d.index)
	d.matches = 0
	d.next = append(d.next[:0], uint32(d.ctxOf[256]), uint32(d.prog.Start))
	d.start = d.state(d.next)
}

// build fills in the transition of the state at row st on column col and
// returns it.
func (d *byteDFA) build(st int32, col int) int32 {
	n := st >> d.shift
	key := d.arena[d.keyAt[n-1]:d.keyAt[n]]
	ctx, pcs := key[0], key[1:]
	c, last := rune(-1), col == d.stride-1
	if !last {
		c = rune(d.classRep[col])
	}
	flags := syntax.EmptyOpContext(ctxRune[ctx], c)

	// The closure of the threads at this position; a Match in it is a
	// match ending here, whatever follows.
	d.mark++
	if d.mark == 0 { // wrapped: clear the old marks
		clear(d.seen)
		d.mark = 1
	}
	d.stack = append(d.stack[:0], pcs...)
	d.next = append(d.next[:0], 0) // the context, once c is known
	matched := false
	for len(d.stack) > 0 && !matched {
		pc := d.stack[len(d.stack)-1]
		d.stack = d.stack[:len(d.stack)-1]
		if d.seen[pc] == d.mark {
			continue
		}
		d.seen[pc] = d.mark
		in := &d.prog.Inst[pc]
		switch in.Op {
		case syntax.InstMatch:
			matched = true
		case syntax.InstAlt, syntax.InstAltMatch:
			d.stack = append(d.stack, in.Arg, in.Out)
		case syntax.InstCapture, syntax.InstNop:
			d.stack = append(d.stack, in.Out)
		case syntax.InstEmptyWidth:
			if syntax.EmptyOp(in.Arg)&^flags == 0 {
				d.stack = append(d.stack, in.Out)
			}
		case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			if !last && stepRune(in, byte(c)) {
				d.next = append(d.next, in.Out)
			}
		}
	}
	var t int32
	switch {
	case matched:
		t = dfaMatch
	case last:
		t = dfaNoMatch
	default:
		if !d.anchored {
			d.next = append(d.next, uint32(d.prog.Start))
		}
		if len(d.next) == 1 {
			t = dfaNoMatch
			break
		}
		d.next[0] = uint32(d.ctxOf[byte(c)])
		slices.Sort(d.next[1:])
		d.next = d.next[:1+len(slices.Compact(d.next[1:]))]
		t = d.state(d.next)
		if t == dfaGiveUp {
			return t // the cache was cleared: st is gone
		}
		if t == st {
			loop := &d.loops[n]
			for w := range loop {
				loop[w] |= d.classSet[col][w]
			}
		}
	}
	d.trans[int(st)+col] = t
	return t
}

// state returns the row of the state with key (context, then sorted
// pcs), adding it if new, or dfaGiveUp when the cache is full. A full
// cache is cleared; when it filled in fewer Match calls than it holds
// states, the DFA does not pay, and is switched off.
func (d *byteDFA) state(key []uint32) int32 {
	h := dfaHash(key)
	if len(d.index) > 0 {
		mask := len(d.index) - 1
		for j := int(h) & mask; d.index[j] != 0; j = (j + 1) & mask {
			n := d.index[j]
			if slices.Equal(d.arena[d.keyAt[n-1]:d.keyAt[n]], key) {
				return n << d.shift
			}
		}
	}
	n := len(d.keyAt) // the new state's number
	if n > d.maxStates || len(d.arena)+len(key) > d.maxArena {
		if d.start != 0 && d.matches < d.maxStates {
			d.off = true
			d.trans, d.keyAt, d.arena, d.index, d.loops = nil, nil, nil, nil, nil
		}
		d.start = 0 // Match clears the cache first thing
		return dfaGiveUp
	}
	if 2*n > len(d.index) {
		d.growIndex()
	}
	d.arena = append(d.arena, key...)
	d.keyAt = append(d.keyAt, uint32(len(d.arena)))
	d.loops = append(d.loops, [4]uint64{})
	row := len(d.trans)
	d.trans = append(d.trans, make([]int32, d.stride)...)
	d.trans[row+d.nonASCII] = dfaGiveUp
	d.insert(h, int32(n))
	return int32(row)
}

func dfaHash(key []uint32) uint64 {
	h := uint64(len(key))
	for _, x := range key {
		h = combine(h, uint64(x))
	}
	return mix64(h, 0)
}

// insert adds state n to the index under hash h.
func (d *byteDFA) insert(h uint64, n int32) {
	mask := len(d.index) - 1
	j := int(h) & mask
	for d.index[j] != 0 {
		j = (j + 1) & mask
	}
	d.index[j] = n
}

func (d *byteDFA) growIndex() {
	d.index = make([]int32, max(64, 2*len(d.index)))
	for n := 1; n < len(d.keyAt); n++ {
		d.insert(dfaHash(d.arena[d.keyAt[n-1]:d.keyAt[n]]), int32(n))
	}
}
