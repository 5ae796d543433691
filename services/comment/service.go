package comment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/grpc/codes"

	commentv1 "github.com/tremolo-dev/tremolo/gen/douyin/comment/v1"
	videov1 "github.com/tremolo-dev/tremolo/gen/douyin/video/v1"
	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/platform/changes"
	"github.com/tremolo-dev/tremolo/platform/ids"
	"github.com/tremolo-dev/tremolo/services/comment/internal/store"
)

// Limits of the Douyin API.
const (
	// MaxContentLen is the most characters (code points) a comment has,
	// after trimming.
	MaxContentLen = 500
	// MaxBatch is the most distinct ids a batch call accepts.
	MaxBatch = 500
)

// Service implements commentv1.CommentServiceServer.
type Service struct {
	commentv1.UnimplementedCommentServiceServer

	store  *store.Store
	videos videov1.VideoServiceClient
	ids    ids.Issuer
	now    func() time.Time
	// changes hears of each committed write; nil when nobody listens.
	changes *changes.Counter
}

// New returns the service over its store, a client of the video service and
// an id generator. It works without fx.
func New(st *store.Store, videos videov1.VideoServiceClient, gen ids.Issuer) *Service {
	return &Service{store: st, videos: videos, ids: gen, now: time.Now}
}

// ReportChanges makes the service tell c of each committed write, so that
// the process's caches (the feed's shared page) drop what it made stale.
func (s *Service) ReportChanges(c *changes.Counter) *Service {
	s.changes = c
	return s
}

// Content returns the comment a user typed as the service stores it:
// trimmed of surrounding white space, and whether it is acceptable (valid
// UTF-8, 1 to MaxContentLen characters once trimmed, no control characters
// but tab, line feed and carriage return).
func Content(s string) (string, bool) {
	if !utf8.ValidString(s) {
		return "", false
	}
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	if n == 0 || n > MaxContentLen {
		return "", false
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return "", false
		}
	}
	return s, true
}

// Post adds the caller's comment to a video that exists.
func (s *Service) Post(ctx context.Context, req *commentv1.PostRequest) (*commentv1.PostResponse, error) {
	user, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetVideoId() <= 0 {
		return nil, commentv1.ErrorInvalidId("")
	}
	content, ok := Content(req.GetContent())
	if !ok {
		return nil, commentv1.ErrorInvalidContent("")
	}
	if err := s.checkVideo(ctx, req.GetVideoId()); err != nil {
		return nil, err
	}
	id, err := s.ids.Next()
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("comment: new id: %w", err))
	}
	c, err := s.store.Create(ctx, store.Comment{ID: id, VideoID: req.GetVideoId(), UserID: user, Content: content, CreatedAt: s.now()})
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("comment: post: %w", err))
	}
	s.changes.Changed()
	return &commentv1.PostResponse{Comment: toProto(c)}, nil
}

// Delete removes one of the caller's own comments.
func (s *Service) Delete(ctx context.Context, req *commentv1.DeleteRequest) (*commentv1.DeleteResponse, error) {
	user, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetCommentId() <= 0 || req.GetVideoId() < 0 {
		return nil, commentv1.ErrorInvalidId("")
	}
	err = s.store.Delete(ctx, req.GetCommentId(), user, req.GetVideoId())
	switch {
	case err == nil:
		s.changes.Changed()
		return &commentv1.DeleteResponse{}, nil
	case errors.Is(err, store.ErrNotFound):
		return nil, commentv1.ErrorCommentNotFound("")
	case errors.Is(err, store.ErrNotAuthor):
		return nil, commentv1.ErrorNotAuthor("")
	default:
		return nil, apierror.Internal(fmt.Errorf("comment: delete: %w", err))
	}
}

// List returns a video's comments, newest first.
func (s *Service) List(ctx context.Context, req *commentv1.ListRequest) (*commentv1.ListResponse, error) {
	if req.GetVideoId() <= 0 {
		return nil, commentv1.ErrorInvalidId("")
	}
	cs, err := s.store.ByVideo(ctx, req.GetVideoId())
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("comment: list: %w", err))
	}
	out := make([]*commentv1.Comment, len(cs))
	for i, c := range cs {
		out[i] = toProto(c)
	}
	return &commentv1.ListResponse{Comments: out}, nil
}

// BatchCount returns the number of comments of every requested video.
func (s *Service) BatchCount(ctx context.Context, req *commentv1.BatchCountRequest) (*commentv1.BatchCountResponse, error) {
	ids := slices.Clone(req.GetVideoIds())
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) > MaxBatch {
		return nil, commentv1.ErrorTooManyIds("")
	}
	if len(ids) > 0 && ids[0] <= 0 {
		return nil, commentv1.ErrorInvalidId("")
	}
	counts, err := s.store.Counts(ctx, ids)
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("comment: batch count: %w", err))
	}
	return &commentv1.BatchCountResponse{Counts: counts}, nil
}

// checkVideo asks the video service, in one call, whether a video exists.
func (s *Service) checkVideo(ctx context.Context, videoID int64) error {
	resp, err := s.videos.BatchGetVideos(ctx, &videov1.BatchGetVideosRequest{VideoIds: []int64{videoID}})
	if err != nil {
		if videov1.IsVideoNotFound(err) {
			return commentv1.ErrorVideoNotFound("")
		}
		return downstream(fmt.Errorf("comment: looking up video %d: %w", videoID, err))
	}
	if _, ok := resp.GetVideos()[videoID]; !ok {
		return commentv1.ErrorVideoNotFound("")
	}
	return nil
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

func toProto(c store.Comment) *commentv1.Comment {
	return &commentv1.Comment{
		Id: c.ID, VideoId: c.VideoID, UserId: c.UserID, Content: c.Content, CreatedAt: c.CreatedAt.UnixMilli(),
	}
}
