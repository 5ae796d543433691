package main

import (
	"crypto/sha256"
	"crypto/x509"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/tremolo-dev/tremolo/tools/publish/k8s"
	"github.com/tremolo-dev/tremolo/tools/publish/oci"
	"github.com/tremolo-dev/tremolo/tools/publish/sbom"
)

// TestRegistryEndToEnd publishes every service to a real registry (Debian's
// docker-registry on loopback), pulls each index back, checks both
// platforms' manifests, configs, digests and SBOM referrers, takes every
// binary out of the pulled images and runs it (arm64 under
// qemu-user-static, amd64 natively) until it answers its health checks,
// and validates the Kubernetes manifests written for the pushed digests.
func TestRegistryEndToEnd(t *testing.T) {
	h := getHarness(t)
	qemu := lookTool(t, "qemu-user-static", "qemu-aarch64-static", "qemu-aarch64")
	reg := startRegistry(t)
	out := t.TempDir()
	repo := reg + "/tremolo"
	sum := h.publish(t, "--repo", repo, "--tag", "e2e,v1", "--revision", "e2e-revision",
		"--layout", filepath.Join(out, "oci"), "--k8s", filepath.Join(out, "k8s"))

	// Every declared service was published, the all-in-one too.
	declared := declaredNames(t)
	if got := summaryNames(sum); strings.Join(got, " ") != strings.Join(declared, " ") {
		t.Fatalf("published %v, declared %v", got, declared)
	}
	if sum.Revision != "e2e-revision" {
		t.Errorf("summary revision %q", sum.Revision)
	}
	lay, err := layout.FromPath(filepath.Join(out, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	layoutTop, err := lay.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	layoutManifest, _ := layoutTop.IndexManifest()
	inLayout := map[string]bool{}
	for _, d := range layoutManifest.Manifests {
		inLayout[d.Digest.String()] = true
	}

	var base v1.Layer
	for _, s := range sum.Services {
		t.Run(s.Name, func(t *testing.T) {
			for _, tag := range []string{"e2e", "v1"} {
				ref, err := name.ParseReference(repo + "/" + s.Name + ":" + tag)
				if err != nil {
					t.Fatal(err)
				}
				idx, err := remote.Index(ref)
				if err != nil {
					t.Fatal(err)
				}
				if d, _ := idx.Digest(); d.String() != s.Index || s.Reference != repo+"/"+s.Name+"@"+s.Index {
					t.Fatalf("%s: pulled index %s, published %s (%s)", tag, d, s.Index, s.Reference)
				}
			}
			if !inLayout[s.Index] {
				t.Errorf("index %s not in the OCI layout", s.Index)
			}
			ref, _ := name.NewDigest(s.Reference)
			idx, err := remote.Index(ref)
			if err != nil {
				t.Fatal(err)
			}
			im, _ := idx.IndexManifest()
			if im.MediaType != types.OCIImageIndex || len(im.Manifests) != 2 {
				t.Fatalf("index %s with %d manifests", im.MediaType, len(im.Manifests))
			}
			if im.Annotations[oci.AnnotationRevision] != "e2e-revision" {
				t.Errorf("index annotations %v", im.Annotations)
			}
			for i, want := range []struct{ arch, variant string }{{"amd64", ""}, {"arm64", "v8"}} {
				d := im.Manifests[i]
				if d.Platform == nil || d.Platform.OS != "linux" || d.Platform.Architecture != want.arch || d.Platform.Variant != want.variant {
					t.Fatalf("manifest %d platform %+v, want linux/%s", i, d.Platform, want.arch)
				}
				if d.Digest.String() != s.Images[i].Digest || s.Images[i].Platform != "linux/"+want.arch {
					t.Fatalf("linux/%s: registry has %s, publisher made %s", want.arch, d.Digest, s.Images[i].Digest)
				}
				if d.MediaType != types.OCIManifestSchema1 {
					t.Errorf("media type %s", d.MediaType)
				}
				img, err := idx.Image(d.Digest)
				if err != nil {
					t.Fatal(err)
				}
				l := checkImage(t, reg, repo, s, img, want.arch, qemu)
				if base == nil {
					base = l
				}
			}
		})
	}
	if base != nil {
		checkBaseLayer(t, base)
	}

	// The manifests pull exactly what was pushed, and pass the schema check.
	files := map[string][]byte{}
	filepath.Walk(filepath.Join(out, "k8s"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			rel, _ := filepath.Rel(filepath.Join(out, "k8s"), p)
			files[filepath.ToSlash(rel)], _ = os.ReadFile(p)
		}
		return err
	})
	pinned := map[string]string{}
	for _, s := range sum.Services {
		pinned[s.Name] = s.Reference
	}
	deployments := 0
	for f, data := range files {
		if err := k8s.Validate(f, data, files); err != nil {
			t.Errorf("k8s: %v", err)
		}
		objs, _ := k8s.Decode(f, data)
		for _, o := range objs {
			if d, ok := o.Obj.(*appsv1.Deployment); ok {
				deployments++
				if img := d.Spec.Template.Spec.Containers[0].Image; img != pinned[d.Name] {
					t.Errorf("k8s %s: image %s, pushed %s", d.Name, img, pinned[d.Name])
				}
			}
		}
	}
	if deployments != len(sum.Services) || files["etcd.yaml"] == nil || files["allinone/"+AllInOne+".yaml"] == nil {
		t.Errorf("%d Deployments for %d services; files %v", deployments, len(sum.Services), oci.SortedKeys(files))
	}
}

// checkImage checks one pulled image (config, SBOM referrer), takes its
// binary out, and runs it. It returns the image's base layer.
func checkImage(t *testing.T, reg, repo string, s ServiceSummary, img v1.Image, arch, qemu string) v1.Layer {
	t.Helper()
	if err := validate.Image(img, validate.Fast); err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Config
	if cfg.OS != "linux" || cfg.Architecture != arch || c.User != "65532:65532" || c.WorkingDir != oci.DataDir ||
		strings.Join(c.Entrypoint, " ") != oci.BinDir+"/"+s.Name {
		t.Fatalf("config %s/%s user %q workdir %q entrypoint %v", cfg.OS, cfg.Architecture, c.User, c.WorkingDir, c.Entrypoint)
	}
	if c.Labels[oci.AnnotationRevision] != "e2e-revision" || c.Labels[oci.AnnotationSource] == "" || c.Labels[oci.AnnotationTitle] != s.Name {
		t.Errorf("labels %v", c.Labels)
	}
	if !cfg.Created.Time.Equal(time.Unix(0, 0)) {
		t.Errorf("created %v", cfg.Created)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 2 {
		t.Fatalf("%d layers (%v)", len(layers), err)
	}
	binary := extract(t, layers[1], strings.TrimPrefix(oci.BinDir+"/"+s.Name, "/"))
	sum := fmt.Sprintf("%x", sha256.Sum256(binary))

	// The SBOM is a referrer of the image (the registry has no Referrers
	// API: the publisher kept the sha256-<digest> fallback tag).
	digest, _ := img.Digest()
	subject, _ := name.NewDigest(repo + "/" + s.Name + "@" + digest.String())
	refs, err := remote.Referrers(subject)
	if err != nil {
		t.Fatal(err)
	}
	rm, _ := refs.IndexManifest()
	if len(rm.Manifests) != 1 || rm.Manifests[0].ArtifactType != string(oci.SPDXMediaType) {
		t.Fatalf("referrers of %s: %+v", subject, rm.Manifests)
	}
	art, err := remote.Image(subject.Context().Digest(rm.Manifests[0].Digest.String()))
	if err != nil {
		t.Fatal(err)
	}
	artLayers, err := art.Layers()
	if err != nil || len(artLayers) != 1 {
		t.Fatalf("SBOM artifact layers %d (%v)", len(artLayers), err)
	}
	rc, _ := artLayers[0].Compressed()
	data, _ := io.ReadAll(rc)
	rc.Close()
	doc, err := sbom.Check(data)
	if err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]sbom.Package{}
	for _, p := range doc.Packages {
		pkgs[p.SPDXID] = p
	}
	if pkgs["SPDXRef-Image"].Checksums[0].ChecksumValue != digest.Hex || pkgs["SPDXRef-Binary"].Checksums[0].ChecksumValue != sum {
		t.Errorf("SBOM names image %s binary %s; pulled image %s binary %s",
			pkgs["SPDXRef-Image"].Checksums[0].ChecksumValue, pkgs["SPDXRef-Binary"].Checksums[0].ChecksumValue, digest.Hex, sum)
	}
	modules := 0
	for id, p := range pkgs {
		if strings.HasPrefix(id, "SPDXRef-Module-") {
			modules++
			if p.VersionInfo == "" {
				t.Errorf("SBOM module %s without version", p.Name)
			}
		}
	}
	if modules < 10 || pkgs["SPDXRef-Go-stdlib"].VersionInfo == "" {
		t.Errorf("SBOM lists %d modules, stdlib %q", modules, pkgs["SPDXRef-Go-stdlib"].VersionInfo)
	}

	// The binary runs and answers its health checks.
	f, err := elf.NewFile(bytesReaderAt(binary))
	if err != nil {
		t.Fatal(err)
	}
	wantMachine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	if f.Machine != wantMachine {
		t.Fatalf("binary for %s, want %s", f.Machine, wantMachine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("binary is dynamically linked")
		}
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, s.Name)
	if err := os.WriteFile(exe, binary, 0o755); err != nil {
		t.Fatal(err)
	}
	// The binary runs with the image's own settings, as in a container
	// (the flags below win over them).
	var imageEnv []string
	for _, kv := range c.Env {
		if strings.HasPrefix(kv, "TREMOLO_") {
			imageEnv = append(imageEnv, kv)
		}
	}
	if (s.Name == "edge" || s.Name == "tremolo") != slices.Contains(imageEnv, "TREMOLO_EDGE_MIDDLEWARE=native") {
		t.Errorf("%s image env %v: the images with an edge run its native middleware, and only they set it", s.Name, imageEnv)
	}
	runBinary(t, exe, arch, qemu, dir, imageEnv)
	return layers[0]
}

func runBinary(t *testing.T, exe, arch, qemu, dir string, imageEnv []string) {
	t.Helper()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	grpcAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	args := []string{"-http-addr", httpAddr, "-grpc-addr", grpcAddr, "-data-dir", filepath.Join(dir, "data")}
	prog := exe
	if arch == "arm64" {
		prog, args = qemu, append([]string{exe}, args...)
	}
	env := append([]string{"PATH=/usr/bin:/bin", "HOME=" + dir, "TREMOLO_LOG_FORMAT=text", "TREMOLO_LOG_LEVEL=warn"}, imageEnv...)
	started := time.Now()
	p := start(t, dir, env, prog, args...)
	for _, path := range []string{"/healthz", "/readyz"} {
		if err := waitHTTP(t, p, "http://"+httpAddr+path, 90*time.Second); err != nil {
			t.Fatalf("linux/%s binary: %v", arch, err)
		}
	}
	t.Logf("linux/%s binary healthy after %.1fs", arch, time.Since(started).Seconds())
	p.stop(t)
}

// extract returns the file at path (no leading slash) in a layer. The
// compressed blob is read through go-containerregistry (which checks its
// digest) and unpacked by the system's tar: gzip in Go under the race
// detector would take most of the test's time.
func extract(t *testing.T, l v1.Layer, path string) []byte {
	t.Helper()
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	dir := t.TempDir()
	blob := filepath.Join(dir, "layer.tar.gz")
	f, err := os.Create(blob)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, rc); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-xzf", blob, "-C", dir, path).CombinedOutput(); err != nil {
		t.Fatalf("%s not in the layer: %v\n%s", path, err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, path))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// checkBaseLayer: real time zones, a usable CA bundle, the non-root user.
func checkBaseLayer(t *testing.T, base v1.Layer) {
	t.Helper()
	if err := validate.Layer(base); err != nil {
		t.Fatal(err)
	}
	tz := extract(t, base, "usr/share/zoneinfo/Asia/Shanghai")
	loc, err := time.LoadLocationFromTZData("Asia/Shanghai", tz)
	if err != nil {
		t.Fatal(err)
	}
	if _, off := time.Date(2026, 1, 1, 0, 0, 0, 0, loc).Zone(); off != 8*3600 {
		t.Errorf("Asia/Shanghai offset %d", off)
	}
	if pool := x509.NewCertPool(); !pool.AppendCertsFromPEM(extract(t, base, "etc/ssl/certs/ca-certificates.crt")) {
		t.Error("CA bundle does not parse")
	}
	if !strings.Contains(string(extract(t, base, "etc/passwd")), "nonroot:x:65532:65532:") {
		t.Error("no nonroot user")
	}
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func summaryNames(s Summary) []string {
	var out []string
	for _, x := range s.Services {
		out = append(out, x.Name)
	}
	return out
}
