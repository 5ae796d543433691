package edge

import (
	"context"
	"net"
	"strings"
	"sync"

	appv1 "github.com/tremolo-dev/tremolo/gen/douyin/app/v1"
	"github.com/tremolo-dev/tremolo/platform/incoming"
)

// absolute turns the media paths the services return into URLs the app
// can fetch: under -public-url, or else the host the app reached us by.
// A video's URLs are made once per host and then reused (mediaURLs).
func (s *Service) absolute(ctx context.Context, videos []*appv1.Video) []*appv1.Video {
	var host string // the key of the URLs: the base is -public-url, or made of it
	if s.cfg.PublicURL == "" {
		host = requestHost(ctx)
	}
	missed := s.urls.reuse(host, videos)
	if len(missed) == 0 {
		return videos
	}
	base := s.cfg.PublicURL
	if base == "" {
		base = "http://" + host
	}
	made := makeURLs(strings.TrimSuffix(base, "/"), missed)
	for i, v := range missed {
		v.PlayUrl, v.CoverUrl = made[i].play, made[i].cover
	}
	s.urls.keep(host, missed, made)
	return videos
}

// mediaURLs remembers the URLs absolute made of each video's paths, by the
// host they were made for. The feed shares its newest page between
// viewers, so a feed request asks for the URLs of the same thirty videos
// as the requests before it until a video is published: made per request,
// they were 9% of the bytes the feed route allocated. It holds up to
// maxMediaURLs videos and starts afresh when full: the videos asked for
// again and again are back after one request.
type mediaURLs struct {
	mu     sync.RWMutex
	videos map[mediaKey]mediaURL
}

// maxMediaURLs bounds mediaURLs: about 200 bytes a video.
const maxMediaURLs = 4096

type mediaKey struct {
	host string // "" under -public-url
	id   int64
}

// mediaURL is a video's paths and the URLs made of them. It stands for the
// video only while the paths are the same.
type mediaURL struct {
	playPath, coverPath string
	play, cover         string
}

// reuse gives the videos whose URLs are kept for host those URLs, and
// returns the others, nil when there are none.
func (c *mediaURLs) reuse(host string, videos []*appv1.Video) (missed []*appv1.Video) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, v := range videos {
		u, ok := c.videos[mediaKey{host, v.GetId()}]
		if ok && u.playPath == v.GetPlayUrl() && u.coverPath == v.GetCoverUrl() {
			v.PlayUrl, v.CoverUrl = u.play, u.cover
			continue
		}
		missed = append(missed, v)
	}
	return missed
}

// keep remembers made, the URLs of videos for host.
func (c *mediaURLs) keep(host string, videos []*appv1.Video, made []mediaURL) {
	if len(made) > maxMediaURLs {
		return // a list longer than the whole cache: not worth it
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.videos == nil {
		c.videos = make(map[mediaKey]mediaURL)
	} else if len(c.videos)+len(made) > maxMediaURLs {
		clear(c.videos)
	}
	for i, v := range videos {
		c.videos[mediaKey{host, v.GetId()}] = made[i]
	}
}

// makeURLs makes the URLs of videos' paths under base. The URLs of all
// the videos are written into one string and each takes its substring:
// one allocation instead of two per video. A path that is not absolute
// (a URL, or empty) is its own URL.
func makeURLs(base string, videos []*appv1.Video) []mediaURL {
	n := 0
	for _, v := range videos {
		n += madeLen(base, v.GetPlayUrl()) + madeLen(base, v.GetCoverUrl())
	}
	var b strings.Builder
	b.Grow(n)
	for _, v := range videos {
		for _, p := range [...]string{v.GetPlayUrl(), v.GetCoverUrl()} {
			if madeLen(base, p) > 0 {
				b.WriteString(base)
				b.WriteString(p)
			}
		}
	}
	all := b.String()
	made := make([]mediaURL, len(videos))
	for i, v := range videos {
		u := &made[i]
		u.playPath, u.coverPath = v.GetPlayUrl(), v.GetCoverUrl()
		u.play, all = cut(all, base, u.playPath)
		u.cover, all = cut(all, base, u.coverPath)
	}
	return made
}

// madeLen is the length of the URL makeURLs writes for path p, 0 for a
// path that is its own URL.
func madeLen(base, p string) int {
	if strings.HasPrefix(p, "/") {
		return len(base) + len(p)
	}
	return 0
}

// cut returns the URL of path p, taken from the front of all when makeURLs
// wrote one for it, and the rest of all.
func cut(all, base, p string) (url, rest string) {
	n := madeLen(base, p)
	if n == 0 {
		return p, all
	}
	return all[:n], all[n:]
}

// requestHost returns the Host the app used (grpc-gateway passes it as
// x-forwarded-host), when it is a plausible host[:port].
func requestHost(ctx context.Context) string {
	if h := incoming.First(ctx, "x-forwarded-host"); validHost(h) {
		return h
	}
	return "localhost:8080"
}

func validHost(h string) bool {
	if h == "" || len(h) > 255 || strings.ContainsAny(h, "/\\@?#\"' ") {
		return false
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		host, port = h, ""
	}
	return host != "" && !strings.ContainsAny(port, ":[]")
}
