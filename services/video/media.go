package video

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// MediaRoute is the HTTP path prefix the media files are served under.
const MediaRoute = "/media/"

// Folders of the media directory.
const (
	videosDir = "videos"
	coversDir = "covers"
	// tmpDir holds uploads in progress; it is inside the media directory so
	// that moving a finished file into place is an atomic rename.
	tmpDir = "tmp"
)

// staleTemp is the age after which OpenMedia removes a leftover temporary
// file (from a crash mid-upload): far beyond Publish's 5-minute timeout.
const staleTemp = time.Hour

// Media is the service's media directory:
//
//	videos/<id>.mp4   published videos
//	covers/<id>.jpg   their covers
//	tmp/              uploads in progress
type Media struct {
	// Dir is the media directory's path.
	Dir string
}

// OpenMedia creates the media directory's folders if needed and removes
// temporary files an earlier process left behind more than an hour ago.
func OpenMedia(dir string, logger *slog.Logger) (*Media, error) {
	if dir == "" {
		return nil, errors.New("video: empty media directory")
	}
	for _, sub := range []string{videosDir, coversDir, tmpDir} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("video: media directory: %w", err)
		}
	}
	m := &Media{Dir: dir}
	m.sweepTemp(logger)
	return m, nil
}

func (m *Media) sweepTemp(logger *slog.Logger) {
	entries, err := os.ReadDir(filepath.Join(m.Dir, tmpDir))
	if err != nil {
		return
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || time.Since(info.ModTime()) < staleTemp {
			continue
		}
		path := filepath.Join(m.Dir, tmpDir, e.Name())
		if err := os.Remove(path); err != nil && logger != nil {
			logger.Warn("video: removing a stale upload", slog.String("path", path), slog.Any("error", err))
		}
	}
}

// videoFile and coverFile are the files of video id on disk.
func (m *Media) videoFile(id int64) string {
	return filepath.Join(m.Dir, videosDir, strconv.FormatInt(id, 10)+".mp4")
}

func (m *Media) coverFile(id int64) string {
	return filepath.Join(m.Dir, coversDir, strconv.FormatInt(id, 10)+".jpg")
}

// PlayPath and CoverPath are the paths of video id's files under the media
// route, as Video.play_path and Video.cover_path carry them.
func PlayPath(id int64) string {
	return MediaRoute + videosDir + "/" + strconv.FormatInt(id, 10) + ".mp4"
}

// CoverPath: see PlayPath.
func CoverPath(id int64) string {
	return MediaRoute + coversDir + "/" + strconv.FormatInt(id, 10) + ".jpg"
}

// mediaTypes are the files the handler serves: folder, extension and
// Content-Type. Anything else is 404.
var mediaTypes = map[string]map[string]string{
	videosDir: {".mp4": "video/mp4"},
	coversDir: {".jpg": "image/jpeg", ".png": "image/png"},
}

// MediaHandler serves the media directory under MediaRoute: exactly the
// paths /media/videos/<id>.mp4 and /media/covers/<id>.jpg|png with <id> a
// positive decimal id without leading zeros. The file opened is built from
// the parsed id, never from the request's text, so no other path (no
// traversal, no temporary upload, no directory listing) can be reached:
// everything else is 404. Range requests, If-Modified-Since and HEAD work
// as http.ServeContent implements them.
func MediaHandler(m *Media, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		folder, id, ext, ok := parseMediaPath(r.URL.Path)
		if !ok {
			http.NotFound(w, r)
			return
		}
		path := filepath.Join(m.Dir, folder, strconv.FormatInt(id, 10)+ext)
		f, err := os.Open(path)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				logger.WarnContext(r.Context(), "video: opening a media file", slog.String("path", path), slog.Any("error", err))
			}
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil || !info.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", mediaTypes[folder][ext])
		h.Set("X-Content-Type-Options", "nosniff")
		// A file never changes once published under its id.
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		http.ServeContent(w, r, "", info.ModTime(), f)
	})
}

// parseMediaPath accepts /media/<folder>/<id><ext> for a known folder and
// extension and a canonical positive id.
func parseMediaPath(p string) (folder string, id int64, ext string, ok bool) {
	rest, found := strings.CutPrefix(p, MediaRoute)
	if !found {
		return "", 0, "", false
	}
	folder, name, found := strings.Cut(rest, "/")
	exts, known := mediaTypes[folder]
	if !found || !known {
		return "", 0, "", false
	}
	dot := strings.IndexByte(name, '.')
	if dot < 0 {
		return "", 0, "", false
	}
	digits, ext := name[:dot], name[dot:]
	if _, known := exts[ext]; !known {
		return "", 0, "", false
	}
	id, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != digits {
		return "", 0, "", false
	}
	return folder, id, ext, true
}
