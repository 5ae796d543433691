package feed

import (
	"go.uber.org/fx"

	commentv1 "github.com/tremolo-dev/tremolo/gen/douyin/comment/v1"
	favoritev1 "github.com/tremolo-dev/tremolo/gen/douyin/favorite/v1"
	feedv1 "github.com/tremolo-dev/tremolo/gen/douyin/feed/v1"
	relationv1 "github.com/tremolo-dev/tremolo/gen/douyin/relation/v1"
	userv1 "github.com/tremolo-dev/tremolo/gen/douyin/user/v1"
	videov1 "github.com/tremolo-dev/tremolo/gen/douyin/video/v1"
	"github.com/tremolo-dev/tremolo/platform/changes"
)

// ClientsParams are the feed's fx inputs.
type ClientsParams struct {
	fx.In

	Users     userv1.UserServiceClient
	Videos    videov1.VideoServiceClient
	Favorites favoritev1.FavoriteServiceClient
	Comments  commentv1.CommentServiceClient
	Relations relationv1.RelationServiceClient
	Config    Config
	Changes   *changes.Counter
}

// Module runs the feed service. It needs Config supplied. Its clients are private to it, so other
// services of the process can have their own.
var Module = fx.Module("feed",
	fx.Provide(
		fx.Private,
		userv1.NewUserServiceConnClient,
		videov1.NewVideoServiceConnClient,
		favoritev1.NewFavoriteServiceConnClient,
		commentv1.NewCommentServiceConnClient,
		relationv1.NewRelationServiceConnClient,
	),
	feedv1.FeedServiceModule(func(p ClientsParams) *Service {
		return New(Clients{Users: p.Users, Videos: p.Videos, Favorites: p.Favorites, Comments: p.Comments, Relations: p.Relations}, p.Config, p.Changes)
	}),
)
