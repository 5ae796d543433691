package cover

import (
	"bytes"
	"context"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func decode(t *testing.T, path string) (w, h int) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s is not a JPEG: %v", path, err)
	}
	return img.Bounds().Dx(), img.Bounds().Dy()
}

func TestGeneratedCover(t *testing.T) {
	if Colour(42) != Colour(42) {
		t.Fatal("colour of an id is not stable")
	}
	distinct := map[[3]uint8]bool{}
	for id := int64(1); id <= 20; id++ {
		c := Colour(id)
		distinct[[3]uint8{c.R, c.G, c.B}] = true
	}
	if len(distinct) < 10 {
		t.Fatalf("20 ids share only %d colours", len(distinct))
	}
	out := filepath.Join(t.TempDir(), "c.jpg")
	var m Maker // zero value: generated
	if err := m.Make(context.Background(), 42, "/nonexistent", out); err != nil {
		t.Fatal(err)
	}
	if w, h := decode(t, out); w != Width || h != Height {
		t.Fatalf("generated cover is %dx%d", w, h)
	}
}

// script writes an executable shell script standing in for ffmpeg.
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ffmpeg")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFFmpegIsCalledWithTheFiles(t *testing.T) {
	dir := t.TempDir()
	args := filepath.Join(dir, "args")
	// Writes its arguments, and a marker as the cover (the last argument).
	m := Maker{FFmpeg: script(t, `echo "$@" > `+args+`; for a; do last=$a; done; printf 'frame' > "$last"`)}
	out := filepath.Join(dir, "c.jpg")
	if err := m.Make(context.Background(), 1, "/in/video.mp4", out); err != nil {
		t.Fatal(err)
	}
	if raw, _ := os.ReadFile(out); string(raw) != "frame" {
		t.Fatalf("cover = %q, want ffmpeg's output", raw)
	}
	got, _ := os.ReadFile(args)
	for _, want := range []string{"-f mov -i /in/video.mp4", "-frames:v 1", out} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("ffmpeg arguments %q lack %q", got, want)
		}
	}
}

func TestFFmpegFailureFallsBackToGenerated(t *testing.T) {
	for name, body := range map[string]string{
		"exit status": "echo 'no video stream' >&2; exit 1",
		"no output":   "exit 0",
		"timeout":     "sleep 5",
	} {
		t.Run(name, func(t *testing.T) {
			m := Maker{FFmpeg: script(t, body), Timeout: 200 * time.Millisecond}
			out := filepath.Join(t.TempDir(), "c.jpg")
			start := time.Now()
			if err := m.Make(context.Background(), 7, "/in/video.mp4", out); err != nil {
				t.Fatal(err)
			}
			if time.Since(start) > 3*time.Second {
				t.Fatalf("Make took %v: the timeout did not stop ffmpeg", time.Since(start))
			}
			if w, h := decode(t, out); w != Width || h != Height {
				t.Fatalf("fallback cover is %dx%d", w, h)
			}
		})
	}
}

func TestCancelledRequestIsAnError(t *testing.T) {
	m := Maker{FFmpeg: script(t, "sleep 5")}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := m.Make(ctx, 7, "/in/video.mp4", filepath.Join(t.TempDir(), "c.jpg")); err == nil {
		t.Fatal("Make with a cancelled context succeeded")
	}
}

// TestRealFFmpeg extracts a real first frame when ffmpeg is installed.
func TestRealFFmpeg(t *testing.T) {
	m := Detect(nil)
	if m.FFmpeg == "" {
		t.Skip("ffmpeg is not on PATH")
	}
	dir := t.TempDir()
	video := filepath.Join(dir, "v.mp4")
	gen := exec.Command(m.FFmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10:duration=1",
		"-pix_fmt", "yuv420p", "-y", video)
	if out, err := gen.CombinedOutput(); err != nil {
		t.Skipf("this ffmpeg cannot make a test video: %v: %s", err, out)
	}
	out := filepath.Join(dir, "c.jpg")
	if err := m.ffmpeg(context.Background(), video, out); err != nil {
		t.Fatal(err)
	}
	if w, h := decode(t, out); w != 320 || h != 240 {
		t.Fatalf("first frame is %dx%d, want 320x240", w, h)
	}
}
