package server

import (
	"context"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.uber.org/fx"
	"google.golang.org/grpc"

	"github.com/tremolo-dev/tremolo/platform/rpc"
)

// ServicesGroup is the fx value group generated modules add their Service to.
const ServicesGroup = "tremolo.services"

// Service is one gRPC service to run: what protoc-gen-go-fx's module
// contributes for each service of a .proto file.
type Service struct {
	// Name is the service's short name ("user"): what the process
	// registers it under in discovery and what clients ask for.
	Name string
	// Desc and Impl are what grpc.Server.RegisterService takes.
	Desc *grpc.ServiceDesc
	Impl any
	// Methods are the service's methods as their options declare them; the
	// server applies their timeouts.
	Methods []rpc.Method
	// Unary and Stream are interceptors scoped to this service (its metrics):
	// the server runs them for this service's methods only, after the
	// platform's request-id interceptor and before error conversion.
	Unary  []grpc.UnaryServerInterceptor
	Stream []grpc.StreamServerInterceptor
	// RegisterGateway registers the service's REST handlers (grpc-gateway)
	// on mux, calling the service through conn so that REST requests go
	// through the same interceptors as gRPC ones. Nil for services without
	// google.api.http bindings.
	RegisterGateway func(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error
}

// ServiceResult adds a Service to ServicesGroup; generated constructors
// return it.
type ServiceResult struct {
	fx.Out

	Service Service `group:"tremolo.services"`
}
