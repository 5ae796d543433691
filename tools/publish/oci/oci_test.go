package oci

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

var epoch = time.Unix(0, 0).UTC()

// fakeZoneInfo is a zip shaped like a Go SDK's lib/time/zoneinfo.zip.
func fakeZoneInfo(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"UTC", "Asia/Shanghai", "Europe/Berlin"} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("TZif fake " + name))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type entry struct {
	hdr  *tar.Header
	data []byte
}

func readLayer(t *testing.T, l v1.Layer) []entry {
	t.Helper()
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out []entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		out = append(out, entry{h, data})
	}
	return out
}

func TestLayerIsReproducible(t *testing.T) {
	files := []File{
		{Path: "/b/file", Mode: 0o644, Data: []byte("b")},
		{Path: "/a/x/file", Mode: 0o600, UID: 7, GID: 8, Data: []byte("a")},
		{Path: "/a/link", Link: "x/file"},
	}
	reversed := []File{files[2], files[1], files[0]}
	l1, err := NewLayer(files, epoch)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := NewLayer(reversed, epoch)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := l1.Digest()
	d2, _ := l2.Digest()
	if d1 != d2 {
		t.Fatalf("same files in another order: %s != %s", d1, d2)
	}
	l3, _ := NewLayer(files, time.Unix(1, 0))
	if d3, _ := l3.Digest(); d3 == d1 {
		t.Fatal("the time stamp does not reach the layer")
	}
	var names []string
	for _, e := range readLayer(t, l1) {
		names = append(names, e.hdr.Name)
		if !e.hdr.ModTime.Equal(epoch) || e.hdr.Uname != "" || e.hdr.Gname != "" {
			t.Errorf("%s: mtime %v, owner names %q/%q", e.hdr.Name, e.hdr.ModTime, e.hdr.Uname, e.hdr.Gname)
		}
		if e.hdr.Name == "a/x/file" && (e.hdr.Uid != 7 || e.hdr.Gid != 8 || e.hdr.Mode != 0o600) {
			t.Errorf("a/x/file header %+v", e.hdr)
		}
	}
	want := "a/ a/link a/x/ a/x/file b/ b/file"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("entries %q, want %q (sorted, parents added)", got, want)
	}
	// DiffID is the digest of the uncompressed stream.
	rc, _ := l1.Uncompressed()
	h, _, _ := v1.SHA256(rc)
	if diff, _ := l1.DiffID(); diff != h {
		t.Fatalf("diff id %s, uncompressed digest %s", diff, h)
	}
	if err := validate.Layer(l1); err != nil {
		t.Fatal(err)
	}
}

func TestLayerRejectsBadEntries(t *testing.T) {
	for name, files := range map[string][]File{
		"duplicate":      {{Path: "/a", Data: nil}, {Path: "a"}},
		"file as parent": {{Path: "/a", Data: []byte("x")}, {Path: "/a/b"}},
		"root":           {{Path: "/"}},
	} {
		if _, err := NewLayer(files, epoch); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestCABundle(t *testing.T) {
	pemData, kept, skipped := CABundle()
	if kept < 100 {
		t.Fatalf("%d roots kept (%d skipped): want Mozilla's bundle", kept, skipped)
	}
	n := 0
	for rest := pemData; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != kept {
		t.Fatalf("%d certificates in the PEM, want %d", n, kept)
	}
	if pool := x509.NewCertPool(); !pool.AppendCertsFromPEM(pemData) {
		t.Fatal("the bundle does not load into a CertPool")
	}
}

func TestBaseLayer(t *testing.T) {
	base, err := BaseLayer([]byte("PEM"), fakeZoneInfo(t), epoch)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]entry{}
	for _, e := range readLayer(t, base) {
		byName[e.hdr.Name] = e
	}
	for name, check := range map[string]func(e entry) bool{
		"etc/passwd":                        func(e entry) bool { return strings.Contains(string(e.data), "nonroot:x:65532:65532:") },
		"etc/group":                         func(e entry) bool { return strings.Contains(string(e.data), "nonroot:x:65532:") },
		"etc/ssl/certs/ca-certificates.crt": func(e entry) bool { return string(e.data) == "PEM" },
		"usr/share/zoneinfo/Asia/Shanghai":  func(e entry) bool { return string(e.data) == "TZif fake Asia/Shanghai" },
		"var/lib/tremolo/":                  func(e entry) bool { return e.hdr.Uid == NonRootUID && e.hdr.Gid == NonRootGID && e.hdr.Mode == 0o755 },
		"home/nonroot/":                     func(e entry) bool { return e.hdr.Uid == NonRootUID },
		"tmp/":                              func(e entry) bool { return e.hdr.Mode == 0o1777 },
	} {
		e, ok := byName[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if !check(e) {
			t.Errorf("%s: header %+v data %q", name, e.hdr, e.data)
		}
	}
}

func testImage(t *testing.T, service string, p Platform, binary string) *Image {
	t.Helper()
	base, err := BaseLayer([]byte("PEM"), fakeZoneInfo(t), epoch)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := BinaryLayer(service, []byte(binary), epoch)
	if err != nil {
		t.Fatal(err)
	}
	img, err := NewImage(ImageSpec{
		Service: service, Platform: p, Base: base, Binary: bin, Created: epoch,
		Labels: map[string]string{AnnotationRevision: "abc123", AnnotationSource: "https://example.com/src"},
		Ports:  []string{"8080/tcp"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestImage(t *testing.T) {
	arm := Platform{OS: "linux", Arch: "arm64"}
	img := testImage(t, "user", arm, "ELF arm64")
	if err := validate.Image(img); err != nil {
		t.Fatal(err)
	}
	if again := testImage(t, "user", arm, "ELF arm64"); digest(t, again) != digest(t, img) {
		t.Fatal("same inputs, different digests")
	}
	if other := testImage(t, "user", arm, "ELF arm64 v2"); digest(t, other) == digest(t, img) {
		t.Fatal("another binary, same digest")
	}
	mt, _ := img.MediaType()
	if mt != types.OCIManifestSchema1 {
		t.Fatalf("media type %s", mt)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Architecture != "arm64" || cfg.OS != "linux" || cfg.Variant != "v8" {
		t.Errorf("platform %s/%s/%s", cfg.OS, cfg.Architecture, cfg.Variant)
	}
	c := cfg.Config
	if c.User != "65532:65532" || c.WorkingDir != DataDir || len(c.Entrypoint) != 1 || c.Entrypoint[0] != "/usr/local/bin/user" {
		t.Errorf("config %+v", c)
	}
	if c.Labels[AnnotationRevision] != "abc123" {
		t.Errorf("labels %v", c.Labels)
	}
	if !contains(c.Env, "TREMOLO_DATA_DIR="+DataDir) || !contains(c.Env, "SSL_CERT_FILE="+CAFile) {
		t.Errorf("env %v", c.Env)
	}
	if !cfg.Created.Time.Equal(epoch) || len(cfg.History) != 2 || !cfg.History[1].Created.Time.Equal(epoch) {
		t.Errorf("times: created %v, history %+v", cfg.Created, cfg.History)
	}
	m, _ := img.Manifest()
	if m.Annotations[AnnotationRevision] != "abc123" || m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("manifest %+v", m)
	}
	for _, l := range m.Layers {
		if l.MediaType != types.OCILayer {
			t.Errorf("layer media type %s", l.MediaType)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func digest(t *testing.T, x interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	d, err := x.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func testSet(t *testing.T) (*Index, *Image) {
	t.Helper()
	amd, arm := Platform{"linux", "amd64"}, Platform{"linux", "arm64"}
	imgA, imgB := testImage(t, "user", amd, "ELF amd64"), testImage(t, "user", arm, "ELF arm64")
	idx, err := NewIndex([]IndexEntry{{Image: imgA, Platform: &amd}, {Image: imgB, Platform: &arm}}, map[string]string{AnnotationRevision: "abc123"})
	if err != nil {
		t.Fatal(err)
	}
	desc, err := Descriptor(imgB)
	if err != nil {
		t.Fatal(err)
	}
	sbom, err := NewArtifact(SPDXMediaType, []byte(`{"spdxVersion":"SPDX-2.3"}`), "user.spdx.json", desc, nil)
	if err != nil {
		t.Fatal(err)
	}
	return idx, sbom
}

func TestIndexAndArtifact(t *testing.T) {
	idx, sbom := testSet(t)
	if err := validate.Index(idx); err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	if len(im.Manifests) != 2 || im.Manifests[0].Platform.Architecture != "amd64" || im.Manifests[1].Platform.Variant != "v8" {
		t.Fatalf("index %+v", im)
	}
	if err := validate.Image(sbom); err != nil {
		t.Fatal(err)
	}
	m, _ := sbom.Manifest()
	if m.ArtifactType != string(SPDXMediaType) || m.Subject == nil || m.Subject.Digest != im.Manifests[1].Digest {
		t.Fatalf("artifact manifest %+v", m)
	}
	if m.Config.MediaType != EmptyMediaType || m.Config.Size != 2 {
		t.Fatalf("artifact config %+v", m.Config)
	}
}

func TestLayoutAndTarballAreReproducible(t *testing.T) {
	write := func(dir string) ([]byte, string) {
		idx, sbom := testSet(t)
		top, err := NewIndex([]IndexEntry{
			{Index: idx, Annotations: map[string]string{AnnotationRefName: "user:latest"}},
			{Image: sbom, ArtifactType: string(SPDXMediaType)},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteLayout(dir, top); err != nil {
			t.Fatal(err)
		}
		var tb bytes.Buffer
		if err := WriteTarball(&tb, top, epoch); err != nil {
			t.Fatal(err)
		}
		return tb.Bytes(), dir
	}
	tmp := t.TempDir()
	tar1, dir1 := write(filepath.Join(tmp, "one"))
	tar2, dir2 := write(filepath.Join(tmp, "two"))
	if !bytes.Equal(tar1, tar2) {
		t.Fatal("two tarballs of the same images differ")
	}
	if diff := compareTrees(t, dir1, dir2); diff != "" {
		t.Fatal(diff)
	}
	// Writing into an existing layout again is fine; into anything else is not.
	if _, d := write(dir1); compareTrees(t, d, dir2) != "" {
		t.Fatal("rewriting a layout changed it")
	}
	junk := filepath.Join(tmp, "junk")
	os.MkdirAll(junk, 0o755)
	os.WriteFile(filepath.Join(junk, "x"), nil, 0o644)
	idx, _ := testSet(t)
	if err := WriteLayout(junk, idx); err == nil {
		t.Fatal("wrote a layout into a directory of other files")
	}

	// ggcr reads the layout back, and everything in it checks out.
	p, err := layout.FromPath(dir1)
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(top); err != nil {
		t.Fatal(err)
	}
	// The tarball holds the same files.
	tr := tar.NewReader(bytes.NewReader(tar1))
	n := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		n++
		data, _ := io.ReadAll(tr)
		onDisk, err := os.ReadFile(filepath.Join(dir1, h.Name))
		if err != nil || !bytes.Equal(data, onDisk) {
			t.Fatalf("%s differs from the layout (%v)", h.Name, err)
		}
		if !h.ModTime.Equal(epoch) || h.Uid != 0 {
			t.Fatalf("%s: header %+v", h.Name, h)
		}
	}
	var idxJSON struct{ Manifests []json.RawMessage }
	raw, _ := os.ReadFile(filepath.Join(dir1, "index.json"))
	json.Unmarshal(raw, &idxJSON)
	if n < 8 || len(idxJSON.Manifests) != 2 {
		t.Fatalf("%d files in the tarball, %d manifests in index.json", n, len(idxJSON.Manifests))
	}
}

// compareTrees returns "" when two directories hold the same files with the
// same bytes.
func compareTrees(t *testing.T, a, b string) string {
	t.Helper()
	list := func(root string) map[string][]byte {
		out := map[string][]byte{}
		filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			out[rel], _ = os.ReadFile(p)
			return nil
		})
		return out
	}
	la, lb := list(a), list(b)
	if len(la) != len(lb) {
		return "different file counts"
	}
	for name, data := range la {
		if !bytes.Equal(data, lb[name]) {
			return name + " differs"
		}
	}
	return ""
}

func TestParsePlatform(t *testing.T) {
	p, err := ParsePlatform("linux/arm64")
	if err != nil || p.OS != "linux" || p.Arch != "arm64" || p.String() != "linux/arm64" {
		t.Fatalf("%+v %v", p, err)
	}
	for _, bad := range []string{"", "linux", "/arm64", "linux/"} {
		if _, err := ParsePlatform(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
