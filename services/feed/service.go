package feed

import (
	"context"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	appv1 "github.com/tremolo-dev/tremolo/gen/douyin/app/v1"
	commentv1 "github.com/tremolo-dev/tremolo/gen/douyin/comment/v1"
	favoritev1 "github.com/tremolo-dev/tremolo/gen/douyin/favorite/v1"
	feedv1 "github.com/tremolo-dev/tremolo/gen/douyin/feed/v1"
	relationv1 "github.com/tremolo-dev/tremolo/gen/douyin/relation/v1"
	userv1 "github.com/tremolo-dev/tremolo/gen/douyin/user/v1"
	videov1 "github.com/tremolo-dev/tremolo/gen/douyin/video/v1"
	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/changes"
	"github.com/tremolo-dev/tremolo/platform/server"
)

// Limits of the feed's requests.
const (
	PageSize = 30
	MaxBatch = 500
)

// Clients are the services the feed reads from.
type Clients struct {
	Users     userv1.UserServiceClient
	Videos    videov1.VideoServiceClient
	Favorites favoritev1.FavoriteServiceClient
	Comments  commentv1.CommentServiceClient
	Relations relationv1.RelationServiceClient
}

// Service implements feedv1.FeedServiceServer.
type Service struct {
	feedv1.UnimplementedFeedServiceServer
	c     Clients
	pages *pageCache // nil: no cache
}

// New returns the feed over its clients. A positive cfg.PageTTL shares the
// newest page between requests until it expires or ch (which may be nil)
// reports a write. It works without fx.
func New(c Clients, cfg Config, ch *changes.Counter) *Service {
	s := &Service{c: c}
	if cfg.PageTTL > 0 {
		s.pages = &pageCache{ttl: cfg.PageTTL, changes: ch, now: time.Now}
	}
	return s
}

// GetFeed returns the newest videos published before latest_time.
func (s *Service) GetFeed(ctx context.Context, req *feedv1.GetFeedRequest) (*feedv1.GetFeedResponse, error) {
	limit := req.GetLimit()
	if limit < 0 || limit > PageSize || req.GetLatestTime() < 0 {
		return nil, feedv1.ErrorInvalidArgument("limit must be 0-%d and latest_time not negative", PageSize)
	}
	if limit == 0 {
		limit = PageSize
	}
	before := req.GetLatestTime()
	if s.pages != nil && limit == PageSize {
		if p, err := s.newestPage(ctx, before); p != nil || err != nil {
			if err != nil {
				return nil, err
			}
			viewer, _ := auth.UserID(ctx)
			videos, err := s.forViewer(ctx, viewer, p)
			if err != nil {
				return nil, err
			}
			server.HandOff(ctx) // videos are fresh copies: the caller's to keep
			return &feedv1.GetFeedResponse{Videos: videos, NextTime: p.nextTime}, nil
		}
	}
	if before == 0 {
		before = time.Now().UnixMilli() + 1 // this millisecond included
	}
	videos, next, err := s.latest(ctx, before, limit)
	if err != nil {
		return nil, err
	}
	return &feedv1.GetFeedResponse{Videos: videos, NextTime: next}, nil
}

// newestPage returns the shared newest page when it answers a request for
// videos before "before" (0: now): from the cache, or built now when the
// request asks for the newest videos. It returns nil for an older page.
func (s *Service) newestPage(ctx context.Context, before int64) (*page, error) {
	if p := s.pages.newest(before); p != nil {
		return p, nil
	}
	if before != 0 && before < s.pages.now().UnixMilli() {
		return nil, nil // an older page: not shared
	}
	p, err := s.pages.load(ctx, s.newPage)
	if err != nil || (before != 0 && before < p.readAtMS) {
		return nil, err
	}
	return p, nil
}

// latest assembles the newest videos published before "before" (Unix ms)
// for the caller, and the time to ask for the next page.
func (s *Service) latest(ctx context.Context, before int64, limit int32) ([]*appv1.Video, int64, error) {
	latest, err := s.c.Videos.ListLatest(ctx, &videov1.ListLatestRequest{BeforeTime: before, Limit: limit})
	if err != nil {
		return nil, 0, err
	}
	videos, err := s.videos(ctx, latest.GetVideos())
	if err != nil {
		return nil, 0, err
	}
	var next int64
	if vs := latest.GetVideos(); len(vs) > 0 {
		next = vs[len(vs)-1].GetCreatedAt()
	}
	return videos, next, nil
}

// HydrateVideos returns the app's Video objects for ids, in their order.
func (s *Service) HydrateVideos(ctx context.Context, req *feedv1.HydrateVideosRequest) (*feedv1.HydrateVideosResponse, error) {
	ids, err := checkIDs(req.GetVideoIds())
	if err != nil || len(ids) == 0 {
		return &feedv1.HydrateVideosResponse{Videos: []*appv1.Video{}}, err
	}
	found, err := s.c.Videos.BatchGetVideos(ctx, &videov1.BatchGetVideosRequest{VideoIds: ids})
	if err != nil {
		return nil, err
	}
	ordered := make([]*videov1.Video, 0, len(ids))
	for _, id := range ids {
		if v, ok := found.GetVideos()[id]; ok {
			ordered = append(ordered, v)
		}
	}
	videos, err := s.videos(ctx, ordered)
	if err != nil {
		return nil, err
	}
	return &feedv1.HydrateVideosResponse{Videos: videos}, nil
}

// HydrateUsers returns the app's User objects for ids, in their order.
func (s *Service) HydrateUsers(ctx context.Context, req *feedv1.HydrateUsersRequest) (*feedv1.HydrateUsersResponse, error) {
	ids, err := checkIDs(req.GetUserIds())
	if err != nil {
		return nil, err
	}
	byID, err := s.users(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]*appv1.User, 0, len(ids))
	for _, id := range ids {
		if u, ok := byID[id]; ok {
			out = append(out, u)
		}
	}
	return &feedv1.HydrateUsersResponse{Users: out}, nil
}

// checkIDs refuses non-positive ids, drops repeated ids (keeping the first
// occurrence's position), then refuses more than MaxBatch distinct ids: a
// page of comments names its few authors many times.
func checkIDs(ids []int64) ([]int64, error) {
	seen := make(map[int64]bool, len(ids))
	out := make([]int64, 0, len(ids))
	for _, id := range ids {
		if id <= 0 {
			return nil, feedv1.ErrorInvalidArgument("ids must be positive, got %d", id)
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	if len(out) > MaxBatch {
		return nil, feedv1.ErrorTooManyIds("")
	}
	return out, nil
}

// videos assembles Video objects: the authors (four calls, see users), the
// like counts and the viewer's likes (one call) and the comment counts (one
// call), all at once.
func (s *Service) videos(ctx context.Context, vs []*videov1.Video) ([]*appv1.Video, error) {
	out := make([]*appv1.Video, 0, len(vs))
	if len(vs) == 0 {
		return out, nil
	}
	videoIDs := make([]int64, len(vs))
	var authorIDs []int64
	for i, v := range vs {
		videoIDs[i] = v.GetId()
		authorIDs = append(authorIDs, v.GetAuthorId())
	}
	slices.Sort(authorIDs)
	authorIDs = slices.Compact(authorIDs)

	var (
		authors  map[int64]*appv1.User
		likes    *favoritev1.BatchGetVideoStatsResponse
		comments *commentv1.BatchCountResponse
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { authors, err = s.users(gctx, authorIDs); return err })
	g.Go(func() (err error) {
		likes, err = s.c.Favorites.BatchGetVideoStats(gctx, &favoritev1.BatchGetVideoStatsRequest{VideoIds: videoIDs})
		return err
	})
	g.Go(func() (err error) {
		comments, err = s.c.Comments.BatchCount(gctx, &commentv1.BatchCountRequest{VideoIds: videoIDs})
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, v := range vs {
		author, ok := authors[v.GetAuthorId()]
		if !ok {
			// The author's account is gone; the video stays, authored by a stub.
			author = &appv1.User{Id: v.GetAuthorId()}
		}
		stats := likes.GetStats()[v.GetId()]
		out = append(out, &appv1.Video{
			Id:            v.GetId(),
			Author:        author,
			PlayUrl:       v.GetPlayPath(),
			CoverUrl:      v.GetCoverPath(),
			FavoriteCount: stats.GetFavoriteCount(),
			CommentCount:  comments.GetCounts()[v.GetId()],
			IsFavorite:    stats.GetIsFavorite(),
			Title:         v.GetTitle(),
		})
	}
	return out, nil
}

// users assembles User objects by id with four parallel calls: profiles
// (user), follow counts and the viewer's follows (relation), works (video),
// likes given and received (favorite). Unknown ids are absent.
func (s *Service) users(ctx context.Context, ids []int64) (map[int64]*appv1.User, error) {
	out := make(map[int64]*appv1.User, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var (
		profiles *userv1.BatchGetUsersResponse
		follows  *relationv1.BatchGetStatsResponse
		works    *videov1.CountWorksResponse
		likes    *favoritev1.BatchGetUserStatsResponse
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		profiles, err = s.c.Users.BatchGetUsers(gctx, &userv1.BatchGetUsersRequest{UserIds: ids})
		return err
	})
	g.Go(func() (err error) {
		follows, err = s.c.Relations.BatchGetStats(gctx, &relationv1.BatchGetStatsRequest{UserIds: ids})
		return err
	})
	g.Go(func() (err error) {
		works, err = s.c.Videos.CountWorks(gctx, &videov1.CountWorksRequest{UserIds: ids})
		return err
	})
	g.Go(func() (err error) {
		likes, err = s.c.Favorites.BatchGetUserStats(gctx, &favoritev1.BatchGetUserStatsRequest{UserIds: ids})
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("feed: assembling %d users: %w", len(ids), err)
	}
	for id, p := range profiles.GetUsers() {
		f := follows.GetStats()[id]
		l := likes.GetStats()[id]
		out[id] = &appv1.User{
			Id:              id,
			Name:            p.GetName(),
			FollowCount:     f.GetFollowCount(),
			FollowerCount:   f.GetFollowerCount(),
			IsFollow:        f.GetIsFollow(),
			Avatar:          p.GetAvatar(),
			BackgroundImage: p.GetBackgroundImage(),
			Signature:       p.GetSignature(),
			TotalFavorited:  l.GetTotalFavorited(),
			WorkCount:       works.GetCounts()[id],
			FavoriteCount:   l.GetFavoriteCount(),
		}
	}
	return out, nil
}
