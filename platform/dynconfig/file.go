package dynconfig

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// MaxDocumentBytes is the largest document a source accepts. A bigger file
// or key is refused (logged, its last good bytes kept): configuration this
// large is a mistake, and every subscriber would hold a copy. etcd refuses
// values over 1.5 MiB anyway.
const MaxDocumentBytes = 1 << 20

// FileSource reads documents from the files of one directory: a file
// <name>.yaml, <name>.yml or <name>.json holds the document <name>
// (DocumentName). Subdirectories and other files are ignored.
//
// It polls: every Poll it lists the directory, reads every document file
// and compares the bytes with the last ones. Documents are small (at most
// MaxDocumentBytes), so reading them all costs less than being clever: a
// size-and-modification-time check misses an edit within the timestamp
// resolution of the filesystem (a second or two on some) or one that
// restores the old time (cp -p, tar, rsync -t); the content cannot be
// fooled. Only a real change produces a Snapshot.
//
// Writing a file in place works, but a reader may then see it half written;
// write a temporary file and rename it over the old one (what editors and
// Kubernetes do) to change a document atomically.
//
// A missing directory means no documents, not an error, so a process
// started without one runs with its defaults and picks documents up once
// the directory appears. A file that cannot be read (permissions, too big,
// two files for one name) is logged once and its document keeps its last
// good bytes; only a file that is gone removes its document.
type FileSource struct {
	// Dir is the directory of documents. Required.
	Dir string
	// Poll is how often the directory is looked at. Default: 1s.
	Poll time.Duration
	// Logger receives unreadable files and the directory's state.
	// Default: discard.
	Logger *slog.Logger
}

// Watch implements Source. The first Snapshot is ready when Watch returns.
func (s *FileSource) Watch(ctx context.Context) (<-chan Snapshot, error) {
	if s.Dir == "" {
		return nil, errors.New("dynconfig: FileSource.Dir is empty")
	}
	p := &filePoller{dir: s.Dir, logger: s.Logger, logged: map[string]string{}}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	poll := s.Poll
	if poll <= 0 {
		poll = time.Second
	}
	ch := make(chan Snapshot, 1)
	docs := p.scan(nil)
	offer(ch, Snapshot{Documents: docs, Revision: "file:" + digest(docs)})
	go func() {
		defer close(ch)
		t := time.NewTicker(poll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			next := p.scan(docs)
			if !equalDocs(next, docs) {
				docs = next
				offer(ch, Snapshot{Documents: docs, Revision: "file:" + digest(docs)})
			}
		}
	}()
	return ch, nil
}

// filePoller is the state of one FileSource.Watch: which problems it has
// already logged.
type filePoller struct {
	dir    string
	logger *slog.Logger
	// logged maps a path (or "" for the directory) to the last problem
	// logged about it, so that a lasting problem is said once, not every
	// poll.
	logged map[string]string
}

// scan reads the directory and returns the documents, given the previous
// ones (whose bytes a failing file keeps). It never modifies prev.
func (p *filePoller) scan(prev map[string][]byte) map[string][]byte {
	entries, err := os.ReadDir(p.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		p.problemAt(slog.LevelInfo, "", "directory does not exist: no documents until it does", nil)
		for path := range p.logged {
			if path != "" {
				delete(p.logged, path)
			}
		}
		return map[string][]byte{}
	case err != nil:
		p.problem("", "cannot list the directory; keeping the documents read before", err)
		return prev
	}
	p.resolved("")

	byName := map[string][]string{}
	for _, e := range entries {
		if name, ok := DocumentName(e.Name()); ok {
			byName[name] = append(byName[name], filepath.Join(p.dir, e.Name()))
		}
	}
	docs := make(map[string][]byte, len(byName))
	seen := map[string]bool{}
	for name, paths := range byName {
		for _, path := range paths {
			seen[path] = true
		}
		if len(paths) > 1 {
			slices.Sort(paths)
			for _, path := range paths {
				p.problem(path, fmt.Sprintf("document %q is defined by %d files (%s); refusing all of them and keeping its last good bytes until one is removed", name, len(paths), strings.Join(paths, ", ")), nil)
			}
			if old, ok := prev[name]; ok {
				docs[name] = old
			}
			continue
		}
		data, present, err := p.read(paths[0])
		switch {
		case err != nil:
			p.problem(paths[0], "cannot read the document; keeping its last good bytes", err)
			if old, ok := prev[name]; ok {
				docs[name] = old
			}
		case present:
			p.resolved(paths[0])
			docs[name] = data
		}
	}
	for path := range p.logged {
		if path != "" && !seen[path] {
			delete(p.logged, path) // gone: its problem with it
		}
	}
	return docs
}

// read returns a file's content. present is false when the file vanished
// since the listing.
func (p *filePoller) read(path string) (data []byte, present bool, err error) {
	info, err := os.Stat(path) // follows symlinks, as in a ConfigMap volume
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if !info.Mode().IsRegular() {
		return nil, false, fmt.Errorf("%s is not a regular file (%v)", path, info.Mode().Type())
	}
	if info.Size() > MaxDocumentBytes {
		return nil, false, fmt.Errorf("%s is %d bytes, more than the %d a document may have", path, info.Size(), MaxDocumentBytes)
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	// Bounded: the file may have grown since Stat.
	data, err = io.ReadAll(io.LimitReader(f, MaxDocumentBytes+1))
	if err != nil {
		return nil, false, err
	}
	if len(data) > MaxDocumentBytes {
		return nil, false, fmt.Errorf("%s is more than the %d bytes a document may have", path, MaxDocumentBytes)
	}
	return data, true, nil
}

// problem logs a problem with a path once, until it changes or resolves.
func (p *filePoller) problem(path, msg string, err error) {
	p.problemAt(slog.LevelWarn, path, msg, err)
}

// problemAt is problem at a chosen level.
func (p *filePoller) problemAt(level slog.Level, path, msg string, err error) {
	key := msg
	if err != nil {
		key += ": " + err.Error()
	}
	if p.logged[path] == key {
		return
	}
	p.logged[path] = key
	attrs := []any{slog.String("dir", p.dir)}
	if path != "" {
		attrs = append(attrs, slog.String("file", path))
	}
	if err != nil {
		attrs = append(attrs, slog.Any("error", err))
	}
	p.logger.Log(context.Background(), level, "dynconfig: "+msg, attrs...)
}

// resolved forgets a logged problem, logging that it is over.
func (p *filePoller) resolved(path string) {
	if _, ok := p.logged[path]; !ok {
		return
	}
	delete(p.logged, path)
	if path == "" {
		p.logger.Info("dynconfig: the configuration directory is readable", slog.String("dir", p.dir))
	} else {
		p.logger.Info("dynconfig: the document file is readable again", slog.String("file", path))
	}
}
