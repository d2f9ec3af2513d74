package detectors

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The SNAP ego-Facebook graph (testdata/graph) as a vendor feed: every
// undirected edge {a, b} is two records, (email of a, profile of b) and
// (email of b, profile of a), so a key's degree is its degree in the
// graph: 176,468 records over 4,039 keys, degrees 1 to 1,045.
type graph struct {
	pairs    [][2]int32
	emails   [][]byte // the key of node i
	profiles [][]byte // the neighbor value of node i
	degree   []int
}

var (
	graphOnce sync.Once
	graphData *graph
	graphErr  error
)

func loadGraph(t testing.TB) *graph {
	t.Helper()
	graphOnce.Do(func() { graphData, graphErr = readGraph("../testdata/graph/facebook_combined.txt") })
	if graphErr != nil {
		t.Fatal(graphErr)
	}
	return graphData
}

func readGraph(path string) (*graph, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header: nodes, edges
	nodes, err := strconv.Atoi(strings.Fields(sc.Text())[0])
	if err != nil {
		return nil, err
	}
	g := &graph{degree: make([]int, nodes)}
	for sc.Scan() {
		ab := strings.Fields(sc.Text())
		a, err1 := strconv.Atoi(ab[0])
		b, err2 := strconv.Atoi(ab[1])
		if err := errors.Join(err1, err2); err != nil || len(ab) != 2 {
			return nil, fmt.Errorf("%s: bad edge %q: %v", path, sc.Text(), err)
		}
		g.pairs = append(g.pairs, [2]int32{int32(a), int32(b)}, [2]int32{int32(b), int32(a)})
		g.degree[a]++
		g.degree[b]++
	}
	for i := range nodes {
		g.emails = append(g.emails, []byte("user"+strconv.Itoa(i)+"@fb.example"))
		g.profiles = append(g.profiles, []byte("p_"+strconv.Itoa(1000000+i)))
	}
	return g, sc.Err()
}

// graphFeed cuts the graph's records into batches: each epoch is a fresh
// deterministic shuffle of all of them, cut into batches of size records
// (the remainder of an epoch is left out), so that a batch never holds
// the same record twice, as a graph has no repeated edge.
type graphFeed struct {
	g      *graph
	size   int
	rng    *rand.Rand
	order  []int32 // indices into g.pairs
	next   int
	epochs int
}

func newGraphFeed(g *graph, size int, seed uint64) *graphFeed {
	f := &graphFeed{g: g, size: size, rng: rand.New(rand.NewPCG(seed, 0xfb)), order: make([]int32, len(g.pairs))}
	for i := range f.order {
		f.order[i] = int32(i)
	}
	f.next = len(f.order) // shuffle on first use
	return f
}

// batch returns the next batch as indices into g.pairs.
func (f *graphFeed) batch() [][2]int32 {
	if f.next+f.size > len(f.order) {
		f.rng.Shuffle(len(f.order), func(i, j int) { f.order[i], f.order[j] = f.order[j], f.order[i] })
		f.next = 0
		f.epochs++
	}
	out := make([][2]int32, f.size)
	for i, k := range f.order[f.next : f.next+f.size] {
		out[i] = f.g.pairs[k]
	}
	f.next += f.size
	return out
}

// repeatIncident replaces share of the batch's records with repeats of the
// others' connections, each repeated connection occurring fold times in
// all, as bench.Repeat does on the simulator.
func repeatIncident(b [][2]int32, share float64, fold int, rng *rand.Rand) {
	n := len(b)
	k := int(share * float64(n))
	perm := rng.Perm(n)
	replaced, kept := perm[:k], perm[k:]
	sources := min(len(kept), (k+fold-2)/(fold-1))
	for j, pos := range replaced {
		b[pos] = b[kept[j%sources]]
	}
}

// observeGraph shows a batch of graph records to the pipe; the neighbor
// field is field 0.
func (p *pipe) observeGraph(g *graph, b [][2]int32) {
	for _, e := range b {
		p.observeField(g.emails[e[0]], 0, g.profiles[e[1]])
	}
}
