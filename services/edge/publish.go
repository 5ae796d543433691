package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"

	edgev1 "github.com/tremolo-dev/tremolo/gen/douyin/edge/v1"
	videov1 "github.com/tremolo-dev/tremolo/gen/douyin/video/v1"
	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/auth"
)

// chunkSize is the size of the chunks sent to the video service.
const chunkSize = 256 << 10

// publisher serves POST /douyin/publish/action/: multipart/form-data with
// the file in "data" and "token" and "title" as fields ("title" and "token"
// may also come in the query). The file is streamed to the video service
// as it arrives when token and title came first; when they come after it,
// it is spooled to a temporary file, never held in memory.
type publisher struct {
	videos   videov1.VideoServiceClient
	verifier auth.Verifier
	maxBytes int64
	tempDir  string
}

func (p *publisher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := p.publish(r); err != nil {
		writeEnvelope(w, r, err)
		return
	}
	writeEnvelope(w, r, nil)
}

// upload is what the form said so far.
type upload struct {
	token, title string
	titleSet     bool
	user         int64
	verified     bool
}

func (p *publisher) publish(r *http.Request) error {
	if r.Method != http.MethodPost {
		return edgev1.ErrorInvalidParameter("publish takes POST")
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "multipart/form-data" {
		return edgev1.ErrorInvalidParameter("publish takes multipart/form-data with the video in field data")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, p.maxBytes+1<<20) // room for the other fields
	mr, err := r.MultipartReader()
	if err != nil {
		return edgev1.ErrorInvalidParameter("malformed multipart body")
	}
	q := r.URL.Query()
	up := upload{token: auth.Token(r), title: q.Get("title"), titleSet: q.Has("title")}
	var (
		sent  *videov1.PublishResponse
		spool *os.File
	)
	defer func() {
		if spool != nil {
			spool.Close()
			os.Remove(spool.Name())
		}
	}()
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return uploadError(err, p.maxBytes)
		}
		switch part.FormName() {
		case "token":
			up.token, err = readField(part, 4<<10)
		case "title":
			up.title, err = readField(part, 4<<10)
			up.titleSet = true
		case "data":
			if sent != nil || spool != nil {
				return edgev1.ErrorInvalidParameter("data is given twice")
			}
			if up.token != "" && up.titleSet {
				// Everything needed is known: stream as the bytes arrive.
				if err := p.verify(&up); err != nil {
					return err
				}
				sent, err = p.send(r.Context(), up, part)
			} else {
				spool, err = p.spool(part)
			}
		default:
			_, err = io.Copy(io.Discard, part)
		}
		part.Close()
		if err != nil {
			return uploadError(err, p.maxBytes)
		}
	}
	switch {
	case sent != nil:
		return nil
	case spool == nil:
		return edgev1.ErrorInvalidParameter("data (the video file) is required")
	}
	if err := p.verify(&up); err != nil {
		return err
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return apierror.Internal(fmt.Errorf("edge: rewinding spooled upload: %w", err))
	}
	_, err = p.send(r.Context(), up, spool)
	return err
}

func (p *publisher) verify(up *upload) error {
	if up.verified {
		return nil
	}
	if up.token == "" {
		return edgev1.ErrorTokenRequired("")
	}
	id, err := p.verifier.Verify(up.token)
	if err != nil {
		return tokenError(err)
	}
	up.user, up.verified = id, true
	return nil
}

// send streams the metadata and then the file to the video service.
func (p *publisher) send(ctx context.Context, up upload, file io.Reader) (*videov1.PublishResponse, error) {
	ctx, cancel := context.WithCancel(auth.WithUser(ctx, up.user))
	defer cancel()
	stream, err := p.videos.Publish(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&videov1.PublishRequest{Part: &videov1.PublishRequest_Metadata{Metadata: &videov1.PublishMetadata{Title: up.title}}}); err != nil {
		_, rerr := stream.CloseAndRecv()
		return nil, firstErr(rerr, err)
	}
	buf := make([]byte, chunkSize)
	var total int64
	for {
		n, rerr := io.ReadFull(file, buf)
		if n > 0 {
			total += int64(n)
			if total > p.maxBytes {
				return nil, videov1.ErrorTooLarge("the video exceeds %d bytes", p.maxBytes)
			}
			if err := stream.Send(&videov1.PublishRequest{Part: &videov1.PublishRequest_Chunk{Chunk: buf[:n]}}); err != nil {
				// The service ended the stream early: its reason is in CloseAndRecv.
				_, cerr := stream.CloseAndRecv()
				return nil, firstErr(cerr, err)
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return nil, uploadError(rerr, p.maxBytes)
		}
	}
	return stream.CloseAndRecv()
}

// spool copies the file part to a temporary file, within the size bound.
func (p *publisher) spool(part io.Reader) (*os.File, error) {
	f, err := os.CreateTemp(p.tempDir, "tremolo-upload-*")
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("edge: spooling an upload: %w", err))
	}
	n, err := io.Copy(f, io.LimitReader(part, p.maxBytes+1))
	if err == nil && n > p.maxBytes {
		err = videov1.ErrorTooLarge("the video exceeds %d bytes", p.maxBytes)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

func readField(part *multipart.Part, max int64) (string, error) {
	b, err := io.ReadAll(io.LimitReader(part, max+1))
	if err != nil {
		return "", err
	}
	if int64(len(b)) > max {
		return "", edgev1.ErrorInvalidParameter("field %s is too long", part.FormName())
	}
	return string(b), nil
}

// uploadError turns a failure to read the request into the error the app
// sees: too large, malformed, or (already) an API error.
func uploadError(err error, max int64) error {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return videov1.ErrorTooLarge("the video exceeds %d bytes", max)
	case isAPIError(err):
		return err
	}
	return edgev1.ErrorInvalidParameter("malformed multipart body")
}

func isAPIError(err error) bool {
	var e *apierror.Error
	return errors.As(err, &e)
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
