package relation

import (
	"context"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc/codes"

	relationv1 "github.com/tremolo-dev/tremolo/gen/douyin/relation/v1"
	userv1 "github.com/tremolo-dev/tremolo/gen/douyin/user/v1"
	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/changes"
	"github.com/tremolo-dev/tremolo/services/relation/internal/store"
)

// MaxBatch is the most ids BatchGetStats takes (after removing duplicates).
const MaxBatch = 500

// Service implements relationv1.RelationServiceServer.
type Service struct {
	relationv1.UnimplementedRelationServiceServer

	store *store.Store
	users userv1.UserServiceClient
	now   func() time.Time
	// changes hears of each committed write; nil when nobody listens.
	changes *changes.Counter
}

// New returns the service over its store and a user service client. It
// works without fx.
func New(st *store.Store, users userv1.UserServiceClient) *Service {
	return &Service{store: st, users: users, now: time.Now}
}

// ReportChanges makes the service tell c of each committed write, so that
// the process's caches (the feed's shared page) drop what it made stale.
func (s *Service) ReportChanges(c *changes.Counter) *Service {
	s.changes = c
	return s
}

// userExists asks the user service, in one call, whether id is a user.
func (s *Service) userExists(ctx context.Context, id int64) (bool, error) {
	resp, err := s.users.BatchGetUsers(ctx, &userv1.BatchGetUsersRequest{UserIds: []int64{id}})
	if err != nil {
		return false, downstream(fmt.Errorf("relation: looking up user %d: %w", id, err))
	}
	_, ok := resp.GetUsers()[id]
	return ok, nil
}

// target checks the caller and the user they act on: positive, not
// themselves.
func target(ctx context.Context, to int64) (me int64, err error) {
	me, err = auth.Require(ctx)
	if err != nil {
		return 0, err
	}
	if to <= 0 {
		return 0, relationv1.ErrorInvalidId("")
	}
	if to == me {
		return 0, relationv1.ErrorSelfFollow("")
	}
	return me, nil
}

func notFound(id int64) error {
	return relationv1.ErrorUserNotFound("").WithMetadata("userId", fmt.Sprint(id))
}

// Follow makes the caller follow to_user_id, which must exist. Following
// again changes nothing.
func (s *Service) Follow(ctx context.Context, req *relationv1.FollowRequest) (*relationv1.FollowResponse, error) {
	to := req.GetToUserId()
	me, err := target(ctx, to)
	if err != nil {
		return nil, err
	}
	ok, err := s.userExists(ctx, to)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound(to)
	}
	if _, err := s.store.Follow(ctx, me, to, s.now()); err != nil {
		return nil, apierror.Internal(fmt.Errorf("relation: %w", err))
	}
	s.changes.Changed()
	return &relationv1.FollowResponse{}, nil
}

// Unfollow stops the caller following to_user_id. Unfollowing an existing
// user not followed changes nothing; an unknown user is USER_NOT_FOUND.
func (s *Service) Unfollow(ctx context.Context, req *relationv1.UnfollowRequest) (*relationv1.UnfollowResponse, error) {
	to := req.GetToUserId()
	me, err := target(ctx, to)
	if err != nil {
		return nil, err
	}
	removed, err := s.store.Unfollow(ctx, me, to)
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("relation: %w", err))
	}
	if removed {
		s.changes.Changed()
	} else {
		// Only a user who exists can have been followed; without a row,
		// ask whether the id is a user at all.
		ok, err := s.userExists(ctx, to)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, notFound(to)
		}
	}
	return &relationv1.UnfollowResponse{}, nil
}

// list runs one of the store's lists for a user, refusing bad and unknown
// ids. A non-empty list proves the user exists; only an empty one costs a
// call to the user service.
func (s *Service) list(ctx context.Context, user int64, what string, fetch func(context.Context, int64) ([]int64, error)) ([]int64, error) {
	if user <= 0 {
		return nil, relationv1.ErrorInvalidId("")
	}
	ids, err := fetch(ctx, user)
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("relation: %s of %d: %w", what, user, err))
	}
	if len(ids) == 0 {
		ok, err := s.userExists(ctx, user)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, notFound(user)
		}
	}
	return ids, nil
}

// ListFollowing returns the users user_id follows, most recent first.
func (s *Service) ListFollowing(ctx context.Context, req *relationv1.ListFollowingRequest) (*relationv1.ListFollowingResponse, error) {
	ids, err := s.list(ctx, req.GetUserId(), "following", s.store.Following)
	if err != nil {
		return nil, err
	}
	return &relationv1.ListFollowingResponse{UserIds: ids}, nil
}

// ListFollowers returns user_id's followers, most recent first.
func (s *Service) ListFollowers(ctx context.Context, req *relationv1.ListFollowersRequest) (*relationv1.ListFollowersResponse, error) {
	ids, err := s.list(ctx, req.GetUserId(), "followers", s.store.Followers)
	if err != nil {
		return nil, err
	}
	return &relationv1.ListFollowersResponse{UserIds: ids}, nil
}

// ListFriends returns the users who follow user_id and are followed back,
// most recent friendship first.
func (s *Service) ListFriends(ctx context.Context, req *relationv1.ListFriendsRequest) (*relationv1.ListFriendsResponse, error) {
	ids, err := s.list(ctx, req.GetUserId(), "friends", s.store.Friends)
	if err != nil {
		return nil, err
	}
	return &relationv1.ListFriendsResponse{UserIds: ids}, nil
}

// BatchGetStats returns the counts of every requested user (zero for
// unknown ones) and, when the request carries a user, whether that user
// follows each of them.
func (s *Service) BatchGetStats(ctx context.Context, req *relationv1.BatchGetStatsRequest) (*relationv1.BatchGetStatsResponse, error) {
	ids, err := batchIDs(req.GetUserIds())
	if err != nil {
		return nil, err
	}
	viewer, _ := auth.UserID(ctx)
	found, err := s.store.Stats(ctx, ids, viewer)
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("relation: stats of %d users: %w", len(ids), err))
	}
	out := make(map[int64]*relationv1.Stats, len(ids))
	for _, id := range ids {
		st := found[id]
		out[id] = &relationv1.Stats{FollowCount: st.FollowCount, FollowerCount: st.FollowerCount, IsFollow: st.IsFollow}
	}
	return &relationv1.BatchGetStatsResponse{Stats: out}, nil
}

// batchIDs returns the distinct ids of a batch request, refusing more than
// MaxBatch of them and ids that are not positive.
func batchIDs(in []int64) ([]int64, error) {
	ids := slices.Clone(in)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) > MaxBatch {
		return nil, relationv1.ErrorTooManyIds("")
	}
	if len(ids) > 0 && ids[0] <= 0 {
		return nil, relationv1.ErrorInvalidId("")
	}
	return ids, nil
}

// FilterFollowing returns which of the requested users the caller follows.
func (s *Service) FilterFollowing(ctx context.Context, req *relationv1.FilterFollowingRequest) (*relationv1.FilterFollowingResponse, error) {
	ids, err := batchIDs(req.GetUserIds())
	if err != nil {
		return nil, err
	}
	viewer, ok := auth.UserID(ctx)
	if !ok || len(ids) == 0 {
		return &relationv1.FilterFollowingResponse{UserIds: []int64{}}, nil
	}
	found, err := s.store.FollowingAmong(ctx, viewer, ids)
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("relation: follows of %d among %d users: %w", viewer, len(ids), err))
	}
	return &relationv1.FilterFollowingResponse{UserIds: found}, nil
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
