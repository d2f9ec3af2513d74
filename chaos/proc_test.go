package chaos

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the sluice binary TestMain builds once from ./cmd/sluice.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // the tests skip; no binary needed
	}
	dir, err := os.MkdirTemp("", "sluice-chaos-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binary = filepath.Join(dir, "sluice")
	build := exec.Command("go", "build", "-trimpath", "-o", binary, "../cmd/sluice")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "cannot build sluice: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is one run of the binary: its output lines are kept, in memory and
// in a log file, so a test can wait for a line and show the tail when it
// fails.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{} // closed when the process has exited
	err  error         // its Wait error, once done

	mu    sync.Mutex
	cond  *sync.Cond
	lines []string
	eof   bool
}

// startProc runs the binary with args. Its stdout and stderr go to
// dir/name.log (appended, so restarts of one replica share a file).
func startProc(t *testing.T, dir, name string, args ...string) *proc {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "=== %s %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(args, " "))
	p := &proc{name: name, log: f, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	p.cmd = exec.Command(binary, args...)
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("cannot start %s: %v", name, err)
	}
	go p.read(pr)
	go func() {
		p.err = p.cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill(); f.Close() })
	return p
}

func (p *proc) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		fmt.Fprintln(p.log, l)
		p.mu.Lock()
		p.lines = append(p.lines, l)
		p.cond.Broadcast()
		p.mu.Unlock()
	}
	io.Copy(io.Discard, r)
	p.mu.Lock()
	p.eof = true
	p.cond.Broadcast()
	p.mu.Unlock()
}

// waitLine waits for an output line, from the first on, that contains s.
func (p *proc) waitLine(t *testing.T, s string, within time.Duration) string {
	t.Helper()
	return p.waitFunc(t, strconv.Quote(s), func(l string) bool { return strings.Contains(l, s) }, within)
}

// waitFunc waits for an output line, from the first on, that ok accepts.
func (p *proc) waitFunc(t *testing.T, what string, ok func(string) bool, within time.Duration) string {
	t.Helper()
	stop := time.AfterFunc(within, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer stop.Stop()
	deadline := time.Now().Add(within)
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; ; {
		for ; i < len(p.lines); i++ {
			if ok(p.lines[i]) {
				return p.lines[i]
			}
		}
		if p.eof {
			t.Fatalf("%s ended (%v) before a line with %s:\n%s", p.name, p.err, what, p.tailLocked(20))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no line with %s within %v:\n%s", p.name, what, within, p.tailLocked(20))
		}
		p.cond.Wait()
	}
}

// count is how many output lines contain s.
func (p *proc) count(s string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

func (p *proc) tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tailLocked(n)
}

func (p *proc) tailLocked(n int) string {
	from := max(0, len(p.lines)-n)
	return strings.Join(p.lines[from:], "\n")
}

// peakRSS is the process's peak resident set (VmHWM) in bytes; 0 once it
// has exited.
func (p *proc) peakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for l := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(l, []byte("VmHWM:")); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(string(v)), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpu is the CPU time (user and system) the process has used so far; 0
// once it has exited. It assumes the usual 100 clock ticks a second.
func (p *proc) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// kill SIGKILLs the process, as an OOM kill or a node failure would, and
// waits for it to be gone.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and waits up to within for the exit, which must be 0.
func (p *proc) stop(within time.Duration) (time.Duration, error) {
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, err
	}
	select {
	case <-p.done:
		if p.err != nil {
			return time.Since(start), fmt.Errorf("%s exited after SIGTERM: %w", p.name, p.err)
		}
		return time.Since(start), nil
	case <-time.After(within):
		p.kill()
		return time.Since(start), errors.New(p.name + " did not exit within " + within.String() + " of SIGTERM")
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}
