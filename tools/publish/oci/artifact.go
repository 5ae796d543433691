package oci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Media types of SBOM artifacts and of OCI 1.1's empty config.
const (
	SPDXMediaType  types.MediaType = "application/spdx+json"
	EmptyMediaType types.MediaType = "application/vnd.oci.empty.v1+json"
)

// emptyJSON is the OCI 1.1 empty descriptor's content.
var emptyJSON = []byte("{}")

// NewArtifact builds an OCI 1.1 artifact manifest: artifactType, the empty
// config, one blob of mediaType, and subject (the image it describes), so
// that registries list it among the subject's referrers (or, on registries
// without the Referrers API, clients keep the sha256-<digest> fallback
// tag). title names the blob for tools that save it to a file.
func NewArtifact(artifactType types.MediaType, blob []byte, title string, subject v1.Descriptor, annotations map[string]string) (*Image, error) {
	if subject.Digest.Hex == "" {
		return nil, fmt.Errorf("artifact %s: subject without digest", title)
	}
	content := &rawLayer{b: blob, mt: artifactType}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  string(artifactType),
		Config: v1.Descriptor{
			MediaType: EmptyMediaType,
			Size:      int64(len(emptyJSON)),
			Digest:    sha256Hash(emptyJSON),
			Data:      emptyJSON,
		},
		Layers: []v1.Descriptor{{
			MediaType:   artifactType,
			Size:        int64(len(blob)),
			Digest:      sha256Hash(blob),
			Annotations: map[string]string{AnnotationTitle: title},
		}},
		Subject: &v1.Descriptor{
			MediaType: subject.MediaType,
			Size:      subject.Size,
			Digest:    subject.Digest,
		},
		Annotations: annotations,
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	img := &Image{rawConfig: emptyJSON, rawManifest: raw, blobs: []blobLayer{content}}
	return img.init()
}

// rawLayer is a blob stored as is (no compression): digest = diff id.
type rawLayer struct {
	b  []byte
	mt types.MediaType
}

func (l *rawLayer) Digest() (v1.Hash, error) { return sha256Hash(l.b), nil }
func (l *rawLayer) DiffID() (v1.Hash, error) { return sha256Hash(l.b), nil }
func (l *rawLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.b)), nil
}
func (l *rawLayer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.b)), nil
}
func (l *rawLayer) Size() (int64, error)                { return int64(len(l.b)), nil }
func (l *rawLayer) MediaType() (types.MediaType, error) { return l.mt, nil }
