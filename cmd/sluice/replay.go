package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/arrowrows/arrowfile"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/detectors"
	"github.com/sluicehq/sluice/gate"
)

const replayAbout = `Dry-runs a recorded feed through the same batcher and detectors as 'sluice run',
without touching the output: per-batch verdicts and totals. The input is JSON lines
(one record value a line, or the objects 'sluice quarantine export' writes, with
--input-format export), or for a feed with format arrow an Arrow IPC file or stream
(--input-format arrow, the default for .arrow, .arrows and .ipc files: each record
batch is one record, re-encoded as an IPC stream of its own), as partition 0; or a
range of a topic (--from-topic, with --start/--end as offsets or RFC3339 times).
Batches close on max_records, max_bytes and the boundary header; max_wait has no
meaning offline. A halt is reported and the replay goes on. No broker is needed for
a file.`

func cmdReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("replay", "replay -c sluice.yaml --input FILE [--feed NAME] [--json] [--report report.html]", replayAbout, stderr)
	path := fs.StringP("config", "c", "sluice.yaml", "config file")
	input := fs.String("input", "", "recorded feed: JSON lines, or an Arrow IPC file or stream (- for stdin)")
	inputFormat := fs.String("input-format", "values", "values (one record value a line), export (sluice quarantine export's lines) or arrow (an Arrow IPC file or stream: a record a record batch; the default for .arrow, .arrows and .ipc)")
	feedName := fs.String("feed", "", "feed to replay (default: the config's only feed)")
	asJSON := fs.Bool("json", false, "print one decision record a line")
	report := fs.String("report", "", "write an HTML report to this file")
	topic := fs.String("from-topic", "", "replay a topic's records instead of a file (needs brokers in the config)")
	partition := fs.Int32("partition", -1, "with --from-topic: only this partition (default: each in turn)")
	start := fs.String("start", "", "with --from-topic: first offset or RFC3339 time (default: the start)")
	end := fs.String("end", "", "with --from-topic: offset or RFC3339 time to stop before (default: the end now)")
	var lf logFlags
	lf.add(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	if (*input == "") == (*topic == "") {
		return errors.New("give exactly one of --input FILE or --from-topic TOPIC")
	}
	log, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		return err
	}
	name := *feedName
	if name == "" {
		if len(cfg.Feeds) != 1 {
			return fmt.Errorf("the config has %d feeds: name one with --feed", len(cfg.Feeds))
		}
		name = cfg.Feeds[0].Name
	}
	if !fs.Changed("input-format") && isArrowFile(*input) {
		*inputFormat = "arrow"
	}
	if *inputFormat == "arrow" {
		if f := cfg.Feed(name); f != nil && f.Format != "arrow" {
			return fmt.Errorf("feed %s has format %s: an Arrow input needs a feed with format: arrow", name, f.Format)
		}
	}
	var rep *replayReport
	if *report != "" {
		rep = newReplayReport(cfg, name)
	}
	tot := replayTotals{verdicts: map[detectors.Verdict]int{}}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if !*asJSON {
		fmt.Fprintln(tw, "BATCH\tRECORDS\tVERDICT\tREASONS")
	}
	enc := json.NewEncoder(stdout)
	onBatch := func(r gate.Replayed) error {
		tot.add(r.Decision)
		if rep != nil {
			rep.add(r)
		}
		if *asJSON {
			return enc.Encode(r.Decision)
		}
		_, err := fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", r.Decision.Batch, r.Decision.Records, r.Decision.Verdict, r.Decision.Reasons())
		return err
	}
	if *input != "" {
		src, closeFn, err := fileSource(*input, *inputFormat)
		if err != nil {
			return err
		}
		defer closeFn()
		if err := gate.Replay(cfg, name, 0, src, log, onBatch); err != nil {
			return err
		}
	} else if err := replayTopic(ctx, cfg, name, *topic, *partition, *start, *end, log, onBatch); err != nil {
		return err
	}
	if !*asJSON {
		tw.Flush()
		fmt.Fprintf(stdout, "\n%d batches, %d records: %d pass, %d warn, %d quarantine, %d halt (%d records would be diverted)\n",
			tot.batches, tot.records, tot.verdicts[detectors.Pass], tot.verdicts[detectors.Warn],
			tot.verdicts[detectors.Quarantine], tot.verdicts[detectors.Halt], tot.diverted)
	}
	if rep != nil {
		if err := rep.write(*report); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "report written to %s\n", *report)
	}
	return nil
}

type replayTotals struct {
	batches, records, diverted int
	verdicts                   map[detectors.Verdict]int
}

func (t *replayTotals) add(d *gate.Decision) {
	t.batches++
	t.records += d.Records
	t.verdicts[d.Verdict]++
	if d.Verdict >= detectors.Quarantine {
		t.diverted += d.Records
	}
}

// isArrowFile reports whether a replay input is named as an Arrow file.
func isArrowFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".arrow", ".arrows", ".ipc":
		return true
	}
	return false
}

// fileSource reads JSON lines (one record value a line, or export
// objects) or an Arrow IPC file or stream (a record a record batch).
func fileSource(path, format string) (gate.RecordSource, func(), error) {
	if format != "values" && format != "export" && format != "arrow" {
		return nil, nil, fmt.Errorf("unknown --input-format %q: want values, export or arrow", format)
	}
	var f io.ReadCloser = os.Stdin
	if path != "-" {
		var err error
		if f, err = os.Open(path); err != nil {
			return nil, nil, fmt.Errorf("cannot open replay input: %w", err)
		}
	}
	if format == "arrow" {
		return arrowSource(path, f)
	}
	br := bufio.NewReaderSize(f, 1<<20)
	line := 0
	src := func() (*kgo.Record, error) {
		b, err := br.ReadBytes('\n')
		if len(b) == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("cannot read %s: %w", path, err)
		}
		line++
		b = trimEOL(b)
		if format == "values" {
			return &kgo.Record{Value: b, Offset: int64(line - 1)}, nil
		}
		r, err := parseExported(b)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		return r, nil
	}
	return src, func() { f.Close() }, nil
}

// arrowSource gives each record batch of an Arrow IPC file or stream as
// one record, its offset the batch's index.
func arrowSource(path string, f io.ReadCloser) (gate.RecordSource, func(), error) {
	r, err := arrowfile.NewReader(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	var offset int64
	src := func() (*kgo.Record, error) {
		v, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		offset++
		return &kgo.Record{Value: v, Offset: offset - 1}, nil
	}
	return src, func() { r.Close(); f.Close() }, nil
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// parseExported turns a line of 'sluice quarantine export' back into a
// record.
func parseExported(b []byte) (*kgo.Record, error) {
	var e exported
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("not an exported record: %w", err)
	}
	r := &kgo.Record{Offset: e.Offset, Timestamp: e.Timestamp}
	switch {
	case e.Key != nil:
		r.Key = []byte(*e.Key)
	case e.KeyBase64 != "":
		k, err := base64.StdEncoding.DecodeString(e.KeyBase64)
		if err != nil {
			return nil, fmt.Errorf("key_base64: %w", err)
		}
		r.Key = k
	}
	switch {
	case e.Value != nil:
		r.Value = e.Value
	case e.ValueText != nil:
		r.Value = []byte(*e.ValueText)
	default:
		v, err := base64.StdEncoding.DecodeString(e.ValueBase64)
		if err != nil {
			return nil, fmt.Errorf("value_base64: %w", err)
		}
		r.Value = v
	}
	for k, v := range e.Headers {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	return r, nil
}

// replayTopic replays a range of each partition of a topic.
func replayTopic(ctx context.Context, cfg *config.Config, feed, topic string, only int32, start, end string, log *slog.Logger, fn func(gate.Replayed) error) error {
	if len(cfg.Brokers) == 0 {
		return errors.New("--from-topic needs brokers in the config")
	}
	kafka, err := gate.KafkaOpts(cfg)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(kafka...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	starts, err := topicOffsets(ctx, adm, topic, start, true)
	if err != nil {
		return err
	}
	ends, err := topicOffsets(ctx, adm, topic, end, false)
	if err != nil {
		return err
	}
	for p := int32(0); p < int32(len(ends)); p++ {
		if only >= 0 && p != only {
			continue
		}
		from, to := starts[p], ends[p]
		if from >= to {
			continue
		}
		src, closeFn, err := topicSource(ctx, cfg, topic, p, from, to)
		if err != nil {
			return err
		}
		err = gate.Replay(cfg, feed, p, src, log, fn)
		closeFn()
		if err != nil {
			return err
		}
	}
	return nil
}

// topicOffsets resolves an offset, an RFC3339 time, or the start/end of
// each partition.
func topicOffsets(ctx context.Context, adm *kadm.Client, topic, at string, isStart bool) ([]int64, error) {
	var lo kadm.ListedOffsets
	var err error
	switch {
	case at == "" && isStart:
		lo, err = adm.ListStartOffsets(ctx, topic)
	case at == "":
		lo, err = adm.ListEndOffsets(ctx, topic)
	default:
		if n, perr := strconv.ParseInt(at, 10, 64); perr == nil {
			lo, err = adm.ListEndOffsets(ctx, topic)
			if err == nil {
				out := make([]int64, 0)
				lo.Each(func(o kadm.ListedOffset) {
					for int(o.Partition) >= len(out) {
						out = append(out, 0)
					}
					out[o.Partition] = min(n, o.Offset)
				})
				return out, nil
			}
			break
		}
		t, perr := time.Parse(time.RFC3339, at)
		if perr != nil {
			return nil, fmt.Errorf("%q is neither an offset nor an RFC3339 time", at)
		}
		lo, err = adm.ListOffsetsAfterMilli(ctx, t.UnixMilli(), topic)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot list offsets of %s: %w", topic, err)
	}
	var out []int64
	var lerr error
	lo.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			lerr = o.Err
			return
		}
		for int(o.Partition) >= len(out) {
			out = append(out, 0)
		}
		out[o.Partition] = o.Offset
	})
	if lerr != nil {
		return nil, fmt.Errorf("cannot list offsets of %s: %w", topic, lerr)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("topic %s not found", topic)
	}
	return out, nil
}

func topicSource(ctx context.Context, cfg *config.Config, topic string, p int32, from, to int64) (gate.RecordSource, func(), error) {
	kafka, err := gate.KafkaOpts(cfg)
	if err != nil {
		return nil, nil, err
	}
	cl, err := kgo.NewClient(append(kafka,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().At(from)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Markers take offsets too; keeping them lets the reader see that
		// it reached the end of the range.
		kgo.KeepControlRecords())...)
	if err != nil {
		return nil, nil, err
	}
	var buf []*kgo.Record
	var src gate.RecordSource
	src = func() (*kgo.Record, error) {
		for len(buf) == 0 {
			fs := cl.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			var ferr error
			fs.EachError(func(_ string, _ int32, err error) { ferr = err })
			if ferr != nil {
				return nil, fmt.Errorf("cannot read %s/%d: %w", topic, p, ferr)
			}
			buf = fs.Records()
		}
		r := buf[0]
		buf = buf[1:]
		if r.Offset >= to {
			return nil, io.EOF
		}
		if r.Attrs.IsControl() {
			if r.Offset+1 >= to {
				return nil, io.EOF
			}
			return src()
		}
		return r, nil
	}
	return src, cl.Close, nil
}
