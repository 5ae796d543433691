package edge

import (
	"context"
	"time"

	appv1 "github.com/tremolo-dev/tremolo/gen/douyin/app/v1"
	commentv1 "github.com/tremolo-dev/tremolo/gen/douyin/comment/v1"
	edgev1 "github.com/tremolo-dev/tremolo/gen/douyin/edge/v1"
	favoritev1 "github.com/tremolo-dev/tremolo/gen/douyin/favorite/v1"
	feedv1 "github.com/tremolo-dev/tremolo/gen/douyin/feed/v1"
	messagev1 "github.com/tremolo-dev/tremolo/gen/douyin/message/v1"
	relationv1 "github.com/tremolo-dev/tremolo/gen/douyin/relation/v1"
	userv1 "github.com/tremolo-dev/tremolo/gen/douyin/user/v1"
	videov1 "github.com/tremolo-dev/tremolo/gen/douyin/video/v1"
	"github.com/tremolo-dev/tremolo/platform/auth"
)

// Clients are the services the edge calls.
type Clients struct {
	Users     userv1.UserServiceClient
	Videos    videov1.VideoServiceClient
	Feed      feedv1.FeedServiceClient
	Favorites favoritev1.FavoriteServiceClient
	Comments  commentv1.CommentServiceClient
	Relations relationv1.RelationServiceClient
	Messages  messagev1.MessageServiceClient
}

// Service implements edgev1.DouyinServiceServer: each route is one or two
// calls to the services, whose errors pass through with their business codes.
type Service struct {
	edgev1.UnimplementedDouyinServiceServer
	c    Clients
	cfg  Config
	urls mediaURLs
}

// New returns the edge's API over its clients. It works without fx.
func New(cfg Config, c Clients) *Service { return &Service{c: c, cfg: cfg} }

// Feed returns the newest videos before latest_time. Older clients send
// seconds; a value below 10^11 (year 1973 in milliseconds) is taken as one.
func (s *Service) Feed(ctx context.Context, req *edgev1.FeedRequest) (*edgev1.FeedResponse, error) {
	latest := req.GetLatestTime()
	if latest > 0 && latest < 1e11 {
		latest *= 1000
	}
	feed, err := s.c.Feed.GetFeed(ctx, &feedv1.GetFeedRequest{LatestTime: latest})
	if err != nil {
		return nil, err
	}
	return &edgev1.FeedResponse{VideoList: s.absolute(ctx, feed.GetVideos()), NextTime: feed.GetNextTime()}, nil
}

// Register creates an account.
func (s *Service) Register(ctx context.Context, req *edgev1.RegisterRequest) (*edgev1.RegisterResponse, error) {
	r, err := s.c.Users.Register(ctx, &userv1.RegisterRequest{Username: req.GetUsername(), Password: req.GetPassword()})
	if err != nil {
		return nil, err
	}
	return &edgev1.RegisterResponse{UserId: r.GetUserId(), Token: r.GetToken()}, nil
}

// Login signs in.
func (s *Service) Login(ctx context.Context, req *edgev1.LoginRequest) (*edgev1.LoginResponse, error) {
	r, err := s.c.Users.Login(ctx, &userv1.LoginRequest{Username: req.GetUsername(), Password: req.GetPassword()})
	if err != nil {
		return nil, err
	}
	return &edgev1.LoginResponse{UserId: r.GetUserId(), Token: r.GetToken()}, nil
}

// subject returns the user a list or profile is about: user_id, or the
// viewer when it is absent.
func subject(ctx context.Context, userID int64) (int64, error) {
	if userID > 0 {
		return userID, nil
	}
	if viewer, ok := auth.UserID(ctx); ok {
		return viewer, nil
	}
	return 0, edgev1.ErrorInvalidParameter("user_id is required")
}

// GetUser returns a profile.
func (s *Service) GetUser(ctx context.Context, req *edgev1.GetUserRequest) (*edgev1.GetUserResponse, error) {
	id, err := subject(ctx, req.GetUserId())
	if err != nil {
		return nil, err
	}
	users, err := s.c.Feed.HydrateUsers(ctx, &feedv1.HydrateUsersRequest{UserIds: []int64{id}})
	if err != nil {
		return nil, err
	}
	if len(users.GetUsers()) == 0 {
		return nil, userv1.ErrorUserNotFound("")
	}
	return &edgev1.GetUserResponse{User: users.GetUsers()[0]}, nil
}

// PublishList returns a user's videos, newest first.
func (s *Service) PublishList(ctx context.Context, req *edgev1.PublishListRequest) (*edgev1.PublishListResponse, error) {
	id, err := subject(ctx, req.GetUserId())
	if err != nil {
		return nil, err
	}
	list, err := s.c.Videos.ListByAuthor(ctx, &videov1.ListByAuthorRequest{AuthorId: id})
	if err != nil {
		return nil, err
	}
	if len(list.GetVideos()) == 0 {
		if err := s.userExists(ctx, id); err != nil {
			return nil, err
		}
	}
	ids := make([]int64, len(list.GetVideos()))
	for i, v := range list.GetVideos() {
		ids[i] = v.GetId()
	}
	videos, err := s.hydrateVideos(ctx, ids)
	if err != nil {
		return nil, err
	}
	return &edgev1.PublishListResponse{VideoList: videos}, nil
}

// FavoriteAction likes (1) or unlikes (2) a video.
func (s *Service) FavoriteAction(ctx context.Context, req *edgev1.FavoriteActionRequest) (*edgev1.FavoriteActionResponse, error) {
	if req.GetVideoId() <= 0 {
		return nil, edgev1.ErrorInvalidParameter("video_id is required")
	}
	var err error
	switch req.GetActionType() {
	case 1:
		_, err = s.c.Favorites.Like(ctx, &favoritev1.LikeRequest{VideoId: req.GetVideoId()})
	case 2:
		_, err = s.c.Favorites.Unlike(ctx, &favoritev1.UnlikeRequest{VideoId: req.GetVideoId()})
	default:
		return nil, edgev1.ErrorUnknownAction("action_type must be 1 (like) or 2 (unlike)")
	}
	if err != nil {
		return nil, err
	}
	return &edgev1.FavoriteActionResponse{}, nil
}

// FavoriteList returns the videos a user liked.
func (s *Service) FavoriteList(ctx context.Context, req *edgev1.FavoriteListRequest) (*edgev1.FavoriteListResponse, error) {
	id, err := subject(ctx, req.GetUserId())
	if err != nil {
		return nil, err
	}
	liked, err := s.c.Favorites.ListLiked(ctx, &favoritev1.ListLikedRequest{UserId: id})
	if err != nil {
		return nil, err
	}
	if len(liked.GetVideoIds()) == 0 {
		if err := s.userExists(ctx, id); err != nil {
			return nil, err
		}
	}
	videos, err := s.hydrateVideos(ctx, liked.GetVideoIds())
	if err != nil {
		return nil, err
	}
	return &edgev1.FavoriteListResponse{VideoList: videos}, nil
}

// CommentAction posts (1) or deletes (2) a comment.
func (s *Service) CommentAction(ctx context.Context, req *edgev1.CommentActionRequest) (*edgev1.CommentActionResponse, error) {
	if req.GetVideoId() <= 0 {
		return nil, edgev1.ErrorInvalidParameter("video_id is required")
	}
	switch req.GetActionType() {
	case 1:
		posted, err := s.c.Comments.Post(ctx, &commentv1.PostRequest{VideoId: req.GetVideoId(), Content: req.GetCommentText()})
		if err != nil {
			return nil, err
		}
		comments, err := s.comments(ctx, []*commentv1.Comment{posted.GetComment()})
		if err != nil {
			return nil, err
		}
		return &edgev1.CommentActionResponse{Comment: comments[0]}, nil
	case 2:
		if req.GetCommentId() <= 0 {
			return nil, edgev1.ErrorInvalidParameter("comment_id is required to delete")
		}
		if _, err := s.c.Comments.Delete(ctx, &commentv1.DeleteRequest{VideoId: req.GetVideoId(), CommentId: req.GetCommentId()}); err != nil {
			return nil, err
		}
		return &edgev1.CommentActionResponse{}, nil
	}
	return nil, edgev1.ErrorUnknownAction("action_type must be 1 (post) or 2 (delete)")
}

// CommentList returns a video's comments, newest first.
func (s *Service) CommentList(ctx context.Context, req *edgev1.CommentListRequest) (*edgev1.CommentListResponse, error) {
	if req.GetVideoId() <= 0 {
		return nil, edgev1.ErrorInvalidParameter("video_id is required")
	}
	list, err := s.c.Comments.List(ctx, &commentv1.ListRequest{VideoId: req.GetVideoId()})
	if err != nil {
		return nil, err
	}
	if len(list.GetComments()) == 0 {
		if err := s.videoExists(ctx, req.GetVideoId()); err != nil {
			return nil, err
		}
	}
	comments, err := s.comments(ctx, list.GetComments())
	if err != nil {
		return nil, err
	}
	return &edgev1.CommentListResponse{CommentList: comments}, nil
}

// comments attaches each comment's author, with one call per 500 authors.
func (s *Service) comments(ctx context.Context, cs []*commentv1.Comment) ([]*appv1.Comment, error) {
	ids := make([]int64, 0, len(cs))
	seen := make(map[int64]bool, len(cs))
	for _, c := range cs {
		if !seen[c.GetUserId()] {
			seen[c.GetUserId()] = true
			ids = append(ids, c.GetUserId())
		}
	}
	users, err := s.users(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]*appv1.Comment, len(cs))
	for i, c := range cs {
		u, ok := users[c.GetUserId()]
		if !ok {
			u = &appv1.User{Id: c.GetUserId()}
		}
		out[i] = &appv1.Comment{
			Id: c.GetId(), User: u, Content: c.GetContent(),
			CreateDate: time.UnixMilli(c.GetCreatedAt()).In(s.cfg.location()).Format("01-02"),
		}
	}
	return out, nil
}

// RelationAction follows (1) or unfollows (2) a user.
func (s *Service) RelationAction(ctx context.Context, req *edgev1.RelationActionRequest) (*edgev1.RelationActionResponse, error) {
	if req.GetToUserId() <= 0 {
		return nil, edgev1.ErrorInvalidParameter("to_user_id is required")
	}
	var err error
	switch req.GetActionType() {
	case 1:
		_, err = s.c.Relations.Follow(ctx, &relationv1.FollowRequest{ToUserId: req.GetToUserId()})
	case 2:
		_, err = s.c.Relations.Unfollow(ctx, &relationv1.UnfollowRequest{ToUserId: req.GetToUserId()})
	default:
		return nil, edgev1.ErrorUnknownAction("action_type must be 1 (follow) or 2 (unfollow)")
	}
	if err != nil {
		return nil, err
	}
	return &edgev1.RelationActionResponse{}, nil
}

// FollowList returns the users a user follows.
func (s *Service) FollowList(ctx context.Context, req *edgev1.FollowListRequest) (*edgev1.FollowListResponse, error) {
	id, err := subject(ctx, req.GetUserId())
	if err != nil {
		return nil, err
	}
	list, err := s.c.Relations.ListFollowing(ctx, &relationv1.ListFollowingRequest{UserId: id})
	if err != nil {
		return nil, err
	}
	users, err := s.orderedUsers(ctx, list.GetUserIds())
	if err != nil {
		return nil, err
	}
	return &edgev1.FollowListResponse{UserList: users}, nil
}

// FollowerList returns a user's followers.
func (s *Service) FollowerList(ctx context.Context, req *edgev1.FollowerListRequest) (*edgev1.FollowerListResponse, error) {
	id, err := subject(ctx, req.GetUserId())
	if err != nil {
		return nil, err
	}
	list, err := s.c.Relations.ListFollowers(ctx, &relationv1.ListFollowersRequest{UserId: id})
	if err != nil {
		return nil, err
	}
	users, err := s.orderedUsers(ctx, list.GetUserIds())
	if err != nil {
		return nil, err
	}
	return &edgev1.FollowerListResponse{UserList: users}, nil
}

// FriendList returns a user's mutual follows, each with the latest message
// between the viewer and that friend.
func (s *Service) FriendList(ctx context.Context, req *edgev1.FriendListRequest) (*edgev1.FriendListResponse, error) {
	id, err := subject(ctx, req.GetUserId())
	if err != nil {
		return nil, err
	}
	viewer, _ := auth.UserID(ctx)
	list, err := s.c.Relations.ListFriends(ctx, &relationv1.ListFriendsRequest{UserId: id})
	if err != nil {
		return nil, err
	}
	out := make([]*appv1.FriendUser, 0, len(list.GetUserIds()))
	if len(list.GetUserIds()) == 0 {
		return &edgev1.FriendListResponse{UserList: out}, nil
	}
	users, err := s.orderedUsers(ctx, list.GetUserIds())
	if err != nil {
		return nil, err
	}
	latest := map[int64]*messagev1.Message{}
	for _, part := range chunks(list.GetUserIds()) {
		r, err := s.c.Messages.BatchLatest(ctx, &messagev1.BatchLatestRequest{PeerIds: part})
		if err != nil {
			return nil, err
		}
		for k, v := range r.GetLatest() {
			latest[k] = v
		}
	}
	for _, u := range users {
		f := &appv1.FriendUser{
			Id: u.GetId(), Name: u.GetName(), FollowCount: u.GetFollowCount(), FollowerCount: u.GetFollowerCount(),
			IsFollow: u.GetIsFollow(), Avatar: u.GetAvatar(), BackgroundImage: u.GetBackgroundImage(), Signature: u.GetSignature(),
			TotalFavorited: u.GetTotalFavorited(), WorkCount: u.GetWorkCount(), FavoriteCount: u.GetFavoriteCount(),
		}
		if m, ok := latest[u.GetId()]; ok {
			f.Message = m.GetContent()
			if m.GetFromUserId() == viewer {
				f.MsgType = 1
			}
		}
		out = append(out, f)
	}
	return &edgev1.FriendListResponse{UserList: out}, nil
}

// MessageAction sends a message (action_type 1).
func (s *Service) MessageAction(ctx context.Context, req *edgev1.MessageActionRequest) (*edgev1.MessageActionResponse, error) {
	if req.GetToUserId() <= 0 {
		return nil, edgev1.ErrorInvalidParameter("to_user_id is required")
	}
	if req.GetActionType() != 1 {
		return nil, edgev1.ErrorUnknownAction("action_type must be 1 (send)")
	}
	if _, err := s.c.Messages.Send(ctx, &messagev1.SendRequest{ToUserId: req.GetToUserId(), Content: req.GetContent()}); err != nil {
		return nil, err
	}
	return &edgev1.MessageActionResponse{}, nil
}

// MessageChat returns the messages between the viewer and to_user_id.
func (s *Service) MessageChat(ctx context.Context, req *edgev1.MessageChatRequest) (*edgev1.MessageChatResponse, error) {
	if req.GetToUserId() <= 0 {
		return nil, edgev1.ErrorInvalidParameter("to_user_id is required")
	}
	chat, err := s.c.Messages.Chat(ctx, &messagev1.ChatRequest{PeerId: req.GetToUserId(), AfterTime: req.GetPreMsgTime()})
	if err != nil {
		return nil, err
	}
	out := make([]*appv1.Message, len(chat.GetMessages()))
	for i, m := range chat.GetMessages() {
		out[i] = &appv1.Message{Id: m.GetId(), ToUserId: m.GetToUserId(), FromUserId: m.GetFromUserId(), Content: m.GetContent(), CreateTime: m.GetCreatedAt()}
	}
	return &edgev1.MessageChatResponse{MessageList: out}, nil
}

// userExists returns USER_NOT_FOUND for an unknown user. The lists of the
// services that keep no users (videos, likes) are empty for an unknown id;
// the app is told that the user does not exist, as the relation lists and
// the profile tell it. It is asked only when a list is empty.
func (s *Service) userExists(ctx context.Context, id int64) error {
	_, err := s.c.Users.GetUser(ctx, &userv1.GetUserRequest{UserId: id})
	return err
}

// videoExists returns VIDEO_NOT_FOUND for an unknown video (the comment
// service lists no comments for it), as liking or commenting on it does.
func (s *Service) videoExists(ctx context.Context, id int64) error {
	r, err := s.c.Videos.BatchGetVideos(ctx, &videov1.BatchGetVideosRequest{VideoIds: []int64{id}})
	if err != nil {
		return err
	}
	if _, ok := r.GetVideos()[id]; !ok {
		return videov1.ErrorVideoNotFound("")
	}
	return nil
}

// hydrateBatch is how many ids one feed call assembles (the feed's limit).
const hydrateBatch = 500

// chunks splits ids into runs of at most hydrateBatch: lists (a prolific
// author's videos, a popular user's followers) may be longer than one call.
func chunks(ids []int64) [][]int64 {
	var out [][]int64
	for len(ids) > hydrateBatch {
		out = append(out, ids[:hydrateBatch])
		ids = ids[hydrateBatch:]
	}
	return append(out, ids)
}

func (s *Service) hydrateVideos(ctx context.Context, ids []int64) ([]*appv1.Video, error) {
	out := make([]*appv1.Video, 0, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	for _, part := range chunks(ids) {
		r, err := s.c.Feed.HydrateVideos(ctx, &feedv1.HydrateVideosRequest{VideoIds: part})
		if err != nil {
			return nil, err
		}
		out = append(out, r.GetVideos()...)
	}
	return s.absolute(ctx, out), nil
}

func (s *Service) orderedUsers(ctx context.Context, ids []int64) ([]*appv1.User, error) {
	out := make([]*appv1.User, 0, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	for _, part := range chunks(ids) {
		r, err := s.c.Feed.HydrateUsers(ctx, &feedv1.HydrateUsersRequest{UserIds: part})
		if err != nil {
			return nil, err
		}
		out = append(out, r.GetUsers()...)
	}
	return out, nil
}

func (s *Service) users(ctx context.Context, ids []int64) (map[int64]*appv1.User, error) {
	list, err := s.orderedUsers(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]*appv1.User, len(list))
	for _, u := range list {
		out[u.GetId()] = u
	}
	return out, nil
}
