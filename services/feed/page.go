package feed

import (
	"context"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	appv1 "github.com/tremolo-dev/tremolo/gen/douyin/app/v1"
	favoritev1 "github.com/tremolo-dev/tremolo/gen/douyin/favorite/v1"
	relationv1 "github.com/tremolo-dev/tremolo/gen/douyin/relation/v1"
	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/changes"
)

// page is the newest page of the feed as nobody in particular sees it: no
// video liked, no author followed. Everything in it is shared and read-only.
type page struct {
	videos    []*appv1.Video
	videoIDs  []int64
	authorIDs []int64 // distinct
	nextTime  int64
	// readAtMS is when the page's videos were listed (Unix ms): the page
	// answers a request for videos before any time from then on.
	readAtMS int64
	version  uint64    // the change counter's version before the first read
	expires  time.Time // monotonic
}

// pageCache shares the newest page between requests.
//
// The newest page is what almost every feed request asks for, and all of it
// but two flags per video is the same for every viewer. Assembling it costs
// seven calls and as many queries; with the cache a request costs two small
// queries, for the viewer's likes and follows, which are never cached. An
// entry lives until its TTL passes or the process's change counter moves (a
// like, comment, follow or upload in this process), so in the all-in-one
// process nobody sees a page older than their last action.
type pageCache struct {
	ttl     time.Duration
	changes *changes.Counter
	now     func() time.Time

	mu    sync.Mutex
	cur   *page
	build singleflight.Group
}

// newest returns the cached newest page if it answers "before" (0: now).
func (c *pageCache) newest(before int64) *page {
	c.mu.Lock()
	p := c.cur
	c.mu.Unlock()
	if p == nil || c.now().After(p.expires) || p.version != c.changes.Version() {
		return nil
	}
	if before != 0 && before < p.readAtMS {
		return nil // asks for an older page, which the newest does not answer
	}
	return p
}

// load returns the newest page, building it once however many requests
// miss at the same moment. The build runs apart from the request that
// started it: one viewer hanging up does not fail the others waiting.
func (c *pageCache) load(ctx context.Context, build func(context.Context, time.Time) (*page, error)) (*page, error) {
	ch := c.build.DoChan("newest", func() (any, error) {
		version := c.changes.Version()
		start := c.now()
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), buildTimeout)
		defer cancel()
		p, err := build(bctx, start)
		if err != nil {
			return nil, err
		}
		p.version = version
		p.expires = start.Add(c.ttl)
		c.mu.Lock()
		c.cur = p
		c.mu.Unlock()
		return p, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*page), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// buildTimeout bounds the assembly of a shared page: the feed's own
// default deadline.
const buildTimeout = 2 * time.Second

// newPage assembles the newest page before the time t for nobody.
func (s *Service) newPage(ctx context.Context, t time.Time) (*page, error) {
	ctx = auth.WithUser(ctx, 0) // nobody: no likes, no follows
	// Videos published up to now, this millisecond included: one published
	// just before the request must be on the page.
	before := t.UnixMilli() + 1
	videos, next, err := s.latest(ctx, before, PageSize)
	if err != nil {
		return nil, err
	}
	p := &page{videos: videos, nextTime: next, readAtMS: before, videoIDs: make([]int64, len(videos))}
	for i, v := range videos {
		p.videoIDs[i] = v.GetId()
		p.authorIDs = append(p.authorIDs, v.GetAuthor().GetId())
	}
	slices.Sort(p.authorIDs)
	p.authorIDs = slices.Compact(p.authorIDs)
	return p, nil
}

// forViewer returns p's videos as viewer sees them, with the viewer's likes
// and follows, read now. They are copies, the authors too (one per author,
// shared by their videos in the answer): the page's own objects are shared
// by every request, and the caller gets these to keep (GetFeed hands them
// off), a copy field by field being far cheaper than the channel's generic
// deep copy.
func (s *Service) forViewer(ctx context.Context, viewer int64, p *page) ([]*appv1.Video, error) {
	var liked, followed []int64
	if viewer != 0 && len(p.videos) > 0 {
		// One call after the other, on this goroutine: in one process both
		// are CPU work, which parallel goroutines would not finish sooner
		// (and each new goroutine grows its stack anew through the call
		// chain, a tenth of a page's CPU); across processes it costs one
		// extra round trip.
		l, err := s.c.Favorites.FilterLiked(ctx, &favoritev1.FilterLikedRequest{VideoIds: p.videoIDs})
		if err != nil {
			return nil, err
		}
		f, err := s.c.Relations.FilterFollowing(ctx, &relationv1.FilterFollowingRequest{UserIds: p.authorIDs})
		if err != nil {
			return nil, err
		}
		liked, followed = l.GetVideoIds(), f.GetUserIds()
	}
	// The copies live in two arrays, one allocation each rather than one
	// per message.
	videos := make([]appv1.Video, len(p.videos))
	users := make([]appv1.User, 0, len(p.authorIDs))
	authors := make(map[int64]*appv1.User, len(p.authorIDs))
	out := make([]*appv1.Video, len(p.videos))
	for i, v := range p.videos {
		a := v.GetAuthor()
		u, ok := authors[a.GetId()]
		if !ok {
			if len(users) < cap(users) {
				users = users[:len(users)+1]
				u = &users[len(users)-1]
			} else {
				u = new(appv1.User) // only if the page was built without this author in authorIDs
			}
			copyUser(u, a, slices.Contains(followed, a.GetId()))
			authors[a.GetId()] = u
		}
		out[i] = &videos[i]
		copyVideo(out[i], v, u, slices.Contains(liked, v.GetId()))
	}
	return out, nil
}

// copyUser makes dst a copy of u, followed by the viewer or not. It copies
// field by field, much faster than proto.Clone on every request;
// TestCopiesKeepEveryField fails when app.proto grows a field that is not
// copied here. dst must be a zero User.
func copyUser(dst, u *appv1.User, follow bool) {
	dst.Id = u.GetId()
	dst.Name = u.GetName()
	dst.FollowCount = u.GetFollowCount()
	dst.FollowerCount = u.GetFollowerCount()
	dst.IsFollow = follow
	dst.Avatar = u.GetAvatar()
	dst.BackgroundImage = u.GetBackgroundImage()
	dst.Signature = u.GetSignature()
	dst.TotalFavorited = u.GetTotalFavorited()
	dst.WorkCount = u.GetWorkCount()
	dst.FavoriteCount = u.GetFavoriteCount()
}

// copyVideo makes dst a copy of v by author, liked or not by the viewer.
// dst must be a zero Video.
func copyVideo(dst, v *appv1.Video, author *appv1.User, liked bool) {
	dst.Id = v.GetId()
	dst.Author = author
	dst.PlayUrl = v.GetPlayUrl()
	dst.CoverUrl = v.GetCoverUrl()
	dst.FavoriteCount = v.GetFavoriteCount()
	dst.CommentCount = v.GetCommentCount()
	dst.IsFavorite = liked
	dst.Title = v.GetTitle()
}
