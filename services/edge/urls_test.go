package edge

import (
	"context"
	"testing"

	"google.golang.org/grpc/metadata"

	appv1 "github.com/tremolo-dev/tremolo/gen/douyin/app/v1"
)

// The services return media paths; the app needs URLs it can fetch.
func TestAbsoluteMediaURLs(t *testing.T) {
	videos := func() []*appv1.Video {
		return []*appv1.Video{
			{PlayUrl: "/media/videos/1.mp4", CoverUrl: "/media/covers/1.jpg"},
			{PlayUrl: "https://cdn.example.com/2.mp4", CoverUrl: ""},
			{PlayUrl: "/media/videos/3.mp4", CoverUrl: "/media/covers/3.jpg"},
		}
	}
	for _, tc := range []struct {
		name, publicURL, host string
		want                  []string // play, cover of each video
	}{
		{"public URL", "https://douyin.example.com/", "", []string{
			"https://douyin.example.com/media/videos/1.mp4", "https://douyin.example.com/media/covers/1.jpg",
			"https://cdn.example.com/2.mp4", "",
			"https://douyin.example.com/media/videos/3.mp4", "https://douyin.example.com/media/covers/3.jpg"}},
		{"the Host the app used", "", "10.0.2.2:8080", []string{
			"http://10.0.2.2:8080/media/videos/1.mp4", "http://10.0.2.2:8080/media/covers/1.jpg",
			"https://cdn.example.com/2.mp4", "",
			"http://10.0.2.2:8080/media/videos/3.mp4", "http://10.0.2.2:8080/media/covers/3.jpg"}},
		{"a Host that is not one", "", "evil.com/x?", []string{
			"http://localhost:8080/media/videos/1.mp4", "http://localhost:8080/media/covers/1.jpg",
			"https://cdn.example.com/2.mp4", "",
			"http://localhost:8080/media/videos/3.mp4", "http://localhost:8080/media/covers/3.jpg"}},
	} {
		ctx := context.Background()
		if tc.host != "" {
			ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("x-forwarded-host", tc.host))
		}
		got := New(Config{PublicURL: tc.publicURL}, Clients{}).absolute(ctx, videos())
		for i, v := range got {
			if v.GetPlayUrl() != tc.want[2*i] || v.GetCoverUrl() != tc.want[2*i+1] {
				t.Errorf("%s: video %d: %q, %q; want %q, %q", tc.name, i, v.GetPlayUrl(), v.GetCoverUrl(), tc.want[2*i], tc.want[2*i+1])
			}
		}
	}
	if got := New(Config{}, Clients{}).absolute(context.Background(), nil); len(got) != 0 {
		t.Errorf("no videos: %v", got)
	}
}
