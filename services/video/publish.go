package video

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	videov1 "github.com/tremolo-dev/tremolo/gen/douyin/video/v1"
	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/auth"
	"github.com/tremolo-dev/tremolo/services/video/internal/cover"
	"github.com/tremolo-dev/tremolo/services/video/internal/sniff"
	"github.com/tremolo-dev/tremolo/services/video/internal/store"
)

// Publish stores an upload: the metadata first, then the file in chunks of
// at most MaxChunk bytes. The file streams to a temporary file (it is never
// held in memory whole); the upload is refused as soon as it is known to be
// bad: a bad title before any chunk is read, an oversized chunk or a file
// past the size limit when it arrives, a file that is not MP4/QuickTime once
// its first sniff.HeadLen bytes are in. A good file and its cover are
// synced and renamed into place, and only then is the row inserted; on any
// failure the files are removed and no row is written.
func (s *Service) Publish(stream grpc.ClientStreamingServer[videov1.PublishRequest, videov1.PublishResponse]) error {
	ctx := stream.Context()
	author, err := auth.Require(ctx)
	if err != nil {
		return err
	}
	first, err := stream.Recv()
	if err != nil {
		return recvError(ctx, err)
	}
	meta := first.GetMetadata()
	if meta == nil {
		return videov1.ErrorBadUpload("")
	}
	if !ValidTitle(meta.GetTitle()) {
		return videov1.ErrorInvalidTitle("")
	}

	up, err := s.media.newUpload()
	if err != nil {
		return apierror.Internal(err)
	}
	defer up.discard(s.logger)
	size, err := s.receive(ctx, stream, up.file)
	if err != nil {
		return err
	}

	id, err := s.ids.Next()
	if err != nil {
		return apierror.Internal(fmt.Errorf("video: new id: %w", err))
	}
	if err := s.makeCover(ctx, id, up, size); err != nil {
		return apierror.Internal(fmt.Errorf("video: cover of %d: %w", id, err))
	}
	if err := up.commit(s.media, id); err != nil {
		return apierror.Internal(fmt.Errorf("video: storing files of %d: %w", id, err))
	}
	v := store.Video{
		ID: id, AuthorID: author, Title: meta.GetTitle(),
		PlayPath: PlayPath(id), CoverPath: CoverPath(id), CreatedAt: time.Now().UnixMilli(),
	}
	if err := s.store.Create(ctx, v); err != nil {
		return apierror.Internal(fmt.Errorf("video: recording %d: %w", id, err))
	}
	up.keep()
	s.changes.Changed()
	return stream.SendAndClose(&videov1.PublishResponse{Video: toProto(v)})
}

// makeCover writes the upload's cover: ffmpeg's first frame when the file
// has a movie box (without one there is no frame, and running ffmpeg would
// only cost time), else the generated image.
func (s *Service) makeCover(ctx context.Context, id int64, up *upload, size int64) error {
	f, err := os.Open(up.video)
	if err != nil {
		return err
	}
	movie := sniff.HasBox(f, size, "moov")
	_ = f.Close()
	if movie {
		return s.covers.Make(ctx, id, up.video, up.cover)
	}
	return cover.WriteGenerated(id, up.cover)
}

// receive copies the file's chunks to f, checking each as it arrives, then
// syncs and closes f, and returns the file's size.
func (s *Service) receive(ctx context.Context, stream grpc.ClientStreamingServer[videov1.PublishRequest, videov1.PublishResponse], f *os.File) (int64, error) {
	head := make([]byte, 0, sniff.HeadLen)
	var size int64
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, recvError(ctx, err)
		}
		part, ok := msg.GetPart().(*videov1.PublishRequest_Chunk)
		if !ok {
			return 0, videov1.ErrorBadUpload("the metadata must come once, as the first message")
		}
		chunk := part.Chunk
		if len(chunk) > MaxChunk {
			return 0, videov1.ErrorBadUpload("a chunk may hold at most %d bytes", MaxChunk)
		}
		if size+int64(len(chunk)) > s.maxBytes {
			return 0, videov1.ErrorTooLarge("").WithMetadata("maxBytes", strconv.FormatInt(s.maxBytes, 10))
		}
		if len(head) < sniff.HeadLen {
			head = append(head, chunk[:min(len(chunk), sniff.HeadLen-len(head))]...)
			if len(head) == sniff.HeadLen && !sniff.Video(head, -1) {
				return 0, videov1.ErrorNotAVideo("")
			}
		}
		if _, err := f.Write(chunk); err != nil {
			return 0, apierror.Internal(fmt.Errorf("video: writing upload: %w", err))
		}
		size += int64(len(chunk))
	}
	if size == 0 {
		return 0, videov1.ErrorEmptyFile("")
	}
	if !sniff.Video(head, size) {
		return 0, videov1.ErrorNotAVideo("")
	}
	if err := f.Sync(); err != nil {
		return 0, apierror.Internal(fmt.Errorf("video: syncing upload: %w", err))
	}
	if err := f.Close(); err != nil {
		return 0, apierror.Internal(fmt.Errorf("video: closing upload: %w", err))
	}
	return size, nil
}

// recvError is what Publish returns when reading the stream fails: the
// request's own end (cancelled, timed out) as such, and anything else as a
// bad upload. (For a message that does not decode or exceeds the server's
// message size, grpc-go has already sent its own status, INTERNAL or
// RESOURCE_EXHAUSTED, and ignores the handler's.)
func recvError(ctx context.Context, err error) error {
	if errors.Is(err, io.EOF) {
		return videov1.ErrorBadUpload("")
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return apierror.Internal(ctxErr)
	}
	switch status.Code(err) {
	case codes.Canceled:
		return apierror.Internal(context.Canceled)
	case codes.DeadlineExceeded:
		return apierror.Internal(context.DeadlineExceeded)
	}
	return videov1.ErrorBadUpload("the upload could not be read").WithCause(err)
}

// upload is one Publish's files: the temporary video and cover in tmp/,
// then, once committed, the final ones.
type upload struct {
	file         *os.File // the temporary video, open for writing
	video, cover string   // temporary paths
	placed       []string // final paths renamed into place
	kept         bool
}

// newUpload creates the temporary files of an upload.
func (m *Media) newUpload() (*upload, error) {
	dir := filepath.Join(m.Dir, tmpDir)
	f, err := os.CreateTemp(dir, "upload-*.mp4")
	if err != nil {
		return nil, fmt.Errorf("video: temporary upload file: %w", err)
	}
	up := &upload{file: f, video: f.Name()}
	c, err := os.CreateTemp(dir, "cover-*.jpg")
	if err != nil {
		up.discard(nil)
		return nil, fmt.Errorf("video: temporary cover file: %w", err)
	}
	up.cover = c.Name()
	_ = c.Close()
	return up, nil
}

// commit moves the synced video and cover into place as id's files and
// syncs their folders, so the files survive a crash before the row is
// written.
func (up *upload) commit(m *Media, id int64) error {
	for _, mv := range []struct{ from, to string }{{up.video, m.videoFile(id)}, {up.cover, m.coverFile(id)}} {
		if err := os.Rename(mv.from, mv.to); err != nil {
			return err
		}
		up.placed = append(up.placed, mv.to)
		if err := syncDir(filepath.Dir(mv.to)); err != nil {
			return err
		}
	}
	return nil
}

// keep marks the upload published: discard leaves its files.
func (up *upload) keep() { up.kept = true }

// discard removes the upload's files unless it was kept. It is safe to call
// at any stage.
func (up *upload) discard(logger *slog.Logger) {
	_ = up.file.Close() // already closed after a complete upload
	if up.kept {
		return
	}
	for _, p := range append([]string{up.video, up.cover}, up.placed...) {
		if p == "" {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) && logger != nil {
			logger.Warn("video: removing a failed upload's file", slog.String("path", p), slog.Any("error", err))
		}
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return err
	}
	return d.Close()
}
