package edge

import (
	"context"
	"testing"

	"google.golang.org/grpc"

	appv1 "github.com/tremolo-dev/tremolo/gen/douyin/app/v1"
	commentv1 "github.com/tremolo-dev/tremolo/gen/douyin/comment/v1"
	edgev1 "github.com/tremolo-dev/tremolo/gen/douyin/edge/v1"
	favoritev1 "github.com/tremolo-dev/tremolo/gen/douyin/favorite/v1"
	feedv1 "github.com/tremolo-dev/tremolo/gen/douyin/feed/v1"
	userv1 "github.com/tremolo-dev/tremolo/gen/douyin/user/v1"
	videov1 "github.com/tremolo-dev/tremolo/gen/douyin/video/v1"
)

// Fakes of the services: user 1 and video 10 exist, and have nothing.
type (
	emptyUsers  struct{ userv1.UserServiceClient }
	emptyVideos struct{ videov1.VideoServiceClient }
	emptyLikes  struct {
		favoritev1.FavoriteServiceClient
	}
	emptyComments struct{ commentv1.CommentServiceClient }
	emptyFeed     struct{ feedv1.FeedServiceClient }
)

func (emptyUsers) GetUser(_ context.Context, r *userv1.GetUserRequest, _ ...grpc.CallOption) (*userv1.GetUserResponse, error) {
	if r.GetUserId() != 1 {
		return nil, userv1.ErrorUserNotFound("")
	}
	return &userv1.GetUserResponse{User: &userv1.User{Id: 1}}, nil
}

func (emptyVideos) ListByAuthor(context.Context, *videov1.ListByAuthorRequest, ...grpc.CallOption) (*videov1.ListByAuthorResponse, error) {
	return &videov1.ListByAuthorResponse{}, nil
}

func (emptyVideos) BatchGetVideos(_ context.Context, r *videov1.BatchGetVideosRequest, _ ...grpc.CallOption) (*videov1.BatchGetVideosResponse, error) {
	out := map[int64]*videov1.Video{}
	for _, id := range r.GetVideoIds() {
		if id == 10 {
			out[id] = &videov1.Video{Id: id}
		}
	}
	return &videov1.BatchGetVideosResponse{Videos: out}, nil
}

func (emptyLikes) ListLiked(context.Context, *favoritev1.ListLikedRequest, ...grpc.CallOption) (*favoritev1.ListLikedResponse, error) {
	return &favoritev1.ListLikedResponse{}, nil
}

func (emptyComments) List(context.Context, *commentv1.ListRequest, ...grpc.CallOption) (*commentv1.ListResponse, error) {
	return &commentv1.ListResponse{}, nil
}

func (emptyFeed) HydrateVideos(context.Context, *feedv1.HydrateVideosRequest, ...grpc.CallOption) (*feedv1.HydrateVideosResponse, error) {
	return &feedv1.HydrateVideosResponse{Videos: []*appv1.Video{}}, nil
}

// The lists of an unknown user or video say so, as the relation lists and
// the profile do; those of a known one with nothing are empty.
func TestListsOfUnknownIDs(t *testing.T) {
	s := New(Config{}, Clients{Users: emptyUsers{}, Videos: emptyVideos{}, Favorites: emptyLikes{}, Comments: emptyComments{}, Feed: emptyFeed{}})
	ctx := context.Background()

	if r, err := s.PublishList(ctx, &edgev1.PublishListRequest{UserId: 1}); err != nil || r.GetVideoList() == nil || len(r.GetVideoList()) != 0 {
		t.Errorf("publish list of a user without videos: %v, %v", r, err)
	}
	if _, err := s.PublishList(ctx, &edgev1.PublishListRequest{UserId: 2}); !userv1.IsUserNotFound(err) {
		t.Errorf("publish list of an unknown user: %v, want USER_NOT_FOUND", err)
	}
	if r, err := s.FavoriteList(ctx, &edgev1.FavoriteListRequest{UserId: 1}); err != nil || len(r.GetVideoList()) != 0 {
		t.Errorf("favorite list of a user without likes: %v, %v", r, err)
	}
	if _, err := s.FavoriteList(ctx, &edgev1.FavoriteListRequest{UserId: 2}); !userv1.IsUserNotFound(err) {
		t.Errorf("favorite list of an unknown user: %v, want USER_NOT_FOUND", err)
	}
	if r, err := s.CommentList(ctx, &edgev1.CommentListRequest{VideoId: 10}); err != nil || r.GetCommentList() == nil || len(r.GetCommentList()) != 0 {
		t.Errorf("comments of a video without any: %v, %v", r, err)
	}
	if _, err := s.CommentList(ctx, &edgev1.CommentListRequest{VideoId: 11}); !videov1.IsVideoNotFound(err) {
		t.Errorf("comments of an unknown video: %v, want VIDEO_NOT_FOUND", err)
	}
}
