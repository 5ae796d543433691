package discovery_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/tremolo-dev/tremolo/platform/discovery"
)

// A server registers its service; a client dials "tremolo:///<service>"
// with the registry's resolver and reaches it.
func ExampleNewResolverBuilder() {
	ctx := context.Background()
	reg := discovery.NewMemory() // discovery.NewEtcd in a fleet
	defer reg.Close()

	// The server side: serve, then register.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis)
	defer srv.Stop()
	addr := lis.Addr().String()
	withdraw, err := discovery.Announce(ctx, reg, discovery.Instance{
		Service: "greeter", ID: discovery.DefaultID(addr), Addr: addr, Version: "1.0.0",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer withdraw(ctx)

	// The client side: the resolver per connection, round robin over the
	// instances.
	conn, err := grpc.NewClient("tremolo:///greeter",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithResolvers(discovery.NewResolverBuilder(reg, nil)),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.GetStatus())
	// Output: SERVING
}
