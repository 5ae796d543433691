package video

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	videov1 "github.com/tremolo-dev/tremolo/gen/douyin/video/v1"
	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/changes"
	"github.com/tremolo-dev/tremolo/platform/ids"
	"github.com/tremolo-dev/tremolo/services/video/internal/cover"
	"github.com/tremolo-dev/tremolo/services/video/internal/store"
)

// Limits of the Douyin API.
const (
	// MaxTitleLen is the longest title, in characters (runes).
	MaxTitleLen = 100
	// MaxChunk is the largest file chunk one PublishRequest may carry.
	MaxChunk = 1 << 20
	// MaxBatch is the most ids BatchGetVideos and CountWorks take (after
	// removing duplicates).
	MaxBatch = 500
	// MaxLatest is ListLatest's page size, and its default.
	MaxLatest = 30
)

// Service implements videov1.VideoServiceServer.
type Service struct {
	videov1.UnimplementedVideoServiceServer

	store    *store.Store
	ids      ids.Issuer
	media    *Media
	covers   *cover.Maker
	maxBytes int64
	logger   *slog.Logger
	// changes hears of each committed write; nil when nobody listens.
	changes *changes.Counter
}

// New returns the service over its store and media directory. It works
// without fx; a nil covers generates covers, a nil logger discards logs.
func New(st *store.Store, gen ids.Issuer, media *Media, covers *cover.Maker, cfg Config, logger *slog.Logger) *Service {
	if covers == nil {
		covers = &cover.Maker{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	maxBytes := cfg.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	return &Service{store: st, ids: gen, media: media, covers: covers, maxBytes: maxBytes, logger: logger}
}

// ReportChanges makes the service tell c of each committed write, so that
// the process's caches (the feed's shared page) drop what it made stale.
func (s *Service) ReportChanges(c *changes.Counter) *Service {
	s.changes = c
	return s
}

// ValidTitle accepts 1 to MaxTitleLen characters of valid UTF-8 without
// control characters (line breaks included) that are not all white space.
func ValidTitle(s string) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxTitleLen || strings.TrimSpace(s) == "" {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// ListByAuthor returns all of an author's videos, newest first. An author
// without videos (or unknown to this service) gets an empty list.
func (s *Service) ListByAuthor(ctx context.Context, req *videov1.ListByAuthorRequest) (*videov1.ListByAuthorResponse, error) {
	if req.GetAuthorId() <= 0 {
		return nil, videov1.ErrorInvalidId("")
	}
	vs, err := s.store.ByAuthor(ctx, req.GetAuthorId())
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("video: list by author %d: %w", req.GetAuthorId(), err))
	}
	return &videov1.ListByAuthorResponse{Videos: toProtos(vs)}, nil
}

// ListLatest returns up to limit videos published strictly before
// before_time, newest first. before_time 0 means now, and a negative one
// matches nothing; limit 0 (or out of 1-30) means 30.
func (s *Service) ListLatest(ctx context.Context, req *videov1.ListLatestRequest) (*videov1.ListLatestResponse, error) {
	before := req.GetBeforeTime()
	switch {
	case before == 0:
		before = time.Now().UnixMilli() + 1 // include this millisecond
	case before < 0:
		return &videov1.ListLatestResponse{Videos: []*videov1.Video{}}, nil
	}
	limit := int(req.GetLimit())
	if limit <= 0 || limit > MaxLatest {
		limit = MaxLatest
	}
	vs, err := s.store.Latest(ctx, before, limit)
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("video: latest %d before %d: %w", limit, before, err))
	}
	return &videov1.ListLatestResponse{Videos: toProtos(vs)}, nil
}

// checkIDs removes duplicates from ids and checks the batch limit and that
// every id is positive.
func checkIDs(in []int64) ([]int64, error) {
	ids := slices.Clone(in)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) > MaxBatch {
		return nil, videov1.ErrorTooManyIds("")
	}
	if len(ids) > 0 && ids[0] <= 0 {
		return nil, videov1.ErrorInvalidId("")
	}
	return ids, nil
}

// BatchGetVideos returns up to MaxBatch videos by id in one query; unknown
// ids are absent from the map.
func (s *Service) BatchGetVideos(ctx context.Context, req *videov1.BatchGetVideosRequest) (*videov1.BatchGetVideosResponse, error) {
	ids, err := checkIDs(req.GetVideoIds())
	if err != nil {
		return nil, err
	}
	found, err := s.store.ByIDs(ctx, ids)
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("video: batch get of %d videos: %w", len(ids), err))
	}
	out := make(map[int64]*videov1.Video, len(found))
	for id, v := range found {
		out[id] = toProto(v)
	}
	return &videov1.BatchGetVideosResponse{Videos: out}, nil
}

// CountWorks returns how many videos each of up to MaxBatch users
// published, in one GROUP BY query; users without videos are absent.
func (s *Service) CountWorks(ctx context.Context, req *videov1.CountWorksRequest) (*videov1.CountWorksResponse, error) {
	ids, err := checkIDs(req.GetUserIds())
	if err != nil {
		return nil, err
	}
	counts, err := s.store.CountByAuthors(ctx, ids)
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("video: counting works of %d users: %w", len(ids), err))
	}
	return &videov1.CountWorksResponse{Counts: counts}, nil
}

func toProto(v store.Video) *videov1.Video {
	return &videov1.Video{
		Id: v.ID, AuthorId: v.AuthorID, Title: v.Title,
		PlayPath: v.PlayPath, CoverPath: v.CoverPath, CreatedAt: v.CreatedAt,
	}
}

func toProtos(vs []store.Video) []*videov1.Video {
	out := make([]*videov1.Video, len(vs))
	for i, v := range vs {
		out[i] = toProto(v)
	}
	return out
}
