package server

import (
	"context"

	"google.golang.org/grpc"
)

// HandOff tells an in-process caller that the handler keeps no reference to
// the response it is about to return, nor to any message, list or map
// inside it: the LocalChannel may then give the caller the response itself
// instead of a deep copy. A handler that builds its response afresh for each
// call calls it; one that returns messages it also keeps (a cache, a shared
// page) must not, since the caller may modify what it receives.
//
// Over the network HandOff does nothing: the response is encoded anyway. A
// large response (a feed page of 30 videos and their authors) is where the
// copy costs: several microseconds of reflection per call.
func HandOff(ctx context.Context) {
	if st, ok := grpc.ServerTransportStreamFromContext(ctx).(*localStream); ok {
		st.handOff = true
	}
}
