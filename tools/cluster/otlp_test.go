package cluster_test

import (
	"context"
	"encoding/hex"
	"net"
	"slices"
	"strings"
	"sync"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
)

// collector is an OTLP/gRPC trace collector on a loopback port: every
// process of the cluster exports its spans to it (-otlp-endpoint), and it
// keeps, per trace id, the span names each service.name sent.
type collector struct {
	coltracepb.UnimplementedTraceServiceServer
	addr string
	srv  *grpc.Server

	mu      sync.Mutex
	byTrace map[string][]span // by trace id (hex)
	spans   int
}

// span is what the tests read of a received span.
type span struct {
	service      string // its resource's service.name
	name         string
	kind         string // "server", "client", "internal", ...
	id, parentID string // hex; parentID empty for a root
}

func (s span) String() string { return s.kind + " " + s.name }

func startCollector() (*collector, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &collector{addr: lis.Addr().String(), srv: grpc.NewServer(), byTrace: map[string][]span{}}
	coltracepb.RegisterTraceServiceServer(c.srv, c)
	go func() { _ = c.srv.Serve(lis) }()
	return c, nil
}

// Export implements coltracepb.TraceServiceServer.
func (c *collector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		svc := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				svc = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				id := hex.EncodeToString(s.GetTraceId())
				kind := strings.ToLower(strings.TrimPrefix(s.GetKind().String(), "SPAN_KIND_"))
				c.byTrace[id] = append(c.byTrace[id], span{
					service: svc, name: s.GetName(), kind: kind,
					id: hex.EncodeToString(s.GetSpanId()), parentID: hex.EncodeToString(s.GetParentSpanId()),
				})
				c.spans++
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// trace returns the spans of a trace received so far.
func (c *collector) trace(id string) []span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.byTrace[id])
}

// total is how many spans have arrived in all.
func (c *collector) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.spans
}

func (c *collector) stop() { c.srv.Stop() }
