package errorsgen

import (
	"google.golang.org/grpc/codes"

	"github.com/tremolo-dev/tremolo/platform/apierror"
)

// platformSpecs returns the platform's own error specs, one per non-OK gRPC
// code, from apierror.Platform: the catalog lists them so that it covers
// every business code a client can see.
func platformSpecs() []*apierror.Spec {
	var out []*apierror.Spec
	for c := codes.Canceled; c <= codes.Unauthenticated; c++ {
		if s := apierror.Platform(c); s != nil {
			out = append(out, s)
		}
	}
	return out
}
