// Package metrics records RED (rate, errors, duration) and saturation metrics
// for gRPC servers with Prometheus client_golang, and serves them.
//
// The series are created up front, one set per method, from the method
// inventory protoc-gen-go-metrics generates: a dashboard shows every method
// (at zero) before its first call, and the request path never builds label
// sets for the common outcome. Labels are bounded: service, method and type
// are fixed per method, the code is one of gRPC's 17, and the reason is one
// of the errors registered for the service (or empty).
//
// Metric names are those of go-grpc-middleware's prometheus provider, so
// existing dashboards keep working:
//
//	grpc_server_started_total{grpc_type,grpc_service,grpc_method}
//	grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code,reason}
//	grpc_server_handling_seconds{grpc_type,grpc_service,grpc_method,outcome}
//	grpc_server_msg_received_total{grpc_type,grpc_service,grpc_method}
//	grpc_server_msg_sent_total{grpc_type,grpc_service,grpc_method}
//
// Tremolo adds two labels the provider does not have (reason on the handled
// counter, outcome on the histogram) and one saturation gauge:
//
//	tremolo_grpc_server_in_flight_requests{grpc_type,grpc_service,grpc_method}
package metrics
