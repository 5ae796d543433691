package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/tremolo-dev/tremolo/platform/metrics"
	"github.com/tremolo-dev/tremolo/platform/requestid"
	"github.com/tremolo-dev/tremolo/platform/rpc"
)

// Server is a process's gRPC server and HTTP server. Create it with New,
// then Start and Stop it (the fx Module does both).
type Server struct {
	cfg      Config
	logger   *slog.Logger
	services []Service
	onFail   func(error)

	grpc    *grpc.Server
	health  *health.Server
	gateway *runtime.ServeMux
	mux     *http.ServeMux
	http    *http.Server

	ready    atomic.Bool
	local    *LocalAddress // set once both listeners are bound
	channel  *LocalChannel
	grpcAddr net.Addr
	httpAddr net.Addr
	self     *grpc.ClientConn
	serving  sync.WaitGroup
}

// Options are New's optional inputs.
type Options struct {
	// Gatherer is served on /metrics; nil serves nothing there.
	Gatherer prometheus.Gatherer
	// OnServeError is called when a listener fails after start (the fx
	// module shuts the app down). Nil only logs.
	OnServeError func(error)
	// Handlers are extra HTTP handlers. Two with conflicting patterns make
	// New fail, rather than one silently hiding the other.
	Handlers []Handler
	// Local receives the gRPC address once the server listens; nil makes one.
	Local *LocalAddress
	// Channel is made to serve this server's services in-process; nil
	// makes one (see Server.Channel).
	Channel *LocalChannel
	// Interceptors run on every call, in-process ones included.
	Interceptors Interceptors
}

// Interceptors are what the governance modules add to every call a server
// takes, in two places of the chain (see the package comment):
//
//   - Unary and Stream run early, after the request id and routing
//     attributes are read and before anything else: tracing, whose span
//     must cover the whole call. Unary does not run for the gateway's
//     entry calls (LocalChannel.Entry), which the HTTP layer's own
//     middlewares (platform/tracing's, say) already cover.
//   - GuardUnary and GuardStream run late, after metrics, error
//     conversion and panic recovery, before auth and the method's deadline:
//     load shedding and fault injection, whose refusals are measured,
//     logged and converted like any other error.
type Interceptors struct {
	Unary       []grpc.UnaryServerInterceptor
	Stream      []grpc.StreamServerInterceptor
	GuardUnary  []grpc.UnaryServerInterceptor
	GuardStream []grpc.StreamServerInterceptor
}

// New builds the servers for services; nothing listens until Start.
func New(cfg Config, logger *slog.Logger, services []Service, opts Options) (*Server, error) {
	var methods [][]rpc.Method
	for _, s := range services {
		if s.Desc == nil || s.Impl == nil {
			return nil, errors.New("server: a Service needs Desc and Impl")
		}
		methods = append(methods, s.Methods)
	}
	table, err := rpc.NewTable(methods...)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	chains := chain(logger, table, services, opts.Interceptors)
	s := &Server{
		cfg:      cfg,
		logger:   logger,
		services: services,
		onFail:   opts.OnServeError,
		grpc:     grpc.NewServer(grpc.ChainUnaryInterceptor(chains.unary...), grpc.ChainStreamInterceptor(chains.stream...)),
		health:   health.NewServer(),
		gateway:  NewGateway(),
		mux:      http.NewServeMux(),
		local:    opts.Local,
		channel:  opts.Channel,
	}
	if s.local == nil {
		s.local = NewLocalAddress()
	}
	if s.channel == nil {
		s.channel = NewLocalChannel()
	}
	s.channel.serve(services, chains)
	for _, svc := range services {
		s.grpc.RegisterService(svc.Desc, svc.Impl)
		s.health.SetServingStatus(svc.Desc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)

	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	s.mux.HandleFunc("GET /readyz", s.serveReady)
	if opts.Gatherer != nil {
		s.mux.Handle("GET /metrics", metrics.Handler(opts.Gatherer))
	}
	if cfg.Pprof {
		s.mux.HandleFunc("/debug/pprof/", pprof.Index)
		s.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		s.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		s.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		s.mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	}
	for _, h := range opts.Handlers {
		if err := handle(s.mux, h.Pattern, h.Handler); err != nil {
			return nil, err
		}
	}
	var gateway http.Handler = s.gateway
	if cfg.MaxBodyBytes > 0 {
		gateway = http.MaxBytesHandler(gateway, cfg.MaxBodyBytes)
	}
	s.mux.Handle("/", gateway)
	s.http = &http.Server{
		Handler:           requestid.Middleware(s.mux),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

func (s *Server) serveReady(w http.ResponseWriter, _ *http.Request) {
	if !s.ready.Load() {
		http.Error(w, "not ready\n", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// GRPCServer returns the underlying gRPC server (e.g. to register a service
// by hand in tests).
func (s *Server) GRPCServer() *grpc.Server { return s.grpc }

// Start binds both listeners, then serves in the background. A bind failure
// (a port in use) is returned, and nothing is left listening.
func (s *Server) Start(ctx context.Context) error {
	var lc net.ListenConfig
	gl, err := lc.Listen(ctx, "tcp", s.cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("server: gRPC listener on %s: %w", s.cfg.GRPCAddr, err)
	}
	hl, err := lc.Listen(ctx, "tcp", s.cfg.HTTPAddr)
	if err != nil {
		_ = gl.Close()
		return fmt.Errorf("server: HTTP listener on %s: %w", s.cfg.HTTPAddr, err)
	}
	s.grpcAddr, s.httpAddr = gl.Addr(), hl.Addr()

	// REST handlers call the services through this process's own gRPC
	// server, so they pass the same interceptors as gRPC calls.
	s.self, err = grpc.NewClient("passthrough:///"+dialable(s.grpcAddr), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		_, _ = gl.Close(), hl.Close()
		return fmt.Errorf("server: connecting the gateway to %s: %w", s.grpcAddr, err)
	}
	for _, svc := range s.services {
		if svc.RegisterGateway == nil {
			continue
		}
		if err := svc.RegisterGateway(context.Background(), s.gateway, s.self); err != nil {
			_, _, _ = gl.Close(), hl.Close(), s.self.Close()
			return fmt.Errorf("server: REST handlers of %s: %w", svc.Desc.ServiceName, err)
		}
	}

	s.serve("gRPC", func() error { return s.grpc.Serve(gl) })
	s.serve("HTTP", func() error {
		if err := s.http.Serve(hl); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	s.local.Set(dialable(s.grpcAddr))
	for _, svc := range s.services {
		s.health.SetServingStatus(svc.Desc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.ready.Store(true)
	s.logger.InfoContext(ctx, "serving", slog.String("grpc", s.grpcAddr.String()), slog.String("http", s.httpAddr.String()), slog.Int("services", len(s.services)))
	return nil
}

func (s *Server) serve(name string, run func() error) {
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		if err := run(); err != nil {
			err = fmt.Errorf("server: %s server failed: %w", name, err)
			s.logger.Error(err.Error())
			if s.onFail != nil {
				s.onFail(err)
			}
		}
	}()
}

// Stop reports not-ready, keeps serving for the drain delay, then stops
// both servers gracefully until ctx's deadline and forcefully after it.
func (s *Server) Stop(ctx context.Context) error {
	s.ready.Store(false)
	s.health.Shutdown()
	if s.cfg.DrainDelay > 0 {
		select {
		case <-time.After(s.cfg.DrainDelay):
		case <-ctx.Done():
		}
	}
	if s.cfg.ShutdownTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
		defer cancel()
	}
	// Past the budget, requests still running (or connections that never
	// sent one) are cut: that is the documented end of a graceful stop, as
	// for gRPC below, not a failure of it.
	var httpErr error
	if err := s.http.Shutdown(ctx); err != nil {
		s.logger.Warn("graceful HTTP stop timed out; closing the remaining connections", slog.Any("error", err))
		if cerr := s.http.Close(); cerr != nil {
			httpErr = fmt.Errorf("server: closing HTTP connections: %w", cerr)
		}
	}
	if err := s.channel.close(ctx); err != nil {
		s.logger.Warn("in-process calls still running at the end of the graceful stop", slog.Any("error", err))
	}
	done := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.logger.Warn("graceful stop timed out; cancelling in-flight RPCs")
		s.grpc.Stop()
		<-done
	}
	var selfErr error
	if s.self != nil {
		selfErr = s.self.Close()
	}
	s.serving.Wait()
	return errors.Join(httpErr, selfErr)
}

// Services returns the services the server runs.
func (s *Server) Services() []Service { return s.services }

// GRPCAddr returns the bound gRPC address (nil before Start).
func (s *Server) GRPCAddr() net.Addr { return s.grpcAddr }

// HTTPAddr returns the bound HTTP address (nil before Start).
func (s *Server) HTTPAddr() net.Addr { return s.httpAddr }

// LocalAddr waits until the server listens and returns a dialable gRPC
// address.
func (s *Server) LocalAddr(ctx context.Context) (string, error) { return s.local.Wait(ctx) }

// dialable turns a wildcard listen address into a loopback one.
func dialable(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	if tcp.IP.To4() != nil {
		return net.JoinHostPort("127.0.0.1", fmt.Sprint(tcp.Port))
	}
	return net.JoinHostPort("::1", fmt.Sprint(tcp.Port))
}

// handle registers h, turning http.ServeMux's panic on a bad or conflicting
// pattern (two modules serving /media/, say) into an error for start-up.
func handle(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("server: HTTP handler %q: %v", pattern, p)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}
