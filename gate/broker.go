package gate

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// BrokerConfig is the embedded broker's setup.
type BrokerConfig struct {
	// Listen is host:port; port 0 picks a free one.
	Listen string
	// DataDir keeps topics across restarts; empty keeps them in memory.
	DataDir string
	// Partitions is the partition count of topics created automatically
	// (a producer writing to a topic that does not exist). Default 3.
	Partitions int
	Logger     *slog.Logger
}

// StartBroker runs franz-go's kfake, a Kafka-compatible broker speaking the
// real protocol, in this process. It is for development and tests, not for
// production data.
func StartBroker(bc BrokerConfig) (*kfake.Cluster, error) {
	host, portS, err := net.SplitHostPort(bc.Listen)
	if err != nil {
		return nil, fmt.Errorf("cannot parse listen address %q: %w", bc.Listen, err)
	}
	port, err := strconv.Atoi(portS)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("cannot parse listen address %q: bad port", bc.Listen)
	}
	if port == 0 {
		// kfake treats 0 as "pick one", but binds 127.0.0.1; pick it
		// here so the host is ours.
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("cannot listen on %s: %w", bc.Listen, err)
		}
		port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	if bc.Partitions <= 0 {
		bc.Partitions = 3
	}
	opts := []kfake.Opt{
		kfake.Ports(port),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		}),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(bc.Partitions),
		kfake.ClusterID("sluice-dev"),
	}
	if bc.DataDir != "" {
		opts = append(opts, kfake.DataDir(bc.DataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot start embedded broker: %w", err)
	}
	if bc.Logger != nil {
		bc.Logger.Info("embedded broker listening", "addr", c.ListenAddrs()[0], "data_dir", bc.DataDir)
	}
	return c, nil
}
