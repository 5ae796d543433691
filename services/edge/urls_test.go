package edge

import (
	"context"
	"fmt"
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
		s := New(Config{PublicURL: tc.publicURL}, Clients{})
		// The second time, the URLs are the ones kept from the first.
		for _, pass := range []string{"made", "kept"} {
			for i, v := range s.absolute(ctx, videos()) {
				if v.GetPlayUrl() != tc.want[2*i] || v.GetCoverUrl() != tc.want[2*i+1] {
					t.Errorf("%s, %s: video %d: %q, %q; want %q, %q", tc.name, pass, i, v.GetPlayUrl(), v.GetCoverUrl(), tc.want[2*i], tc.want[2*i+1])
				}
			}
		}
	}
	if got := New(Config{}, Clients{}).absolute(context.Background(), nil); len(got) != 0 {
		t.Errorf("no videos: %v", got)
	}
}

// The URLs kept for a video are those of its paths under the host of the
// request: another host, or other paths, have URLs of their own.
func TestAbsoluteURLsKeptPerHostAndPaths(t *testing.T) {
	s := New(Config{}, Clients{})
	from := func(host string) context.Context {
		return metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-forwarded-host", host))
	}
	check := func(ctx context.Context, play, cover, wantPlay, wantCover string) {
		t.Helper()
		v := s.absolute(ctx, []*appv1.Video{{Id: 7, PlayUrl: play, CoverUrl: cover}})[0]
		if v.GetPlayUrl() != wantPlay || v.GetCoverUrl() != wantCover {
			t.Errorf("%q, %q; want %q, %q", v.GetPlayUrl(), v.GetCoverUrl(), wantPlay, wantCover)
		}
	}
	for range 2 {
		check(from("a.example:8080"), "/media/videos/7.mp4", "/media/covers/7.jpg", "http://a.example:8080/media/videos/7.mp4", "http://a.example:8080/media/covers/7.jpg")
		check(from("b.example"), "/media/videos/7.mp4", "/media/covers/7.jpg", "http://b.example/media/videos/7.mp4", "http://b.example/media/covers/7.jpg")
	}
	check(from("a.example:8080"), "/media/videos/7-v2.mp4", "/media/covers/7.jpg", "http://a.example:8080/media/videos/7-v2.mp4", "http://a.example:8080/media/covers/7.jpg")
	check(from("a.example:8080"), "/media/videos/7-v2.mp4", "", "http://a.example:8080/media/videos/7-v2.mp4", "")
}

// However many videos pass, the URLs kept stay bounded.
func TestAbsoluteURLsBounded(t *testing.T) {
	s := New(Config{PublicURL: "https://douyin.example.com"}, Clients{})
	for first := int64(0); first < 3*maxMediaURLs; first += 30 {
		page := make([]*appv1.Video, 30)
		for i := range page {
			id := first + int64(i)
			page[i] = &appv1.Video{Id: id, PlayUrl: fmt.Sprintf("/media/videos/%d.mp4", id)}
		}
		s.absolute(context.Background(), page)
		if want := fmt.Sprintf("https://douyin.example.com/media/videos/%d.mp4", first); page[0].GetPlayUrl() != want {
			t.Fatalf("play_url %q, want %q", page[0].GetPlayUrl(), want)
		}
	}
	if n := len(s.urls.videos); n == 0 || n > maxMediaURLs {
		t.Errorf("%d videos' URLs kept, want at most %d", n, maxMediaURLs)
	}
}

// BenchmarkAbsolute is the URLs of a feed page of 30 videos, under the
// Host the app used, as every feed request asks for them: the same videos
// as the request before.
func BenchmarkAbsolute(b *testing.B) {
	page := make([]*appv1.Video, 30)
	paths := make([][2]string, len(page))
	for i := range page {
		page[i] = &appv1.Video{Id: int64(1000 + i)}
		paths[i] = [2]string{fmt.Sprintf("/media/videos/%d.mp4", 1000+i), fmt.Sprintf("/media/covers/%d.jpg", 1000+i)}
	}
	s := New(Config{}, Clients{})
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-forwarded-host", "192.168.1.20:8080"))
	b.ReportAllocs()
	for b.Loop() {
		for i, v := range page {
			v.PlayUrl, v.CoverUrl = paths[i][0], paths[i][1]
		}
		s.absolute(ctx, page)
	}
}
