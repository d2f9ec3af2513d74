package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/arrowrows/arrowfile"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/gate"
)

const quarantineAbout = `Works with held batches. The index is the decisions topic; the records are in
each feed's quarantine topic. Nothing here needs a running gate.

  list                 batches that did not simply pass (default: those still held)
  show ID              a batch's decision, its findings in words and a sample of its records
  release ID           re-publish the batch's records to the output topic, exactly once
  drop ID --reason R   give the batch up (who, when, why are recorded; nothing is deleted)
  export ID -o FILE    write the batch's records to a file: --format jsonl (a JSON object a
                       record), or arrow (an Arrow IPC file with the decision in its schema
                       metadata, "sluice.decision": for an Arrow feed the rows themselves
                       plus sluice_partition and sluice_offset columns, else a row a record:
                       partition, offset, timestamp, key, value, headers)`

func cmdQuarantine(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("quarantine", "quarantine -c sluice.yaml list|show ID|release ID|drop ID|export ID [flags]", quarantineAbout, stderr)
	path := fs.StringP("config", "c", "sluice.yaml", "config file")
	feed := fs.String("feed", "", "list: only this feed")
	state := fs.String("state", "", "list: only this state (quarantined, halted, released, dropped; default: held ones)")
	olderThan := fs.Duration("older-than", 0, "list: only batches decided longer ago than this")
	all := fs.Bool("all", false, "list: every state, not only held batches")
	asJSON := fs.Bool("json", false, "list, show: print decision records as JSON")
	reason := fs.String("reason", "", "release, drop: why (drop needs one)")
	format := fs.String("format", "jsonl", "export: jsonl or arrow")
	output := fs.StringP("output", "o", "", "export: file to write (- for stdout)")
	sample := fs.Int("sample", 5, "show: records to print")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("want a subcommand: list, show, release, drop or export")
	}
	sub, rest := fs.Arg(0), fs.Args()[1:]
	needID := func() (string, error) {
		if len(rest) != 1 {
			return "", fmt.Errorf("%s wants one batch id (FEED:PARTITION:OFFSET)", sub)
		}
		if _, _, _, err := gate.ParseBatchID(rest[0]); err != nil {
			return "", err
		}
		return rest[0], nil
	}
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		return err
	}
	if len(cfg.Brokers) == 0 {
		return fmt.Errorf("%s configures no brokers: point 'brokers' at the cluster the gate runs on", *path)
	}
	switch sub {
	case "list":
		if len(rest) > 0 {
			return fmt.Errorf("list takes no arguments")
		}
		return quarantineList(ctx, cfg, stdout, *feed, *state, *olderThan, *all, *asJSON)
	case "show":
		id, err := needID()
		if err != nil {
			return err
		}
		return quarantineShow(ctx, cfg, stdout, id, *sample, *asJSON)
	case "release", "drop":
		id, err := needID()
		if err != nil {
			return err
		}
		if sub == "drop" && strings.TrimSpace(*reason) == "" {
			return fmt.Errorf("drop needs --reason: say why the batch is given up")
		}
		change := gate.Release
		if sub == "drop" {
			change = gate.Drop
		}
		d, err := change(ctx, cfg, id, operator(), *reason)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %s (%d records) by %s\n", d.Batch, d.State, d.Records, d.Change.By)
		return nil
	case "export":
		id, err := needID()
		if err != nil {
			return err
		}
		if *output == "" {
			return fmt.Errorf("export needs -o FILE (- for stdout)")
		}
		return quarantineExport(ctx, cfg, stdout, id, *format, *output)
	}
	return fmt.Errorf("unknown subcommand %q: want list, show, release, drop or export", sub)
}

// operator names who changed a batch: the OS user.
func operator() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "cli"
}

func quarantineList(ctx context.Context, cfg *config.Config, w io.Writer, feed, state string, olderThan time.Duration, all, asJSON bool) error {
	ix, err := gate.ReadIndex(ctx, cfg)
	if err != nil {
		return err
	}
	var ds []*gate.Decision
	now := time.Now()
	for _, d := range ix.Batches {
		held := d.State == gate.StateQuarantined || d.State == gate.StateHalted
		switch {
		case feed != "" && d.Feed != feed,
			state != "" && d.State != state,
			state == "" && !all && !held,
			olderThan > 0 && now.Sub(d.DecidedAt) < olderThan:
			continue
		}
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].DecidedAt.Before(ds[j].DecidedAt) })
	if asJSON {
		enc := json.NewEncoder(w)
		for _, d := range ds {
			if err := enc.Encode(d); err != nil {
				return err
			}
		}
		return nil
	}
	if len(ds) == 0 {
		fmt.Fprintln(w, "no batches match")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BATCH\tSTATE\tRECORDS\tAGE\tREASONS")
	for _, d := range ds {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", d.Batch, d.State, d.Records, now.Sub(d.DecidedAt).Round(time.Second), oneLine(d.Reasons(), 100))
	}
	return tw.Flush()
}

func oneLine(s string, n int) string {
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}

func quarantineShow(ctx context.Context, cfg *config.Config, w io.Writer, id string, sample int, asJSON bool) error {
	ix, err := gate.ReadIndex(ctx, cfg)
	if err != nil {
		return err
	}
	d := ix.Batches[id]
	if d == nil {
		return fmt.Errorf("no quarantined batch %s (passed batches are not held)", id)
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(d)
	}
	fmt.Fprintf(w, "batch     %s\nstate     %s (verdict %s)\nrecords   %d (offsets %d-%d of %s/%d, %d bytes)\ndecided   %s\n",
		d.Batch, d.State, d.Verdict, d.Records, d.FirstOffset, d.LastOffset, d.Topic, d.Partition, d.Bytes, d.DecidedAt.Format(time.RFC3339))
	if c := d.Change; c != nil {
		fmt.Fprintf(w, "changed   %s by %s at %s: %s\n", d.State, c.By, c.At.Format(time.RFC3339), c.Reason)
	}
	fmt.Fprintln(w, "findings")
	for _, f := range d.Findings {
		fmt.Fprintf(w, "  - [%s] %s\n", f.Verdict, gate.FindingText(&f))
	}
	if d.Quarantine == nil || sample <= 0 {
		return nil
	}
	recs, err := gate.BatchRecords(ctx, cfg, d, sample)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "sample (%d of %d records, from %s)\n", len(recs), d.Records, d.Quarantine.Topic)
	redact, key := true, ""
	if f := cfg.Feed(d.Feed); f != nil {
		redact, key = f.RedactKeysOrDefault(), f.Key
	}
	for _, r := range recs {
		fmt.Fprintf(w, "  %d  %s\n", r.Offset, gate.RecordPreview(r.Value, key, redact, 300))
	}
	return nil
}

// exported is one record of an export, as a JSON line.
type exported struct {
	Partition   int32             `json:"partition"`
	Offset      int64             `json:"offset"`
	Timestamp   time.Time         `json:"timestamp"`
	Key         *string           `json:"key,omitempty"`
	KeyBase64   string            `json:"key_base64,omitempty"`
	Value       json.RawMessage   `json:"value,omitempty"`
	ValueText   *string           `json:"value_text,omitempty"`
	ValueBase64 string            `json:"value_base64,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
}

func quarantineExport(ctx context.Context, cfg *config.Config, stdout io.Writer, id, format, output string) error {
	if format != "jsonl" && format != "arrow" {
		return fmt.Errorf("unknown --format %q: want jsonl or arrow", format)
	}
	ix, err := gate.ReadIndex(ctx, cfg)
	if err != nil {
		return err
	}
	d := ix.Batches[id]
	if d == nil {
		return fmt.Errorf("no quarantined batch %s", id)
	}
	recs, err := gate.BatchRecords(ctx, cfg, d, -1)
	if err != nil {
		return err
	}
	w := stdout
	if output != "-" {
		f, err := os.Create(output)
		if err != nil {
			return fmt.Errorf("cannot create export file: %w", err)
		}
		defer f.Close()
		w = f
	}
	what := "records"
	if format == "arrow" {
		what, err = writeArrow(w, cfg, d, recs)
	} else {
		err = writeJSONL(w, recs)
	}
	if err != nil {
		return fmt.Errorf("cannot write export: %w", err)
	}
	if output != "-" {
		fmt.Fprintf(stdout, "%s: %d %s written to %s\n", id, len(recs), what, output)
	}
	return nil
}

// writeArrow writes an Arrow IPC file with the decision in its schema
// metadata: an Arrow feed's rows when its records are all rows of one
// schema, else one row a record. It says which.
func writeArrow(w io.Writer, cfg *config.Config, d *gate.Decision, recs []*kgo.Record) (string, error) {
	dec, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	meta := map[string]string{arrowfile.MetaDecision: string(dec)}
	ars := make([]arrowfile.Record, len(recs))
	for i, r := range recs {
		a := arrowfile.Record{Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp, Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			a.Headers = append(a.Headers, arrowfile.Header{Key: h.Key, Value: h.Value})
		}
		ars[i] = a
	}
	if f := cfg.Feed(d.Feed); f != nil && f.Format == "arrow" {
		err := arrowfile.WriteRows(w, ars, meta)
		if err == nil {
			return fmt.Sprintf("records (%d rows, in the feed's schema)", d.Records), nil
		}
		if !errors.Is(err, arrowfile.ErrNotRows) {
			return "", err
		}
		// Undecodable records or a schema change: a row a record keeps
		// them all.
		meta["sluice.rows_error"] = err.Error()
	}
	return "records (a row each)", arrowfile.WriteRecords(w, ars, meta)
}

// writeJSONL writes one JSON object a record: a value that is JSON stays
// JSON, other text is a string, other bytes are base64, so every record
// survives the trip.
func writeJSONL(w io.Writer, recs []*kgo.Record) error {
	enc := json.NewEncoder(w)
	for _, r := range recs {
		e := exported{Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UTC(), Headers: map[string]string{}}
		if r.Key != nil {
			if utf8.Valid(r.Key) {
				k := string(r.Key)
				e.Key = &k
			} else {
				e.KeyBase64 = base64.StdEncoding.EncodeToString(r.Key)
			}
		}
		switch {
		case json.Valid(r.Value):
			e.Value = r.Value
		case utf8.Valid(r.Value):
			v := string(r.Value)
			e.ValueText = &v
		default:
			e.ValueBase64 = base64.StdEncoding.EncodeToString(r.Value)
		}
		for _, h := range r.Headers {
			e.Headers[h.Key] = string(h.Value)
		}
		if err := enc.Encode(&e); err != nil {
			return err
		}
	}
	return nil
}
