package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tremolo-dev/tremolo/platform/dynconfig"
)

// Addrs waits until the process logs that it serves and returns its gRPC
// and HTTP addresses (its /metrics is on the HTTP one).
func (p *Process) Addrs(ctx context.Context) (grpcAddr, httpAddr string, err error) {
	for {
		if g, h, ok := servingLine(p.Log); ok {
			return g, h, nil
		}
		select {
		case <-p.exited:
			return "", "", fmt.Errorf("cluster: %s exited before serving: %v (log: %s)", p.Name, p.Err, p.Log)
		case <-ctx.Done():
			return "", "", fmt.Errorf("cluster: %s: %w", p.Name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// servingLine finds the server's "serving" log line in a JSON log file.
func servingLine(path string) (grpcAddr, httpAddr string, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !strings.Contains(string(line), `"msg":"serving"`) {
			continue
		}
		var v struct{ GRPC, HTTP string }
		if json.Unmarshal(line, &v) == nil && v.GRPC != "" {
			return v.GRPC, v.HTTP, true
		}
	}
	return "", "", false
}

// Process returns the process named name ("feed-2", "video"), or nil.
func (c *Cluster) Process(name string) *Process {
	for _, p := range c.Processes() {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Exited returns a channel closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Kill sends SIGKILL to the process, as a crash would, and waits for it.
// Its exit is reported on Cluster.Exited like any other.
func (p *Process) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL) // it may be gone already
	<-p.exited
}

// StopEtcd kills etcd (SIGKILL, as a crash would), leaving its data.
func (c *Cluster) StopEtcd() {
	c.mu.Lock()
	p := c.etcd
	c.mu.Unlock()
	if p != nil {
		c.etcdDown.Store(true)
		p.Kill()
	}
}

// StartEtcd starts etcd again on its data, after StopEtcd, and waits until
// it answers.
func (c *Cluster) StartEtcd(ctx context.Context) error {
	if err := c.startEtcd(ctx); err != nil {
		return err
	}
	c.etcdDown.Store(false)
	return nil
}

// Etcd returns a client of the cluster's etcd, for the caller to close.
func (c *Cluster) Etcd() (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: []string{c.EtcdEndpoint}, DialTimeout: 2 * time.Second})
}

// SetConfig puts a dynamic configuration document (platform/dynconfig)
// that every process follows: "faults", "breakers", "limits", "plugins".
// Empty data deletes it.
func (c *Cluster) SetConfig(ctx context.Context, name string, data []byte) error {
	cli, err := c.Etcd()
	if err != nil {
		return err
	}
	defer cli.Close()
	key := ConfigPrefix + name
	if len(data) == 0 {
		_, err = cli.Delete(ctx, key)
	} else {
		_, err = cli.Put(ctx, key, string(data))
	}
	if err != nil {
		return fmt.Errorf("cluster: config %s: %w", name, err)
	}
	return nil
}

// ConfigPrefix is where the cluster's processes read dynamic configuration.
const ConfigPrefix = dynconfig.DefaultPrefix

// EtcdPID returns the running etcd's process id (0 while it is down).
func (c *Cluster) EtcdPID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.etcd == nil || c.etcdDown.Load() {
		return 0
	}
	return c.etcd.PID()
}
