package gate

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/sluicehq/sluice/config"
)

// Reload takes a new, already validated config. What needs a restart
// (brokers, group, topics, the set of feeds, admin) must be unchanged, and
// every detector must build; otherwise the running config stays and Reload
// says why. The new config takes effect at each partition's next batch
// boundary; a detector whose settings did not change keeps its learned
// state.
func (g *Gate) Reload(cfg *config.Config) error {
	if err := g.reloadable(cfg); err != nil {
		g.RejectConfig(err)
		return err
	}
	g.mu.Lock()
	g.evs.reload = cfg
	g.mu.Unlock()
	g.met.configReload.Set(1)
	g.log.Info("config reloaded; it applies at each partition's next batch boundary", "file", cfg.File)
	return nil
}

// RejectConfig records a config that could not be taken: the running one
// stays, and sluice_config_reload_success is 0 until a good one loads.
func (g *Gate) RejectConfig(err error) {
	g.met.configReload.Set(0)
	for _, line := range strings.Split(err.Error(), "\n") {
		g.log.Error("config rejected; keeping the running config", "error", line)
	}
}

func (g *Gate) reloadable(cfg *config.Config) error {
	old := g.current.Load()
	var why []string
	if !reflect.DeepEqual(old.Brokers, cfg.Brokers) {
		why = append(why, "brokers changed")
	}
	if !reflect.DeepEqual(old.TLS, cfg.TLS) || !reflect.DeepEqual(old.SASL, cfg.SASL) {
		why = append(why, "tls or sasl changed")
	}
	if old.Group != cfg.Group {
		why = append(why, "group changed")
	}
	if old.CreateTopicsOrDefault() != cfg.CreateTopicsOrDefault() {
		why = append(why, "create_topics changed")
	}
	if old.Admin != cfg.Admin {
		why = append(why, "admin changed")
	}
	if len(old.Feeds) != len(cfg.Feeds) {
		why = append(why, "feeds were added or removed")
	} else {
		for i := range cfg.Feeds {
			o, n := &old.Feeds[i], &cfg.Feeds[i]
			if o.Name != n.Name || o.Input != n.Input || o.Output != n.Output || o.Quarantine != n.Quarantine || o.Format != n.Format {
				why = append(why, fmt.Sprintf("feed %s changed its name, topics or format", o.Name))
			}
		}
	}
	if len(why) > 0 {
		return fmt.Errorf("%s: %s need a restart", cfg.File, strings.Join(why, "; "))
	}
	for i := range cfg.Feeds {
		if _, err := newJudge(&cfg.Feeds[i], g.env(&cfg.Feeds[i])); err != nil {
			return err
		}
	}
	return nil
}

// applyReload switches the gate to a new config between polls. Partitions
// without an open batch switch now, the others when their batch closes.
func (g *Gate) applyReload(cfg *config.Config) {
	g.cfg = cfg
	g.current.Store(cfg)
	for i := range cfg.Feeds {
		f := &cfg.Feeds[i]
		if fr := g.feeds[f.Input]; fr != nil {
			fr.cfg = f
		}
	}
	for _, p := range g.parts {
		p.pending = p.feed.cfg
		if !p.open {
			p.switchConfig()
		}
	}
}

// switchConfig rebuilds the partition's detectors for its pending config,
// carrying over the learned state of those whose settings did not change.
func (p *partition) switchConfig() {
	next := p.pending
	p.pending = nil
	if next == nil || next == p.cfg {
		return
	}
	j, err := newJudge(next, p.feed.g.env(next))
	if err != nil {
		p.feed.g.log.Error("cannot apply the new config to a partition; it keeps the old one", "feed", next.Name, "partition", p.id, "err", err)
		return
	}
	for i, nd := range next.Detectors {
		for k, od := range p.cfg.Detectors {
			if od.Name != nd.Name || !reflect.DeepEqual(od, nd) {
				continue
			}
			st, err := p.j.dets[k].AppendState(nil)
			if err == nil {
				err = j.dets[i].UnmarshalState(st)
			}
			if err != nil {
				p.feed.g.log.Warn("detector state not carried over; it warms up again", "feed", next.Name, "partition", p.id, "detector", nd.Name, "err", err)
			}
		}
	}
	p.j, p.cfg = j, next
}
