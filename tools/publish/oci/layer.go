package oci

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// File is one entry of a layer: a regular file, a directory (Dir) or a
// symbolic link (Link). Parent directories that are not listed are added
// as root-owned 0755 directories.
type File struct {
	Path     string // absolute, slash-separated ("/etc/passwd")
	Mode     int64  // permission bits (and sticky bit), e.g. 0o644, 0o1777
	UID, GID int
	Dir      bool
	Link     string // symbolic link target
	Data     []byte
}

// Layer is a gzip-compressed tar layer held in memory, built once: its
// digests are computed when it is made, so pushing or writing it never
// recompresses. Only the compressed bytes are kept. It implements v1.Layer.
type Layer struct {
	compressed []byte
	digest     v1.Hash
	diffID     v1.Hash
}

var _ v1.Layer = (*Layer)(nil)

// NewLayer makes a reproducible layer from files: entries sorted by path,
// every time stamp set to mtime, no user or group names, and gzip output
// that depends only on the input bytes (no name or time in its header).
func NewLayer(files []File, mtime time.Time) (*Layer, error) {
	tarball, err := tarFiles(files, mtime)
	if err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(tarball); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return &Layer{
		compressed: gz.Bytes(),
		digest:     sha256Hash(gz.Bytes()),
		diffID:     sha256Hash(tarball),
	}, nil
}

func sha256Hash(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sum[:])}
}

// tarFiles writes files (plus their missing parent directories) as a tar
// stream in path order.
func tarFiles(files []File, mtime time.Time) ([]byte, error) {
	byPath := map[string]File{}
	for _, f := range files {
		p := path.Clean("/" + f.Path)
		if p == "/" {
			return nil, fmt.Errorf("layer: entry with an empty path")
		}
		if _, dup := byPath[p]; dup {
			return nil, fmt.Errorf("layer: %s listed twice", p)
		}
		f.Path = p
		byPath[p] = f
	}
	for p := range byPath {
		for dir := path.Dir(p); dir != "/"; dir = path.Dir(dir) {
			if existing, ok := byPath[dir]; ok {
				if !existing.Dir {
					return nil, fmt.Errorf("layer: %s is not a directory but holds %s", dir, p)
				}
				continue
			}
			byPath[dir] = File{Path: dir, Dir: true, Mode: 0o755}
		}
	}
	paths := make([]string, 0, len(byPath))
	for p := range byPath {
		paths = append(paths, p)
	}
	sort.Strings(paths)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		f := byPath[p]
		hdr := &tar.Header{
			Name:    strings.TrimPrefix(p, "/"),
			Mode:    f.Mode,
			Uid:     f.UID,
			Gid:     f.GID,
			ModTime: mtime,
			Format:  tar.FormatPAX,
		}
		switch {
		case f.Dir:
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
		case f.Link != "":
			hdr.Typeflag = tar.TypeSymlink
			hdr.Linkname = f.Link
		default:
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(f.Data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("layer: %s: %w", p, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			if _, err := tw.Write(f.Data); err != nil {
				return nil, fmt.Errorf("layer: %s: %w", p, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Digest is the sha256 of the compressed layer (its blob name).
func (l *Layer) Digest() (v1.Hash, error) { return l.digest, nil }

// DiffID is the sha256 of the uncompressed tar (the image config's rootfs entry).
func (l *Layer) DiffID() (v1.Hash, error) { return l.diffID, nil }

// Compressed returns the gzip bytes.
func (l *Layer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.compressed)), nil
}

// Uncompressed returns the tar stream (decompressed on the fly).
func (l *Layer) Uncompressed() (io.ReadCloser, error) {
	return gzip.NewReader(bytes.NewReader(l.compressed))
}

// Size is the compressed size.
func (l *Layer) Size() (int64, error) { return int64(len(l.compressed)), nil }

// MediaType is the OCI gzip layer type.
func (l *Layer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }

// descriptor is the layer's entry in a manifest.
func (l *Layer) descriptor() v1.Descriptor {
	return v1.Descriptor{MediaType: types.OCILayer, Size: int64(len(l.compressed)), Digest: l.digest}
}
