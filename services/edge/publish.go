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

	"google.golang.org/grpc/codes"
	"unicode/utf8"

	"google.golang.org/grpc"

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
	// spools bounds concurrent spooled uploads (see spool); it must have
	// capacity maxSpools.
	spools chan struct{}
}

// maxSpools is how many uploads may spool to disk at once.
const maxSpools = 4

func (p *publisher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := p.publish(r); err != nil {
		writeEnvelope(w, r, err)
		return
	}
	writeEnvelope(w, r, nil)
}

// upload is what the request said so far.
type upload struct {
	token, title       string
	tokenSet, titleSet bool
	user               int64
	verified           bool
}

// set records the token or the title. Like every other route, publish
// takes a parameter from the query and the form at once when both carry
// the same value, and refuses two different values (which one the app
// meant is unknown) and text that is not UTF-8.
func (up *upload) set(name, v string) error {
	if !utf8.ValidString(v) {
		return edgev1.ErrorInvalidParameter("parameter %s is not UTF-8", name)
	}
	cur, isSet := &up.token, &up.tokenSet
	if name == "title" {
		cur, isSet = &up.title, &up.titleSet
	}
	if *isSet && *cur != v {
		return edgev1.ErrorInvalidParameter("parameter %s is given twice with different values", name)
	}
	*cur, *isSet = v, true
	return nil
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
	var up upload
	q := r.URL.Query()
	for _, name := range []string{"token", "title"} {
		for _, v := range q[name] {
			if err := up.set(name, v); err != nil {
				return err
			}
		}
	}
	if !up.tokenSet {
		if tok := auth.Token(r); tok != "" { // Authorization: Bearer
			up.token, up.tokenSet = tok, true
		}
	}
	var (
		sending *sending // the file streamed as it arrived, not yet committed
		spool   *os.File
	)
	defer func() {
		if sending != nil {
			sending.abort()
		}
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
		switch name := part.FormName(); name {
		case "token", "title":
			var v string
			if v, err = readField(part, 4<<10); err == nil {
				err = up.set(name, v)
			}
		case "data":
			if sending != nil || spool != nil {
				return edgev1.ErrorInvalidParameter("data is given twice")
			}
			// A token that came before the file is checked before reading it.
			if up.token != "" {
				if err := p.verify(&up); err != nil {
					return err
				}
			}
			if up.verified && up.titleSet {
				// Everything needed is known: stream as the bytes arrive.
				if sending, err = p.start(r.Context(), up); err == nil {
					err = sending.copy(part)
				}
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
	// The whole body is read and valid: only now is the video committed
	// (the service stores it when the stream is closed). Any failure
	// before this point abandons the stream, and nothing is written.
	if sending != nil {
		s := sending
		sending = nil
		_, err := s.finish()
		return err
	}
	if spool == nil {
		return edgev1.ErrorInvalidParameter("data (the video file) is required")
	}
	if err := p.verify(&up); err != nil {
		return err
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return apierror.Internal(fmt.Errorf("edge: rewinding spooled upload: %w", err))
	}
	if sending, err = p.start(r.Context(), up); err != nil {
		return err
	}
	if err := sending.copy(spool); err != nil {
		return uploadError(err, p.maxBytes)
	}
	s := sending
	sending = nil
	_, err = s.finish()
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

// sending is a Publish stream to the video service: the metadata, then
// the file in chunks. The service stores the video only when the stream is
// closed (finish); abort abandons it, and the service discards what it got.
type sending struct {
	stream   grpc.ClientStreamingClient[videov1.PublishRequest, videov1.PublishResponse]
	cancel   context.CancelFunc
	maxBytes int64
	total    int64
}

// start opens the stream as the upload's user and sends the metadata.
func (p *publisher) start(ctx context.Context, up upload) (*sending, error) {
	ctx, cancel := context.WithCancel(auth.WithUser(ctx, up.user))
	stream, err := p.videos.Publish(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	s := &sending{stream: stream, cancel: cancel, maxBytes: p.maxBytes}
	if err := stream.Send(&videov1.PublishRequest{Part: &videov1.PublishRequest_Metadata{Metadata: &videov1.PublishMetadata{Title: up.title}}}); err != nil {
		_, rerr := stream.CloseAndRecv()
		cancel()
		return nil, firstErr(rerr, err)
	}
	return s, nil
}

// copy sends file's bytes. A file that ends early (a truncated multipart
// body) is an error, not the end of the video.
func (s *sending) copy(file io.Reader) error {
	buf := make([]byte, chunkSize)
	for {
		n, rerr := fill(file, buf)
		if n > 0 {
			s.total += int64(n)
			if s.total > s.maxBytes {
				return videov1.ErrorTooLarge("the video exceeds %d bytes", s.maxBytes)
			}
			if err := s.stream.Send(&videov1.PublishRequest{Part: &videov1.PublishRequest_Chunk{Chunk: buf[:n]}}); err != nil {
				// The service ended the stream early: its reason is in CloseAndRecv.
				_, cerr := s.stream.CloseAndRecv()
				return firstErr(cerr, err)
			}
		}
		if errors.Is(rerr, io.EOF) {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// finish closes the stream: the service stores the video and answers.
func (s *sending) finish() (*videov1.PublishResponse, error) {
	defer s.cancel()
	return s.stream.CloseAndRecv()
}

// abort abandons the stream without closing it: the service sees the
// call cancelled and stores nothing.
func (s *sending) abort() { s.cancel() }

// fill reads from r until buf is full or r ends. It returns io.EOF only at
// r's end; any other error (io.ErrUnexpectedEOF from a multipart part
// cut short) is returned as such.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// spool copies the file part to a temporary file, within the size bound.
//
// At most maxSpools uploads spool at once: a spooled upload may not have
// shown a token yet, so the disk it can take must be bounded.
func (p *publisher) spool(part io.Reader) (*os.File, error) {
	select {
	case p.spools <- struct{}{}:
		defer func() { <-p.spools }()
	default:
		return nil, apierror.Platform(codes.ResourceExhausted).Errorf("too many uploads at once: send the token and title before the file, or retry")
	}
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
