package message

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc/codes"

	messagev1 "github.com/tremolo-dev/tremolo/gen/douyin/message/v1"
	userv1 "github.com/tremolo-dev/tremolo/gen/douyin/user/v1"
	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/ids"
	"github.com/tremolo-dev/tremolo/services/message/internal/store"
)

// Limits of the Douyin API.
const (
	// MaxContentLen is the longest message, in characters.
	MaxContentLen = 1000
	// MaxBatch is the most peers BatchLatest takes (after removing
	// duplicates).
	MaxBatch = 500
	// MaxChatMessages is the most messages one Chat returns (see the
	// package doc).
	MaxChatMessages = 500
)

// Service implements messagev1.MessageServiceServer.
type Service struct {
	messagev1.UnimplementedMessageServiceServer

	store *store.Store
	users userv1.UserServiceClient
	ids   ids.Issuer
}

// New returns the service over its store, a user service client and an id
// generator. It works without fx.
func New(st *store.Store, users userv1.UserServiceClient, gen ids.Issuer) *Service {
	return &Service{store: st, users: users, ids: gen}
}

// validContent accepts 1-MaxContentLen characters of valid UTF-8 that are
// not all white space and hold no NUL (which PostgreSQL's text refuses).
func validContent(s string) bool {
	n := utf8.RuneCountInString(s)
	return n > 0 && n <= MaxContentLen && utf8.ValidString(s) &&
		!strings.ContainsRune(s, 0) && strings.TrimSpace(s) != ""
}

// peer checks the caller and the user they chat with: positive, not
// themselves.
func peer(ctx context.Context, id int64) (me int64, err error) {
	me, err = auth.Require(ctx)
	if err != nil {
		return 0, err
	}
	if id <= 0 {
		return 0, messagev1.ErrorInvalidId("")
	}
	if id == me {
		return 0, messagev1.ErrorSelfMessage("")
	}
	return me, nil
}

// peerExists reports whether peer is a user: yes if the two have chatted
// (only users can have been written to), else as the user service says, in
// one call.
func (s *Service) peerExists(ctx context.Context, me, peer int64) (bool, error) {
	chatted, err := s.store.HasChat(ctx, me, peer)
	if err != nil {
		return false, apierror.Internal(fmt.Errorf("message: %w", err))
	}
	if chatted {
		return true, nil
	}
	resp, err := s.users.BatchGetUsers(ctx, &userv1.BatchGetUsersRequest{UserIds: []int64{peer}})
	if err != nil {
		return false, downstream(fmt.Errorf("message: looking up user %d: %w", peer, err))
	}
	_, ok := resp.GetUsers()[peer]
	return ok, nil
}

func notFound(id int64) error {
	return messagev1.ErrorUserNotFound("").WithMetadata("userId", fmt.Sprint(id))
}

// Send stores a message from the caller to to_user_id.
func (s *Service) Send(ctx context.Context, req *messagev1.SendRequest) (*messagev1.SendResponse, error) {
	to := req.GetToUserId()
	me, err := peer(ctx, to)
	if err != nil {
		return nil, err
	}
	if !validContent(req.GetContent()) {
		return nil, messagev1.ErrorInvalidContent("")
	}
	ok, err := s.peerExists(ctx, me, to)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound(to)
	}
	id, err := s.ids.Next()
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("message: new id: %w", err))
	}
	created, _, _, err := ids.Parse(id)
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("message: new id: %w", err))
	}
	m := store.Message{ID: id, From: me, To: to, Content: req.GetContent(), CreatedAt: created.UnixMilli()}
	if err := s.store.Add(ctx, m); err != nil {
		return nil, apierror.Internal(fmt.Errorf("message: %w", err))
	}
	return &messagev1.SendResponse{Message: toProto(m)}, nil
}

// Chat returns the messages between the caller and peer_id created after
// after_time, oldest first.
func (s *Service) Chat(ctx context.Context, req *messagev1.ChatRequest) (*messagev1.ChatResponse, error) {
	other := req.GetPeerId()
	me, err := peer(ctx, other)
	if err != nil {
		return nil, err
	}
	msgs, err := s.store.Chat(ctx, me, other, req.GetAfterTime(), MaxChatMessages)
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("message: %w", err))
	}
	if len(msgs) == 0 {
		ok, err := s.peerExists(ctx, me, other)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, notFound(other)
		}
	}
	out := make([]*messagev1.Message, len(msgs))
	for i, m := range msgs {
		out[i] = toProto(m)
	}
	return &messagev1.ChatResponse{Messages: out}, nil
}

// BatchLatest returns the latest message between the caller and each of
// peer_ids that has one.
func (s *Service) BatchLatest(ctx context.Context, req *messagev1.BatchLatestRequest) (*messagev1.BatchLatestResponse, error) {
	me, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	peers := slices.Clone(req.GetPeerIds())
	slices.Sort(peers)
	peers = slices.Compact(peers)
	if len(peers) > MaxBatch {
		return nil, messagev1.ErrorTooManyIds("")
	}
	if len(peers) > 0 && peers[0] <= 0 {
		return nil, messagev1.ErrorInvalidId("")
	}
	found, err := s.store.Latest(ctx, me, peers)
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("message: %w", err))
	}
	out := make(map[int64]*messagev1.Message, len(found))
	for p, m := range found {
		out[p] = toProto(m)
	}
	return &messagev1.BatchLatestResponse{Latest: out}, nil
}

func toProto(m store.Message) *messagev1.Message {
	return &messagev1.Message{Id: m.ID, FromUserId: m.From, ToUserId: m.To, Content: m.Content, CreatedAt: m.CreatedAt}
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
