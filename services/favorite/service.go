package favorite

import (
	"context"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc/codes"

	favoritev1 "github.com/tremolo-dev/tremolo/gen/douyin/favorite/v1"
	videov1 "github.com/tremolo-dev/tremolo/gen/douyin/video/v1"
	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/changes"
	"github.com/tremolo-dev/tremolo/services/favorite/internal/store"
)

// MaxBatch is the most distinct ids a batch call accepts.
const MaxBatch = 500

// Service implements favoritev1.FavoriteServiceServer.
type Service struct {
	favoritev1.UnimplementedFavoriteServiceServer

	store  *store.Store
	videos videov1.VideoServiceClient
	now    func() time.Time
	// changes hears of each committed write; nil when nobody listens.
	changes *changes.Counter
}

// New returns the service over its store and a client of the video service.
// It works without fx.
func New(st *store.Store, videos videov1.VideoServiceClient) *Service {
	return &Service{store: st, videos: videos, now: time.Now}
}

// ReportChanges makes the service tell c of each committed write, so that
// the process's caches (the feed's shared page) drop what it made stale.
func (s *Service) ReportChanges(c *changes.Counter) *Service {
	s.changes = c
	return s
}

// Like makes the caller like a video. The video must exist; liking it again
// changes nothing.
func (s *Service) Like(ctx context.Context, req *favoritev1.LikeRequest) (*favoritev1.LikeResponse, error) {
	user, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	videoID := req.GetVideoId()
	if videoID <= 0 {
		return nil, favoritev1.ErrorInvalidId("")
	}
	author, err := s.authorOf(ctx, videoID)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.Like(ctx, user, videoID, author, s.now()); err != nil {
		return nil, apierror.Internal(fmt.Errorf("favorite: like: %w", err))
	}
	s.changes.Changed()
	return &favoritev1.LikeResponse{}, nil
}

// Unlike removes the caller's like of a video, if there is one. It does not
// ask the video service: unliking an unknown video is a no-op like any other.
func (s *Service) Unlike(ctx context.Context, req *favoritev1.UnlikeRequest) (*favoritev1.UnlikeResponse, error) {
	user, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetVideoId() <= 0 {
		return nil, favoritev1.ErrorInvalidId("")
	}
	if _, err := s.store.Unlike(ctx, user, req.GetVideoId()); err != nil {
		return nil, apierror.Internal(fmt.Errorf("favorite: unlike: %w", err))
	}
	s.changes.Changed()
	return &favoritev1.UnlikeResponse{}, nil
}

// ListLiked returns the videos a user liked, most recent like first.
func (s *Service) ListLiked(ctx context.Context, req *favoritev1.ListLikedRequest) (*favoritev1.ListLikedResponse, error) {
	if req.GetUserId() <= 0 {
		return nil, favoritev1.ErrorInvalidId("")
	}
	ids, err := s.store.Liked(ctx, req.GetUserId())
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("favorite: list liked: %w", err))
	}
	return &favoritev1.ListLikedResponse{VideoIds: ids}, nil
}

// BatchGetVideoStats returns the like count of every requested video and
// whether the caller, when there is one, likes it.
func (s *Service) BatchGetVideoStats(ctx context.Context, req *favoritev1.BatchGetVideoStatsRequest) (*favoritev1.BatchGetVideoStatsResponse, error) {
	ids, err := batchIDs(req.GetVideoIds())
	if err != nil {
		return nil, err
	}
	caller, _ := auth.UserID(ctx) // 0 when anonymous: nobody likes as user 0
	stats, err := s.store.VideoStats(ctx, caller, ids)
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("favorite: video stats: %w", err))
	}
	out := make(map[int64]*favoritev1.VideoStats, len(stats))
	for id, st := range stats {
		out[id] = &favoritev1.VideoStats{FavoriteCount: st.FavoriteCount, IsFavorite: st.IsFavorite}
	}
	return &favoritev1.BatchGetVideoStatsResponse{Stats: out}, nil
}

// FilterLiked returns which of the requested videos the caller liked.
func (s *Service) FilterLiked(ctx context.Context, req *favoritev1.FilterLikedRequest) (*favoritev1.FilterLikedResponse, error) {
	ids, err := batchIDs(req.GetVideoIds())
	if err != nil {
		return nil, err
	}
	caller, ok := auth.UserID(ctx)
	if !ok || len(ids) == 0 {
		return &favoritev1.FilterLikedResponse{VideoIds: []int64{}}, nil
	}
	liked, err := s.store.LikedAmong(ctx, caller, ids)
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("favorite: likes of user %d: %w", caller, err))
	}
	return &favoritev1.FilterLikedResponse{VideoIds: liked}, nil
}

// BatchGetUserStats returns, for every requested user, the likes given and
// the likes their videos received.
func (s *Service) BatchGetUserStats(ctx context.Context, req *favoritev1.BatchGetUserStatsRequest) (*favoritev1.BatchGetUserStatsResponse, error) {
	ids, err := batchIDs(req.GetUserIds())
	if err != nil {
		return nil, err
	}
	stats, err := s.store.UserStats(ctx, ids)
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("favorite: user stats: %w", err))
	}
	out := make(map[int64]*favoritev1.UserStats, len(stats))
	for id, st := range stats {
		out[id] = &favoritev1.UserStats{FavoriteCount: st.FavoriteCount, TotalFavorited: st.TotalFavorited}
	}
	return &favoritev1.BatchGetUserStatsResponse{Stats: out}, nil
}

// batchIDs returns the distinct ids of a batch request, sorted, or the
// request's error: more than MaxBatch distinct ids, or one not positive.
func batchIDs(in []int64) ([]int64, error) {
	ids := slices.Clone(in)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) > MaxBatch {
		return nil, favoritev1.ErrorTooManyIds("")
	}
	if len(ids) > 0 && ids[0] <= 0 {
		return nil, favoritev1.ErrorInvalidId("")
	}
	return ids, nil
}

// authorOf asks the video service, in one call, for the author of a video.
func (s *Service) authorOf(ctx context.Context, videoID int64) (int64, error) {
	resp, err := s.videos.BatchGetVideos(ctx, &videov1.BatchGetVideosRequest{VideoIds: []int64{videoID}})
	if err != nil {
		if videov1.IsVideoNotFound(err) {
			return 0, favoritev1.ErrorVideoNotFound("")
		}
		return 0, downstream(fmt.Errorf("favorite: looking up video %d: %w", videoID, err))
	}
	v, ok := resp.GetVideos()[videoID]
	if !ok || v.GetAuthorId() <= 0 {
		return 0, favoritev1.ErrorVideoNotFound("")
	}
	return v.GetAuthorId(), nil
}

// downstream is the error for a failed call to another service: the
// platform's transient errors (unavailable, deadline, cancelled, overloaded)
// pass through so that callers know a retry may help; anything else is
// INTERNAL, its text kept for the log.
func downstream(err error) error {
	if e, ok := apierror.FromError(err); ok && e.Spec().Domain == apierror.PlatformDomain {
		switch e.Spec().Code {
		case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.ResourceExhausted:
			return e.WithCause(err)
		}
	}
	return apierror.Internal(err)
}
