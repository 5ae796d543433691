package apierror

import (
	"testing"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// FuzzFromStatus decodes arbitrary statuses, as a client does with whatever a
// callee (or something pretending to be one) sends: it must never panic, and
// always yield a spec a caller can use.
func FuzzFromStatus(f *testing.F) {
	seed, _ := proto.Marshal(ToStatus(nameTaken.Err().WithMetadata("k", "v"), "zh-CN").Proto())
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		var p spb.Status
		if proto.Unmarshal(raw, &p) != nil {
			return
		}
		e, ok := FromError(status.FromProto(&p).Err())
		if p.GetCode() == 0 {
			return // an OK status is not an error: FromError(nil) is not called
		}
		if !ok || e.Spec() == nil || e.Spec().HTTPStatus < 400 {
			t.Fatalf("FromError(%v) = %v, %v", &p, e, ok)
		}
		_ = ToStatus(e, "")
	})
}

// FuzzLocalized reads Accept-Language headers, which come from any client.
func FuzzLocalized(f *testing.F) {
	f.Add("zh-CN,zh;q=0.9,en;q=0.8")
	f.Add(",;*-")
	f.Fuzz(func(t *testing.T, accept string) {
		tag, msg, ok := nameTaken.localized(accept)
		if ok && nameTaken.Localized[tag] != msg {
			t.Fatalf("localized(%q) = %q, %q: not a listed translation", accept, tag, msg)
		}
	})
}
