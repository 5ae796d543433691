package edge

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

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

// FuzzAppendString checks the hand-written escaper against encoding/json:
// the same JSON value for every input, valid UTF-8 or not.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "<a&b>", "\x00\x1f\t\n\r", "é抖音", "\xff\xfe", "\u2028\u2029", "\b\f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendString([]byte("prefix"), s)
		want, _ := json.Marshal(s)
		if string(b) != "prefix"+string(want) {
			t.Fatalf("appendString(%q) = %s; encoding/json says %s", s, b, want)
		}
	})
}

// appendFields writes m through reflection only, as messages without a
// hand-written writer are.
func appendFields(b []byte, m protoreflect.Message) []byte {
	var users userMemo
	return users.fields(b, m)
}

// TestFastPathsMatchReflection fills every field of the messages with a
// hand-written writer and compares with the reflective one, so that a field
// added to app.proto cannot go missing from the app's JSON.
func TestFastPathsMatchReflection(t *testing.T) {
	for _, m := range []proto.Message{&appv1.Video{}, &appv1.User{}, &appv1.Video{Author: &appv1.User{}}} {
		fillAll(m.ProtoReflect(), 1)
		got := string(appendMessage(nil, m.ProtoReflect()))
		want := string(appendFields(nil, m.ProtoReflect()))
		if got != want {
			t.Errorf("%T:\nfast path  %s\nreflection %s", m, got, want)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(got), &v); err != nil {
			t.Errorf("%T: not JSON: %v: %s", m, err, got)
		}
	}
	// Without an author, "author" is null as the reflective writer has it.
	v := &appv1.Video{Id: 1}
	if got, want := string(appendMessage(nil, v.ProtoReflect())), string(appendFields(nil, v.ProtoReflect())); got != want {
		t.Errorf("video without author:\nfast path  %s\nreflection %s", got, want)
	}
}

// fillAll sets every scalar field of m to a distinct non-zero value (strings
// needing escapes included) and every message field to a filled message.
func fillAll(m protoreflect.Message, seed int) {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		n := seed*100 + i + 1
		switch fd.Kind() {
		case protoreflect.MessageKind:
			if !fd.IsList() && !fd.IsMap() {
				fillAll(m.Mutable(fd).Message(), seed+1)
			}
		case protoreflect.StringKind:
			m.Set(fd, protoreflect.ValueOfString(fmt.Sprintf("s<%d>\"é\n", n)))
		case protoreflect.BoolKind:
			m.Set(fd, protoreflect.ValueOfBool(true))
		case protoreflect.Int64Kind:
			m.Set(fd, protoreflect.ValueOfInt64(int64(n)<<40))
		case protoreflect.Int32Kind:
			m.Set(fd, protoreflect.ValueOfInt32(int32(n)))
		default:
			panic(fmt.Sprintf("fillAll: %s is a %s: teach fillAll and the fast paths about it", fd.FullName(), fd.Kind()))
		}
	}
}

// BenchmarkAppendString writes the strings of a feed page: media URLs,
// titles and names, plain ASCII but for some CJK and an escaped quote.
func BenchmarkAppendString(b *testing.B) {
	strs := []string{
		"http://127.0.0.1:8080/douyin/media/videos/244327501639680.mp4",
		"http://127.0.0.1:8080/douyin/media/covers/244327501639680.jpg",
		"A day at the beach, with friends", "抖音 demo video 7", `say "hi"`, "user-42",
	}
	n := 0
	for _, s := range strs {
		n += len(s)
	}
	buf := make([]byte, 0, 4096)
	b.SetBytes(int64(n))
	for b.Loop() {
		buf = buf[:0]
		for _, s := range strs {
			buf = appendString(buf, s)
		}
	}
}

// sharedAuthors is a feed page as the feed service builds it: 30 videos
// by six authors, each author one message shared by their videos (fresh
// makes a copy of the author for every video instead).
func sharedAuthors(fresh bool) *edgev1.FeedResponse {
	authors := make([]*appv1.User, 6)
	for i := range authors {
		authors[i] = &appv1.User{Id: int64(100 + i), Name: fmt.Sprintf("author \"%d\"", i), FollowCount: 3, IsFollow: i%2 == 0,
			Avatar: "http://127.0.0.1:8080/douyin/media/avatars/a.jpg", Signature: "签名", TotalFavorited: 7}
	}
	page := &edgev1.FeedResponse{NextTime: 1700000000000}
	for i := range 30 {
		a := authors[i%len(authors)]
		if fresh {
			a = proto.Clone(a).(*appv1.User)
		}
		page.VideoList = append(page.VideoList, &appv1.Video{Id: int64(i), Author: a, Title: fmt.Sprintf("video %d", i),
			PlayUrl: "http://127.0.0.1:8080/douyin/media/videos/v.mp4", CoverUrl: "http://127.0.0.1:8080/douyin/media/covers/c.jpg", IsFavorite: i%3 == 0})
	}
	return page
}

// A user met again is copied from where it was written: the bytes are
// those of encoding it again, with more distinct users than are remembered
// too.
func TestRepeatedUsersSameJSON(t *testing.T) {
	for _, page := range []*edgev1.FeedResponse{sharedAuthors(false), feedPage(30, "x")} {
		want := string(appendMessage(nil, proto.Clone(page).ProtoReflect()))
		var fresh edgev1.FeedResponse
		proto.Merge(&fresh, page)
		for _, v := range fresh.VideoList {
			v.Author = proto.Clone(v.Author).(*appv1.User)
		}
		if got := string(appendMessage(nil, fresh.ProtoReflect())); got != want {
			t.Fatalf("shared authors:\n%s\nauthor per video:\n%s", want, got)
		}
	}
	many := sharedAuthors(false)
	for i, v := range many.VideoList {
		v.Author = &appv1.User{Id: int64(i), Name: fmt.Sprint(i)}
	}
	many.VideoList = append(many.VideoList, many.VideoList...) // 30 distinct users, each twice
	got := string(appendMessage(nil, many.ProtoReflect()))
	for i := range 30 {
		if n := strings.Count(got, fmt.Sprintf(`{"id":%d,"name":"%d",`, i, i)); n != 2 {
			t.Fatalf("user %d written %d times, want 2", i, n)
		}
	}
}

// BenchmarkMarshalFeedPage encodes a feed page whose authors are shared by
// their videos, as the feed builds it, and one with an author per video.
func BenchmarkMarshalFeedPage(b *testing.B) {
	for _, c := range []struct {
		name  string
		fresh bool
	}{{"shared-authors", false}, {"author-per-video", true}} {
		b.Run(c.name, func(b *testing.B) {
			m := sharedAuthors(c.fresh).ProtoReflect()
			buf := make([]byte, 0, 32<<10)
			b.ReportAllocs()
			for b.Loop() {
				buf = appendMessage(buf[:0], m)
			}
		})
	}
}
