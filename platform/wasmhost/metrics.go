package wasmhost

import (
	"errors"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the host's Prometheus series, all labelled by plugin:
//
//	tremolo_wasm_calls_total{plugin,phase}                guest calls (phase: request, response)
//	tremolo_wasm_failures_total{plugin,kind}              failures by FailureKind
//	tremolo_wasm_call_duration_seconds{plugin,phase}      guest call latency
//	tremolo_wasm_instances{plugin}                        live instances
//	tremolo_wasm_instances_created_total{plugin}
//	tremolo_wasm_instances_discarded_total{plugin,reason} reason: failure, max_calls, memory, closed, retired
//	tremolo_wasm_pool_waits_total{plugin}                 acquisitions that had to wait for an instance
//	tremolo_wasm_warmup_seconds{plugin}                   time Load spent creating the warm instances
//	tremolo_wasm_bucket_errors_total{plugin}              bucket_take calls the store failed (let through)
//	tremolo_wasm_plugin_counter_total{plugin,name}        counter_add
type metrics struct {
	calls        *prometheus.CounterVec
	failures     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	instances    *prometheus.GaugeVec
	created      *prometheus.CounterVec
	discarded    *prometheus.CounterVec
	poolWaits    *prometheus.CounterVec
	warmup       *prometheus.GaugeVec
	bucketErrors *prometheus.CounterVec
	counters     *prometheus.CounterVec
}

// Reasons an instance is discarded: the label values of
// tremolo_wasm_instances_discarded_total.
const (
	discardFailure  = "failure"
	discardMaxCalls = "max_calls"
	discardMemory   = "memory"
	discardClosed   = "closed"
	discardRetired  = "retired" // the guest asked (tremolo.retire)
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tremolo_wasm_calls_total",
			Help: "Calls into WebAssembly plugins, by plugin and phase (request: handle_request, response: handle_response).",
		}, []string{"plugin", "phase"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tremolo_wasm_failures_total",
			Help: "Failed plugin calls and acquisitions, by plugin and kind (trap, timeout, canceled, abi, memory, instantiate, busy, body, closed).",
		}, []string{"plugin", "kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tremolo_wasm_call_duration_seconds",
			Help:    "Duration of calls into WebAssembly plugins, by plugin and phase.",
			Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25},
		}, []string{"plugin", "phase"}),
		instances: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tremolo_wasm_instances",
			Help: "Live instances of each plugin, idle or in use.",
		}, []string{"plugin"}),
		created: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tremolo_wasm_instances_created_total",
			Help: "Plugin instances created.",
		}, []string{"plugin"}),
		discarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tremolo_wasm_instances_discarded_total",
			Help: "Plugin instances discarded, by reason (failure, max_calls, memory, closed).",
		}, []string{"plugin", "reason"}),
		poolWaits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tremolo_wasm_pool_waits_total",
			Help: "Requests that found every instance of a plugin's pool in use and had to wait.",
		}, []string{"plugin"}),
		warmup: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tremolo_wasm_warmup_seconds",
			Help: "Time spent creating a plugin's warm instances when it was loaded.",
		}, []string{"plugin"}),
		bucketErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tremolo_wasm_bucket_errors_total",
			Help: "bucket_take calls the bucket store failed; the host let them through.",
		}, []string{"plugin"}),
		counters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tremolo_wasm_plugin_counter_total",
			Help: "Counters plugins add to with tremolo.counter_add, by plugin and name.",
		}, []string{"plugin", "name"}),
	}
	var err error
	m.calls, err = register(reg, m.calls, err)
	m.failures, err = register(reg, m.failures, err)
	m.duration, err = register(reg, m.duration, err)
	m.instances, err = register(reg, m.instances, err)
	m.created, err = register(reg, m.created, err)
	m.discarded, err = register(reg, m.discarded, err)
	m.poolWaits, err = register(reg, m.poolWaits, err)
	m.warmup, err = register(reg, m.warmup, err)
	m.bucketErrors, err = register(reg, m.bucketErrors, err)
	m.counters, err = register(reg, m.counters, err)
	return m, err
}

// register registers c, or returns the collector already registered under
// its name, so two Runtimes (or two tests) can share one registry. The first
// error is kept.
func register[C prometheus.Collector](reg prometheus.Registerer, c C, err error) (C, error) {
	if err != nil {
		return c, err
	}
	if rerr := reg.Register(c); rerr != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(rerr, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, rerr
	}
	return c, nil
}

// pluginMetrics are one plugin's series, resolved once at Load so a call
// does not look labels up.
type pluginMetrics struct {
	m                   *metrics
	name                string
	callsReq, callsResp prometheus.Counter
	durReq, durResp     prometheus.Observer
	failures            map[FailureKind]prometheus.Counter
	instances           prometheus.Gauge
	created             prometheus.Counter
	discarded           map[string]prometheus.Counter
	poolWaits           prometheus.Counter
	bucketErrors        prometheus.Counter
	countersMu          sync.Mutex
	counters            map[string]prometheus.Counter
	maxCounters         int
}

// maxCounterNames bounds the distinct counter_add names of a plugin; the
// names past it are added to the counter named "overflow".
const maxCounterNames = 32

func (m *metrics) forPlugin(name string) *pluginMetrics {
	pm := &pluginMetrics{
		m:            m,
		name:         name,
		callsReq:     m.calls.WithLabelValues(name, "request"),
		callsResp:    m.calls.WithLabelValues(name, "response"),
		durReq:       m.duration.WithLabelValues(name, "request"),
		durResp:      m.duration.WithLabelValues(name, "response"),
		failures:     make(map[FailureKind]prometheus.Counter, len(failureKinds)),
		instances:    m.instances.WithLabelValues(name),
		created:      m.created.WithLabelValues(name),
		discarded:    make(map[string]prometheus.Counter, 5),
		poolWaits:    m.poolWaits.WithLabelValues(name),
		bucketErrors: m.bucketErrors.WithLabelValues(name),
		counters:     make(map[string]prometheus.Counter),
		maxCounters:  maxCounterNames,
	}
	for _, k := range failureKinds {
		pm.failures[k] = m.failures.WithLabelValues(name, string(k))
	}
	for _, r := range []string{discardFailure, discardMaxCalls, discardMemory, discardClosed, discardRetired} {
		pm.discarded[r] = m.discarded.WithLabelValues(name, r)
	}
	return pm
}

// forget deletes the plugin's series, so a plugin that is unloaded does not
// leave stale series behind (and a reloaded one starts from zero).
func (pm *pluginMetrics) forget() {
	l := prometheus.Labels{"plugin": pm.name}
	pm.m.calls.DeletePartialMatch(l)
	pm.m.failures.DeletePartialMatch(l)
	pm.m.duration.DeletePartialMatch(l)
	pm.m.instances.DeletePartialMatch(l)
	pm.m.created.DeletePartialMatch(l)
	pm.m.discarded.DeletePartialMatch(l)
	pm.m.poolWaits.DeletePartialMatch(l)
	pm.m.warmup.DeletePartialMatch(l)
	pm.m.bucketErrors.DeletePartialMatch(l)
	pm.m.counters.DeletePartialMatch(l)
}

// counter returns the plugin's counter for a sanitised name, creating it
// if the plugin has fewer than maxCounters names.
func (pm *pluginMetrics) counter(name string) prometheus.Counter {
	pm.countersMu.Lock()
	defer pm.countersMu.Unlock()
	if c, ok := pm.counters[name]; ok {
		return c
	}
	if len(pm.counters) >= pm.maxCounters {
		name = "overflow"
		if c, ok := pm.counters[name]; ok {
			return c
		}
	}
	c := pm.m.counters.WithLabelValues(pm.name, name)
	pm.counters[name] = c
	return c
}

// maxCounterNameLen bounds a sanitised counter name.
const maxCounterNameLen = 64

// sanitizeCounterName maps a guest-chosen name to a label value: lower
// case letters, digits and underscores, at most maxCounterNameLen bytes.
// It returns "" for a name with nothing usable in it.
func sanitizeCounterName(name []byte) string {
	var b strings.Builder
	for _, c := range name {
		if b.Len() == maxCounterNameLen {
			break
		}
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
			b.WriteByte(c)
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		default:
			b.WriteByte('_')
		}
	}
	s := strings.Trim(b.String(), "_")
	return s
}
