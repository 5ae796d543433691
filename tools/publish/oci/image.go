// Package oci assembles Tremolo's container images without a Docker daemon,
// the way ko does: a shared base layer (users, CA certificates, time zones,
// a writable data directory) plus one layer holding a static Go binary, an
// OCI image per platform, one OCI image index per service, and SBOM
// artifacts that refer to the images. Everything is reproducible: the same
// inputs give the same bytes (fixed time stamps, sorted tar entries and
// JSON keys, gzip without names or times).
package oci

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Standard OCI annotation and label keys.
const (
	AnnotationCreated     = "org.opencontainers.image.created"
	AnnotationSource      = "org.opencontainers.image.source"
	AnnotationRevision    = "org.opencontainers.image.revision"
	AnnotationTitle       = "org.opencontainers.image.title"
	AnnotationDescription = "org.opencontainers.image.description"
	AnnotationVersion     = "org.opencontainers.image.version"
	AnnotationRefName     = "org.opencontainers.image.ref.name"
	AnnotationBaseName    = "org.opencontainers.image.base.name"
)

// Platform is an OS/architecture pair such as linux/arm64.
type Platform struct {
	OS, Arch string
}

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// Variant is the OCI platform variant: v8 for arm64, none otherwise.
func (p Platform) Variant() string {
	if p.Arch == "arm64" {
		return "v8"
	}
	return ""
}

// ParsePlatform reads "os/arch".
func ParsePlatform(s string) (Platform, error) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' && i > 0 && i < len(s)-1 {
			return Platform{OS: s[:i], Arch: s[i+1:]}, nil
		}
	}
	return Platform{}, fmt.Errorf("platform %q: want os/arch, e.g. linux/arm64", s)
}

// ImageSpec describes one service image for one platform.
type ImageSpec struct {
	Service  string
	Platform Platform
	Base     *Layer // BaseLayer
	Binary   *Layer // BinaryLayer(Service, ...)
	Created  time.Time
	Labels   map[string]string
	// Env is added after the defaults (PATH, SSL_CERT_FILE, TREMOLO_DATA_DIR).
	Env []string
	// Ports the service listens on, e.g. "8080/tcp".
	Ports []string
}

// Image is an OCI image (or artifact) held in memory. It implements v1.Image.
type Image struct {
	v1.Image
	rawConfig   []byte
	rawManifest []byte
	blobs       []blobLayer
}

// blobLayer is a layer blob an Image serves.
type blobLayer interface {
	partial.CompressedLayer
}

// NewImage builds the image of spec: config and manifest JSON are made
// here, once, and never change.
func NewImage(spec ImageSpec) (*Image, error) {
	if spec.Base == nil || spec.Binary == nil {
		return nil, fmt.Errorf("image %s %s: base and binary layers are required", spec.Service, spec.Platform)
	}
	created := v1.Time{Time: spec.Created.UTC()}
	layers := []*Layer{spec.Base, spec.Binary}
	env := append([]string{
		"PATH=" + BinDir + ":/usr/bin:/bin",
		"SSL_CERT_FILE=" + CAFile,
		"TREMOLO_DATA_DIR=" + DataDir,
	}, spec.Env...)
	ports := map[string]struct{}{}
	for _, p := range spec.Ports {
		ports[p] = struct{}{}
	}
	cfg := v1.ConfigFile{
		Architecture: spec.Platform.Arch,
		OS:           spec.Platform.OS,
		Variant:      spec.Platform.Variant(),
		Created:      created,
		Config: v1.Config{
			User:         fmt.Sprintf("%d:%d", NonRootUID, NonRootGID),
			Entrypoint:   []string{BinDir + "/" + spec.Service},
			Env:          env,
			WorkingDir:   DataDir,
			ExposedPorts: ports,
			Labels:       spec.Labels,
			StopSignal:   "SIGTERM",
		},
		RootFS: v1.RootFS{Type: "layers"},
		History: []v1.History{
			{Created: created, CreatedBy: "tremolo-publish: base files (users, CA certificates, time zones, " + DataDir + ")"},
			{Created: created, CreatedBy: "tremolo-publish: " + BinDir + "/" + spec.Service + " (" + spec.Platform.String() + ")"},
		},
	}
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.diffID)
	}
	rawConfig, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config: v1.Descriptor{
			MediaType: types.OCIConfigJSON,
			Size:      int64(len(rawConfig)),
			Digest:    sha256Hash(rawConfig),
		},
		Annotations: manifestAnnotations(spec.Labels),
	}
	for _, l := range layers {
		m.Layers = append(m.Layers, l.descriptor())
	}
	rawManifest, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	img := &Image{rawConfig: rawConfig, rawManifest: rawManifest}
	for _, l := range layers {
		img.blobs = append(img.blobs, l)
	}
	return img.init()
}

// manifestAnnotations repeats the OCI labels on the manifest (tools such
// as `crane manifest` show them without fetching the config).
func manifestAnnotations(labels map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range []string{AnnotationCreated, AnnotationSource, AnnotationRevision, AnnotationTitle, AnnotationVersion} {
		if v, ok := labels[k]; ok {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (img *Image) init() (*Image, error) {
	full, err := partial.CompressedToImage(imageCore{img})
	if err != nil {
		return nil, err
	}
	img.Image = full
	return img, nil
}

// imageCore is what partial.CompressedToImage needs.
type imageCore struct{ img *Image }

func (c imageCore) RawConfigFile() ([]byte, error) { return c.img.rawConfig, nil }
func (c imageCore) RawManifest() ([]byte, error)   { return c.img.rawManifest, nil }
func (c imageCore) MediaType() (types.MediaType, error) {
	var m struct {
		MediaType types.MediaType `json:"mediaType"`
	}
	if err := json.Unmarshal(c.img.rawManifest, &m); err != nil {
		return "", err
	}
	return m.MediaType, nil
}
func (c imageCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range c.img.blobs {
		if d, err := l.Digest(); err == nil && d == h {
			return l, nil
		}
	}
	// Some writers fetch the config through LayerByDigest too.
	if h == sha256Hash(c.img.rawConfig) {
		var m v1.Manifest
		if err := json.Unmarshal(c.img.rawManifest, &m); err != nil {
			return nil, err
		}
		return &rawLayer{b: c.img.rawConfig, mt: m.Config.MediaType}, nil
	}
	return nil, fmt.Errorf("image has no blob %s", h)
}

// Descriptor is the image's entry in an index (digest, size, media type).
func Descriptor(img v1.Image) (v1.Descriptor, error) {
	d, err := partial.Descriptor(img)
	if err != nil {
		return v1.Descriptor{}, err
	}
	return *d, nil
}

// Index is an OCI image index held in memory. It implements v1.ImageIndex.
type Index struct {
	raw     []byte
	images  map[v1.Hash]v1.Image
	indexes map[v1.Hash]v1.ImageIndex
}

var _ v1.ImageIndex = (*Index)(nil)

// IndexEntry is one manifest of an index, an image or a child index, with
// the descriptor fields to add (platform, annotations, artifact type).
type IndexEntry struct {
	Image        v1.Image
	Index        v1.ImageIndex
	Platform     *Platform
	Annotations  map[string]string
	ArtifactType string // set for artifacts (e.g. an SBOM) in a layout's index
}

// NewIndex builds an OCI image index of entries, in the order given.
func NewIndex(entries []IndexEntry, annotations map[string]string) (*Index, error) {
	im := &v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests:     []v1.Descriptor{},
		Annotations:   annotations,
	}
	x := &Index{images: map[v1.Hash]v1.Image{}, indexes: map[v1.Hash]v1.ImageIndex{}}
	for _, e := range entries {
		var (
			d   *v1.Descriptor
			err error
		)
		switch {
		case e.Image != nil && e.Index == nil:
			d, err = partial.Descriptor(e.Image)
		case e.Index != nil && e.Image == nil:
			d, err = partial.Descriptor(e.Index)
		default:
			err = fmt.Errorf("index entry: want an image or an index")
		}
		if err != nil {
			return nil, err
		}
		if e.Platform != nil {
			d.Platform = &v1.Platform{OS: e.Platform.OS, Architecture: e.Platform.Arch, Variant: e.Platform.Variant()}
		}
		d.Annotations = e.Annotations
		d.ArtifactType = e.ArtifactType
		im.Manifests = append(im.Manifests, *d)
		if e.Image != nil {
			x.images[d.Digest] = e.Image
		} else {
			x.indexes[d.Digest] = e.Index
		}
	}
	raw, err := json.Marshal(im)
	if err != nil {
		return nil, err
	}
	x.raw = raw
	return x, nil
}

// MediaType is the OCI index type.
func (x *Index) MediaType() (types.MediaType, error) { return types.OCIImageIndex, nil }

// Digest is the sha256 of the index JSON.
func (x *Index) Digest() (v1.Hash, error) { return sha256Hash(x.raw), nil }

// Size is the length of the index JSON.
func (x *Index) Size() (int64, error) { return int64(len(x.raw)), nil }

// IndexManifest returns a copy of the parsed index.
func (x *Index) IndexManifest() (*v1.IndexManifest, error) {
	var im v1.IndexManifest
	if err := json.Unmarshal(x.raw, &im); err != nil {
		return nil, err
	}
	return &im, nil
}

// RawManifest is the index JSON.
func (x *Index) RawManifest() ([]byte, error) { return x.raw, nil }

// Image returns the image with digest h.
func (x *Index) Image(h v1.Hash) (v1.Image, error) {
	if img, ok := x.images[h]; ok {
		return img, nil
	}
	return nil, fmt.Errorf("index has no image %s", h)
}

// ImageIndex returns the child index with digest h.
func (x *Index) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	if ii, ok := x.indexes[h]; ok {
		return ii, nil
	}
	return nil, fmt.Errorf("index has no child index %s", h)
}

// SortedKeys returns m's keys in order (a helper for callers that print).
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
