// Package cover makes a video's cover image: its first frame, extracted by
// ffmpeg when ffmpeg is installed, or else a generated gradient whose colour
// derives from the video's id. Both are JPEG files.
package cover

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"image/jpeg"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"runtime"
	"time"
)

// Size of generated covers: portrait 9:16, as short videos are.
const (
	Width  = 360
	Height = 640
)

// DefaultTimeout bounds one ffmpeg run.
const DefaultTimeout = 30 * time.Second

// Maker writes covers. The zero value generates images; Detect returns one
// that uses ffmpeg when it is on PATH. It is safe for concurrent use.
type Maker struct {
	// FFmpeg is the ffmpeg executable; empty means always generate.
	FFmpeg string
	// Timeout bounds one ffmpeg run (DefaultTimeout when zero).
	Timeout time.Duration
	// Logger receives a warning when ffmpeg fails and the generated image
	// stands in; nil discards it.
	Logger *slog.Logger

	// sem bounds concurrent ffmpeg runs (nil: unbounded).
	sem chan struct{}
}

// Detect returns a Maker using ffmpeg if it is on PATH, and logs which kind
// of cover the service will make.
func Detect(logger *slog.Logger) *Maker {
	// One ffmpeg per core: a burst of uploads queues instead of
	// starting a process each.
	m := &Maker{Logger: logger, sem: make(chan struct{}, runtime.NumCPU())}
	if path, err := exec.LookPath("ffmpeg"); err == nil {
		m.FFmpeg = path
	}
	if logger != nil {
		if m.FFmpeg != "" {
			logger.Info("video: covers are first frames, extracted by ffmpeg", slog.String("ffmpeg", m.FFmpeg))
		} else {
			logger.Info("video: ffmpeg is not on PATH; covers are generated images")
		}
	}
	return m
}

// Make writes the cover of the video file at video (whose id is id) to the
// new file out, as a JPEG, and syncs it to disk. When ffmpeg is configured
// but fails (a file without a decodable frame, a timeout), the generated
// image is written instead and a warning logged; the error is ctx's when the
// request is gone.
func (m *Maker) Make(ctx context.Context, id int64, video, out string) error {
	if m.FFmpeg != "" {
		err := m.ffmpeg(ctx, video, out)
		if err == nil {
			return syncFile(out)
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if m.Logger != nil {
			m.Logger.WarnContext(ctx, "video: ffmpeg found no cover frame; generating one", slog.Int64("video_id", id), slog.Any("error", err))
		}
	}
	return WriteGenerated(id, out)
}

func (m *Maker) ffmpeg(ctx context.Context, video, out string) error {
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if m.sem != nil {
		select {
		case m.sem <- struct{}{}:
			defer func() { <-m.sem }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// -f mov: the input was sniffed as MP4/QuickTime, so only that demuxer
	// may read it. -y: out is our own freshly named temp path.
	cmd := exec.CommandContext(ctx, m.FFmpeg,
		"-hide_banner", "-loglevel", "error", "-nostdin",
		"-f", "mov", "-i", video,
		"-frames:v", "1", "-f", "image2", "-update", "1", "-c:v", "mjpeg", "-q:v", "3", "-y", out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ffmpeg: %w: %s", err, tail(stderr.Bytes()))
	}
	st, err := os.Stat(out)
	if err != nil {
		return fmt.Errorf("ffmpeg wrote no cover: %w", err)
	}
	if st.Size() == 0 {
		return errors.New("ffmpeg wrote an empty cover")
	}
	return nil
}

func tail(b []byte) string {
	const n = 500
	b = bytes.TrimSpace(b)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// WriteGenerated writes id's generated cover (Generate) to the new file out
// as a JPEG and syncs it to disk.
func WriteGenerated(id int64, out string) error {
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if err := jpeg.Encode(f, Generate(id), &jpeg.Options{Quality: 85}); err != nil {
		_ = f.Close()
		return fmt.Errorf("encoding cover: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// Generate returns the generated cover of video id: a vertical gradient from
// a colour chosen by the id's hash (the same id always gets the same colour)
// to a darker shade of it.
func Generate(id int64) image.Image {
	top := Colour(id)
	img := image.NewRGBA(image.Rect(0, 0, Width, Height))
	for y := range Height {
		f := 1 - 0.65*float64(y)/float64(Height-1)
		c := color.RGBA{R: uint8(float64(top.R) * f), G: uint8(float64(top.G) * f), B: uint8(float64(top.B) * f), A: 255}
		row := img.Pix[y*img.Stride : y*img.Stride+Width*4]
		for x := 0; x < len(row); x += 4 {
			row[x], row[x+1], row[x+2], row[x+3] = c.R, c.G, c.B, c.A
		}
	}
	return img
}

// Colour is the top colour of id's generated cover: a saturated hue picked
// by an FNV-1a hash of the id.
func Colour(id int64) color.RGBA {
	h := fnv.New32a()
	var b [8]byte
	for i := range b {
		b[i] = byte(id >> (8 * i))
	}
	_, _ = h.Write(b[:])
	hue := float64(h.Sum32()%360) / 60
	// HSV with saturation 0.7 and value 0.95.
	v, s := 0.95, 0.7
	c := v * s
	x := c * (1 - math.Abs(math.Mod(hue, 2)-1))
	var r, g, bl float64
	switch int(hue) {
	case 0:
		r, g = c, x
	case 1:
		r, g = x, c
	case 2:
		g, bl = c, x
	case 3:
		g, bl = x, c
	case 4:
		r, bl = x, c
	default:
		r, bl = c, x
	}
	m := v - c
	to8 := func(f float64) uint8 { return uint8(math.Round((f + m) * 255)) }
	return color.RGBA{R: to8(r), G: to8(g), B: to8(bl), A: 255}
}
