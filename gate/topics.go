package gate

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/cespare/xxhash/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var errInputMissing = errors.New("input topic does not exist")

// topicInfo is what the gate knows of its own topics.
type topicInfo struct {
	decisions, state           string
	decisionsParts, stateParts int32
	maxMessage                 int32 // the least max.message.bytes of the outputs
}

// partitionFor places a key on one of n partitions, always the same one, so
// that compaction keeps only its latest value.
func (t *topicInfo) partitionFor(n int32, key string) int32 {
	return int32(xxhash.Sum64String(key) % uint64(n))
}

// ensureTopics creates what is missing: the compacted decisions and state
// topics, and each feed's output and quarantine topics with its input's
// partition count. It checks that outputs have at least the input's
// partitions, since records keep their partition number.
func (g *Gate) ensureTopics(ctx context.Context) (*topicInfo, error) {
	cl, err := kgo.NewClient(g.clientOpts()...)
	if err != nil {
		return nil, fmt.Errorf("cannot create admin client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	create := g.cfg.CreateTopics == nil || *g.cfg.CreateTopics
	ti := &topicInfo{decisions: g.cfg.DecisionsTopic(), state: g.cfg.StateTopic()}

	compact := map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
	for _, t := range []string{ti.decisions, ti.state} {
		n, err := g.partitions(ctx, adm, t)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			if !create {
				return nil, fmt.Errorf("topic %s does not exist and create_topics is false", t)
			}
			if err := createTopic(ctx, adm, t, 1, compact); err != nil {
				return nil, err
			}
			n = 1
			g.log.Info("created topic", "topic", t, "partitions", n, "cleanup_policy", "compact")
		}
		if t == ti.decisions {
			ti.decisionsParts = n
		} else {
			ti.stateParts = n
		}
	}
	for _, f := range g.feeds {
		in, err := g.partitions(ctx, adm, f.cfg.Input)
		if err != nil {
			return nil, err
		}
		if in == 0 {
			return nil, fmt.Errorf("%w: %s (feed %s)", errInputMissing, f.cfg.Input, f.cfg.Name)
		}
		// What the input accepts, its outputs must accept too, or a
		// record the vendor wrote could be written nowhere.
		var inherit map[string]*string
		if v, ok := ownMaxMessage(ctx, adm, f.cfg.Input); ok {
			inherit = map[string]*string{"max.message.bytes": kadm.StringPtr(strconv.FormatInt(v, 10))}
		}
		for _, t := range []string{f.cfg.Output, f.cfg.Quarantine} {
			n, err := g.partitions(ctx, adm, t)
			if err != nil {
				return nil, err
			}
			switch {
			case n == 0 && create:
				if err := createTopic(ctx, adm, t, in, inherit); err != nil {
					return nil, err
				}
				g.log.Info("created topic", "topic", t, "partitions", in, "max_message_bytes_of_input", inherit != nil)
			case n == 0:
				return nil, fmt.Errorf("topic %s of feed %s does not exist and create_topics is false", t, f.cfg.Name)
			case n < in:
				return nil, fmt.Errorf("topic %s of feed %s has %d partitions, fewer than its input %s (%d): records keep their partition number", t, f.cfg.Name, n, f.cfg.Input, in)
			}
		}
	}
	ti.maxMessage = g.maxMessageBytes(ctx, adm)
	return ti, nil
}

// defaultMaxMessage is Kafka's default max.message.bytes, used when the
// topics' own setting cannot be read.
const defaultMaxMessage = 1048588

// maxMessageBytes is the smallest max.message.bytes of the topics the gate
// writes: the producer's batches must fit every one of them. It warns of
// an output or quarantine topic that takes less than its input, since a
// record the input accepted may then fit nowhere.
func (g *Gate) maxMessageBytes(ctx context.Context, adm *kadm.Client) int32 {
	var topics []string
	for _, f := range g.feeds {
		topics = append(topics, f.cfg.Input, f.cfg.Output, f.cfg.Quarantine)
	}
	// A topic without its own setting takes the broker's message.max.bytes.
	broker := int64(defaultMaxMessage)
	if rcs, err := adm.DescribeBrokerConfigs(ctx); err == nil {
		for _, rc := range rcs {
			for _, c := range rc.Configs {
				if c.Key == "message.max.bytes" && c.Value != nil {
					if v, err := strconv.ParseInt(*c.Value, 10, 32); err == nil && v > 0 {
						broker = v
					}
				}
			}
		}
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return int32(broker)
	}
	limit := map[string]int64{}
	for _, rc := range rcs {
		v, ok := maxMessageOf(rc)
		if !ok {
			v = broker
		}
		limit[rc.Name] = v
	}
	least := int64(-1)
	for _, f := range g.feeds {
		for _, t := range []string{f.cfg.Output, f.cfg.Quarantine} {
			v, ok := limit[t]
			if !ok {
				continue
			}
			if in, ok := limit[f.cfg.Input]; ok && v < in {
				g.log.Warn("topic takes smaller records than its input; a larger record stops its partition until the setting is raised",
					"topic", t, "max_message_bytes", v, "input", f.cfg.Input, "input_max_message_bytes", in)
			}
			if least < 0 || v < least {
				least = v
			}
		}
	}
	if least < 0 {
		return int32(broker)
	}
	return int32(least)
}

// raiseMaxMessage reads the topics' max.message.bytes again after a record
// was too large for them, and reports whether the least has grown.
func (g *Gate) raiseMaxMessage(ctx context.Context) bool {
	cl, err := kgo.NewClient(g.clientOpts()...)
	if err != nil {
		return false
	}
	defer cl.Close()
	if m := g.maxMessageBytes(ctx, kadm.NewClient(cl)); m > g.topics.maxMessage {
		g.log.Info("topics take larger records now", "max_message_bytes", m, "was", g.topics.maxMessage)
		g.topics.maxMessage = m
		return true
	}
	return false
}

// ownMaxMessage is topic's own max.message.bytes, if it has one.
func ownMaxMessage(ctx context.Context, adm *kadm.Client, topic string) (int64, bool) {
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil || len(rcs) != 1 {
		return 0, false
	}
	return maxMessageOf(rcs[0])
}

// maxMessageOf is the max.message.bytes a topic sets itself (not the
// broker's default it would otherwise take).
func maxMessageOf(rc kadm.ResourceConfig) (int64, bool) {
	if rc.Err != nil {
		return 0, false
	}
	for _, c := range rc.Configs {
		if c.Key == "max.message.bytes" && c.Value != nil && c.Source == kmsg.ConfigSourceDynamicTopicConfig {
			if n, err := strconv.ParseInt(*c.Value, 10, 32); err == nil && n > 0 {
				return n, true
			}
		}
	}
	return 0, false
}

// partitions is a topic's partition count, 0 when it does not exist.
func (g *Gate) partitions(ctx context.Context, adm *kadm.Client, topic string) (int32, error) {
	tds, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("cannot list topic %s: %w", topic, err)
	}
	td, ok := tds[topic]
	if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		return 0, nil
	}
	if td.Err != nil {
		return 0, fmt.Errorf("cannot describe topic %s: %w", topic, td.Err)
	}
	return int32(len(td.Partitions)), nil
}

func createTopic(ctx context.Context, adm *kadm.Client, topic string, parts int32, configs map[string]*string) error {
	resp, err := adm.CreateTopic(ctx, parts, -1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("cannot create topic %s: %w", topic, err)
	}
	return nil
}

func itoa(p int32) string { return strconv.FormatInt(int64(p), 10) }
