package metrics

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"

	"github.com/tremolo-dev/tremolo/platform/rpc"
)

// DefaultBuckets are latency buckets (seconds) for methods whose options set
// none: 1 ms to 10 s, denser where RPC latencies usually are.
var DefaultBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Outcome label values of the latency histogram.
const (
	OutcomeSuccess = "success"
	OutcomeError   = "error"
)

// ErrorLabel is a code/reason pair a method can return, pre-created on the
// handled counter.
type ErrorLabel struct {
	Code   codes.Code
	Reason string
}

// ServerMethod holds the series of one method. Its methods are safe for
// concurrent use.
type ServerMethod struct {
	started   prometheus.Counter
	handled   *prometheus.CounterVec
	handledOK prometheus.Counter
	latencyOK prometheus.Observer
	latencyKO prometheus.Observer
	received  prometheus.Counter
	sent      prometheus.Counter
	inFlight  prometheus.Gauge
}

// NewServerMethod creates and registers the series of method m: the handled
// counter for every gRPC code with an empty reason and for each of errs, both
// outcomes of the histogram (buckets from m.Buckets, else DefaultBuckets).
// Every method registers its own collectors with constant method labels, so
// methods may have different buckets under one metric name.
func NewServerMethod(reg prometheus.Registerer, m rpc.Method, errs []ErrorLabel) (*ServerMethod, error) {
	labels := prometheus.Labels{"grpc_type": string(m.Type), "grpc_service": m.Service(), "grpc_method": m.Name()}
	buckets := m.Buckets
	if len(buckets) == 0 {
		buckets = DefaultBuckets
	}
	s := &ServerMethod{
		started: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grpc_server_started_total", Help: "Total number of RPCs started on the server.", ConstLabels: labels,
		}),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_handled_total", Help: "Total number of RPCs completed on the server, regardless of success or failure.", ConstLabels: labels,
		}, []string{"grpc_code", "reason"}),
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grpc_server_msg_received_total", Help: "Total number of RPC stream messages received on the server.", ConstLabels: labels,
		}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grpc_server_msg_sent_total", Help: "Total number of gRPC stream messages sent by the server.", ConstLabels: labels,
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tremolo_grpc_server_in_flight_requests", Help: "Number of RPCs being handled by the server right now.", ConstLabels: labels,
		}),
	}
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "grpc_server_handling_seconds", Help: "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
		ConstLabels: labels, Buckets: buckets,
	}, []string{"outcome"})
	for _, c := range []prometheus.Collector{s.started, s.handled, s.received, s.sent, s.inFlight, latency} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: registering series of %s: %w", m.FullMethod, err)
		}
	}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		s.handled.WithLabelValues(c.String(), "")
	}
	for _, e := range errs {
		s.handled.WithLabelValues(e.Code.String(), e.Reason)
	}
	s.handledOK = s.handled.WithLabelValues(codes.OK.String(), "")
	s.latencyOK = latency.WithLabelValues(OutcomeSuccess)
	s.latencyKO = latency.WithLabelValues(OutcomeError)
	return s, nil
}

// Start records an RPC's start and returns its start time.
func (s *ServerMethod) Start() time.Time {
	s.started.Inc()
	s.inFlight.Inc()
	return time.Now()
}

// Done records an RPC's end with its code and reason.
func (s *ServerMethod) Done(start time.Time, code codes.Code, reason string) {
	elapsed := time.Since(start).Seconds()
	s.inFlight.Dec()
	if code == codes.OK {
		s.handledOK.Inc()
		s.latencyOK.Observe(elapsed)
		return
	}
	s.handled.WithLabelValues(code.String(), reason).Inc()
	s.latencyKO.Observe(elapsed)
}

// Received counts one message received from the client.
func (s *ServerMethod) Received() { s.received.Inc() }

// Sent counts one message sent to the client.
func (s *ServerMethod) Sent() { s.sent.Inc() }
