package reference

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/detectors"
)

// File is a reference file held in memory and reloaded when it changes.
type File struct {
	path  string
	cfg   config.Reference
	match detectors.Matcher
	log   *slog.Logger
	every time.Duration

	data  atomic.Pointer[table]
	stale atomic.Pointer[staleError]

	mu       sync.Mutex // one reload at a time
	looked   time.Time  // when the file was last looked at
	loaded   version    // the version data holds
	failed   version    // the last version that did not load (logged once)
	loadedAt time.Time
}

// version tells edits of a file apart.
type version struct {
	mtime time.Time
	size  int64
}

type staleError struct{ err error }

// OpenFile loads the reference file at path: JSON lines or CSV by its
// extension. A file that is missing or does not load is an error naming
// the path and the line.
func OpenFile(path string, cfg config.Reference, opts ...Option) (*File, error) {
	return openFile(path, cfg, newOptions(opts))
}

func openFile(path string, cfg config.Reference, o options) (*File, error) {
	m, err := detectors.NewMatcher(cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot open reference %s: %w", path, err)
	}
	f := &File{path: path, cfg: cfg, match: m, log: o.logger, every: o.reloadEvery}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err // names the path; the detector says it is its reference
	}
	t, err := load(path, cfg)
	if err != nil {
		return nil, err
	}
	f.data.Store(&t)
	f.loaded, f.looked, f.loadedAt = version{st.ModTime(), st.Size()}, time.Now(), time.Now()
	return f, nil
}

// Check judges samples against the file's data, first reloading it if it
// changed. A file that no longer loads is still answered from: see Stale.
func (f *File) Check(_ context.Context, samples []detectors.Sample) error {
	f.reload()
	f.data.Load().check(samples, f.match)
	return nil
}

// Stale says why the data is older than the file, or nil.
func (f *File) Stale() error {
	if s := f.stale.Load(); s != nil {
		return s.err
	}
	return nil
}

// Len is the number of keys loaded.
func (f *File) Len() int { return len(*f.data.Load()) }

// Close does nothing: the data is in memory.
func (f *File) Close() error { return nil }

// reload loads the file again when its modification time or size changed,
// looking at most once every f.every. Checks running meanwhile use the
// data as it was; one that finds a reload under way does not wait for it.
func (f *File) reload() {
	if !f.mu.TryLock() {
		return
	}
	defer f.mu.Unlock()
	now := time.Now()
	if now.Sub(f.looked) < f.every {
		return
	}
	f.looked = now
	st, err := os.Stat(f.path)
	if err != nil {
		f.fail(unreadable, fmt.Errorf("cannot reload reference: %w", err))
		return
	}
	v := version{st.ModTime(), st.Size()}
	switch v {
	case f.loaded:
		f.failed = version{}
		f.stale.Store(nil)
		return
	case f.failed:
		return
	}
	t, err := load(f.path, f.cfg)
	if err != nil {
		f.fail(v, err)
		return
	}
	f.data.Store(&t)
	f.loaded, f.failed, f.loadedAt = v, version{}, now
	f.stale.Store(nil)
	f.log.Info("reference reloaded", "path", f.path, "keys", len(t))
}

// unreadable is the version of a file that cannot be looked at.
var unreadable = version{size: -1}

// fail keeps the last good data and says why, logging once per version of
// the file that does not load (once while it cannot be looked at).
func (f *File) fail(v version, err error) {
	err = fmt.Errorf("%w; keeping the data loaded at %s", err, f.loadedAt.UTC().Format(time.RFC3339))
	f.stale.Store(&staleError{err})
	if v == f.failed {
		return
	}
	f.failed = v
	f.log.Warn("reference reload failed; keeping last good data", "path", f.path, "err", err)
}

// load reads a reference file whole.
func load(path string, cfg config.Reference) (table, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	r := bufio.NewReaderSize(fh, 64<<10)
	var t table
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".jsonl", ".ndjson", ".json":
		t, err = loadJSON(r, cfg)
	case ".csv":
		t, err = loadCSV(r, cfg)
	default:
		return nil, fmt.Errorf("cannot load reference %s: unknown extension %q (want .jsonl, .ndjson, .json or .csv)", path, ext)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot load reference %s: %w", path, err)
	}
	return t, nil
}

// maxLine bounds a JSON line, so that a file without newlines cannot take
// all memory.
const maxLine = 16 << 20

// loadJSON reads one JSON object a line; blank lines are skipped, a later
// line wins over an earlier one with the same key.
func loadJSON(r *bufio.Reader, cfg config.Reference) (table, error) {
	row, err := newJSONRow(cfg, false)
	if err != nil {
		return nil, err
	}
	t := table{}
	var line []byte
	for n := 1; ; n++ {
		line, err = readLine(r, line[:0])
		if len(line) > 0 {
			if len(bytes.TrimSpace(line)) > 0 {
				key, vals, ok, perr := row.read(line)
				if perr != nil {
					// The error says the offset and what was expected,
					// never the bytes found: a reference is data.
					return nil, fmt.Errorf("line %d: %w", n, perr)
				}
				if !ok {
					return nil, fmt.Errorf("line %d: no key %s", n, cfg.Key)
				}
				t[key] = vals
			}
		}
		if err == io.EOF {
			return t, nil
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
}

// readLine appends the next line, without its end, to dst.
func readLine(r *bufio.Reader, dst []byte) ([]byte, error) {
	for {
		chunk, err := r.ReadSlice('\n')
		dst = append(dst, chunk...)
		if len(dst) > maxLine {
			return dst, fmt.Errorf("line longer than %d bytes", maxLine)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		dst = bytes.TrimSuffix(bytes.TrimSuffix(dst, []byte("\n")), []byte("\r"))
		return dst, err
	}
}

// loadCSV reads a CSV file whose header row names the columns.
func loadCSV(r io.Reader, cfg config.Reference) (table, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("cannot read the header row: %w", csvError(err))
	}
	header = slices.Clone(header)
	header[0] = strings.TrimPrefix(header[0], "\ufeff")
	col := func(name string) (int, error) {
		i := slices.Index(header, name)
		if i < 0 {
			return 0, fmt.Errorf("line 1: no column %q in the header", name)
		}
		return i, nil
	}
	key, err := col(cfg.Key)
	if err != nil {
		return nil, err
	}
	cols := make([]int, len(cfg.Compare))
	for i, name := range cfg.Compare {
		if cols[i], err = col(name); err != nil {
			return nil, err
		}
	}
	t := table{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return t, nil
		}
		if err != nil {
			return nil, csvError(err)
		}
		size := 0
		for _, c := range cols {
			size += len(rec[c])
		}
		buf := make([]byte, 0, size)
		row := make([][]byte, len(cols))
		for i, c := range cols {
			start := len(buf)
			buf = append(buf, rec[c]...)
			row[i] = buf[start:len(buf):len(buf)]
		}
		t[rec[key]] = row
	}
}

// csvError keeps the position of a CSV error and drops nothing else: its
// text holds no field content.
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("line %d, column %d: %w", pe.Line, pe.Column, pe.Err)
	}
	return err
}
