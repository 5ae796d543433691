package edge

import (
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	edgev1 "github.com/tremolo-dev/tremolo/gen/douyin/edge/v1"
	"github.com/tremolo-dev/tremolo/platform/rpc"
)

// route is one of the app's HTTP routes, read from the edge proto's
// google.api.http bindings so that the proto stays the only list of routes.
type route struct {
	method   rpc.Method
	httpVerb string
	// response is the method's (empty) response type: failures are written
	// as one of these with status_code and status_msg set, so that the
	// route's other fields (lists, token, user_id) are present on failure too.
	response protoreflect.MessageType
}

// routes maps a path without its trailing '/' to its route.
var routes = mustRoutes()

// publishPath is served by the multipart handler, not the gateway.
const publishPath = "/douyin/publish/action"

func mustRoutes() map[string]route {
	byMethod := map[string]rpc.Method{}
	for _, m := range edgev1.DouyinServiceMethods {
		byMethod[m.FullMethod] = m
	}
	sd := edgev1.File_douyin_edge_v1_edge_proto.Services().ByName("DouyinService")
	out := map[string]route{}
	for i := 0; i < sd.Methods().Len(); i++ {
		md := sd.Methods().Get(i)
		rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
		verb, path := "GET", rule.GetGet()
		if p := rule.GetPost(); p != "" {
			verb, path = "POST", p
		}
		mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
		if err != nil || path == "" {
			panic(fmt.Sprintf("edge: method %s: no HTTP binding or response type: %v", md.FullName(), err))
		}
		full := fmt.Sprintf("/%s/%s", sd.FullName(), md.Name())
		out[path] = route{method: byMethod[full], httpVerb: verb, response: mt}
	}
	// Publish is multipart, outside grpc-gateway, but answers like the rest.
	out[publishPath] = route{
		method:   rpc.Method{FullMethod: "/douyin.edge.v1.DouyinService/PublishAction", Auth: rpc.AuthUser},
		httpVerb: "POST",
		response: (&edgev1.FavoriteActionResponse{}).ProtoReflect().Type(), // {status_code, status_msg}
	}
	return out
}

// trimSlash returns the path the routes table uses.
func trimSlash(p string) string {
	if len(p) > 1 {
		return strings.TrimSuffix(p, "/")
	}
	return p
}
