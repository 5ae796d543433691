package auth

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/rpc"
)

// The server interceptor takes the user from the metadata; a handler's
// context that holds a verified user already (a REST request's own, in
// process) keeps it; without either, an AUTH_USER method is refused and a
// public one runs for nobody.
func TestUnaryServerInterceptor(t *testing.T) {
	const private, public = "/t.v1.S/Private", "/t.v1.S/Public"
	table, err := rpc.NewTable([]rpc.Method{
		{FullMethod: private, Type: rpc.Unary, Auth: rpc.AuthUser},
		{FullMethod: public, Type: rpc.Unary, Auth: rpc.AuthPublic},
	})
	if err != nil {
		t.Fatal(err)
	}
	icpt := UnaryServerInterceptor(table)
	call := func(ctx context.Context, method string) (int64, error) {
		var got int64
		_, err := icpt(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method}, func(ctx context.Context, _ any) (any, error) {
			got, _ = UserID(ctx)
			return nil, nil
		})
		return got, err
	}
	fromMD := metadata.NewIncomingContext(context.Background(), metadata.Pairs(MetadataKey, "7"))
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		method string
		want   int64
		code   codes.Code
	}{
		{"metadata", fromMD, private, 7, codes.OK},
		{"context", WithUser(context.Background(), 9), private, 9, codes.OK},
		{"metadata over context", WithUser(fromMD, 9), private, 7, codes.OK},
		{"nobody, private", context.Background(), private, 0, codes.Unauthenticated},
		{"nobody, public", context.Background(), public, 0, codes.OK},
		{"user 0 is nobody", WithUser(context.Background(), 0), private, 0, codes.Unauthenticated},
	} {
		got, err := call(tc.ctx, tc.method)
		if code, _ := apierror.CodeAndReason(err); code != tc.code || got != tc.want {
			t.Errorf("%s: user %d, code %v; want %d, %v", tc.name, got, code, tc.want, tc.code)
		}
	}
}
