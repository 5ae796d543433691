package edge

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	appv1 "github.com/tremolo-dev/tremolo/gen/douyin/app/v1"
	edgev1 "github.com/tremolo-dev/tremolo/gen/douyin/edge/v1"
)

func TestMarshalFollowsTheAppContract(t *testing.T) {
	b, err := Marshaler{}.Marshal(&edgev1.FriendListResponse{UserList: []*appv1.FriendUser{{Id: 1 << 52, Name: "a", MsgType: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"status_code":0`, `"id":4503599627370496`, `"msgType":1`, `"message":""`, `"is_follow":false`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	b, _ = Marshaler{}.Marshal(&edgev1.FeedResponse{})
	if !strings.Contains(string(b), `"video_list":[]`) {
		t.Fatalf("empty list not []: %s", b)
	}
	b, _ = Marshaler{}.Marshal(&edgev1.GetUserResponse{})
	if !strings.Contains(string(b), `"user":null`) {
		t.Fatalf("unset message: %s", b)
	}
}

// FuzzWriteString checks the hand-written escaper against encoding/json:
// the same JSON value for every input, valid UTF-8 or not.
func FuzzWriteString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "<a&b>", "\x00\x1f\t\n\r", "é抖音", "\xff\xfe", "\u2028\u2029", "\b\f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b bytes.Buffer
		writeString(&b, s)
		want, _ := json.Marshal(s)
		if b.String() != string(want) {
			t.Fatalf("writeString(%q) = %s; encoding/json says %s", s, b.String(), want)
		}
	})
}
