package oci

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// layoutFile is the content of an OCI image layout's oci-layout file.
const layoutFile = `{"imageLayoutVersion":"1.0.0"}`

// blob is one content-addressed file of a layout.
type blob struct {
	digest v1.Hash
	size   int64
	open   func() (io.ReadCloser, error)
}

// Blobs lists every blob reachable from top (manifests, configs, layers),
// each once, sorted by digest.
func Blobs(top v1.ImageIndex) ([]blob, error) {
	seen := map[v1.Hash]blob{}
	add := func(h v1.Hash, size int64, open func() (io.ReadCloser, error)) {
		if _, ok := seen[h]; !ok {
			seen[h] = blob{digest: h, size: size, open: open}
		}
	}
	var walkIndex func(ii v1.ImageIndex) error
	walkImage := func(img v1.Image) error {
		raw, err := img.RawManifest()
		if err != nil {
			return err
		}
		d, err := img.Digest()
		if err != nil {
			return err
		}
		add(d, int64(len(raw)), bytesOpener(raw))
		cfg, err := img.RawConfigFile()
		if err != nil {
			return err
		}
		cn, err := img.ConfigName()
		if err != nil {
			return err
		}
		add(cn, int64(len(cfg)), bytesOpener(cfg))
		m, err := img.Manifest()
		if err != nil {
			return err
		}
		for _, ld := range m.Layers {
			l, err := img.LayerByDigest(ld.Digest)
			if err != nil {
				return err
			}
			add(ld.Digest, ld.Size, l.Compressed)
		}
		return nil
	}
	walkIndex = func(ii v1.ImageIndex) error {
		im, err := ii.IndexManifest()
		if err != nil {
			return err
		}
		for _, d := range im.Manifests {
			switch {
			case d.MediaType.IsIndex():
				child, err := ii.ImageIndex(d.Digest)
				if err != nil {
					return err
				}
				raw, err := child.RawManifest()
				if err != nil {
					return err
				}
				add(d.Digest, int64(len(raw)), bytesOpener(raw))
				if err := walkIndex(child); err != nil {
					return err
				}
			default:
				img, err := ii.Image(d.Digest)
				if err != nil {
					return err
				}
				if err := walkImage(img); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walkIndex(top); err != nil {
		return nil, err
	}
	out := make([]blob, 0, len(seen))
	for _, b := range seen {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].digest.String() < out[j].digest.String() })
	return out, nil
}

func bytesOpener(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// WriteLayout writes top as an OCI image layout in dir: oci-layout,
// index.json (top's JSON) and blobs/sha256/*. Blobs already there are
// kept (they are content-addressed); index.json is replaced. dir must be
// missing, empty, or an OCI layout already.
func WriteLayout(dir string, top v1.ImageIndex) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
			return fmt.Errorf("layout %s: not empty and not an OCI image layout", dir)
		}
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	blobs, err := Blobs(top)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return err
	}
	for _, b := range blobs {
		p := filepath.Join(dir, "blobs", b.digest.Algorithm, b.digest.Hex)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			continue
		}
		if err := writeFileFrom(p, b.open); err != nil {
			return err
		}
	}
	raw, err := top.RawManifest()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, "oci-layout"), []byte(layoutFile)); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "index.json"), raw)
}

func writeFileFrom(p string, open func() (io.ReadCloser, error)) error {
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

func writeFileAtomic(p string, data []byte) error {
	return writeFileFrom(p, bytesOpener(data))
}

// WriteTarball writes top as an OCI image layout in one tar stream (the
// "oci-archive" format of skopeo, podman and `docker load`): the same
// files as WriteLayout, sorted, with fixed times, modes and owners.
func WriteTarball(w io.Writer, top v1.ImageIndex, mtime time.Time) error {
	blobs, err := Blobs(top)
	if err != nil {
		return err
	}
	raw, err := top.RawManifest()
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	dir := func(name string) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX})
	}
	file := func(name string, size int64, open func() (io.ReadCloser, error)) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		rc, err := open()
		if err != nil {
			return err
		}
		defer rc.Close()
		n, err := io.Copy(tw, rc)
		if err == nil && n != size {
			err = fmt.Errorf("tarball: %s: %d bytes, want %d", name, n, size)
		}
		return err
	}
	// Sorted: blobs/, blobs/sha256/, blobs/sha256/*, index.json, oci-layout.
	if err := dir("blobs/"); err != nil {
		return err
	}
	if err := dir("blobs/sha256/"); err != nil {
		return err
	}
	for _, b := range blobs {
		if err := file("blobs/"+b.digest.Algorithm+"/"+b.digest.Hex, b.size, b.open); err != nil {
			return err
		}
	}
	if err := file("index.json", int64(len(raw)), bytesOpener(raw)); err != nil {
		return err
	}
	if err := file("oci-layout", int64(len(layoutFile)), bytesOpener([]byte(layoutFile))); err != nil {
		return err
	}
	return tw.Close()
}
