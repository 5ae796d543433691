package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/tremolo-dev/tremolo/tools/publish/k8s"
	"github.com/tremolo-dev/tremolo/tools/publish/oci"
	"github.com/tremolo-dev/tremolo/tools/publish/sbom"
)

// Options are the publisher's settings (see main.go for the flags).
type Options struct {
	Repo      string   // registry repository prefix: images are <Repo>/<service>
	Tags      []string // tags pushed for every index
	Insecure  bool     // plain HTTP to a non-loopback registry
	Layout    string   // OCI layout directory
	Tarball   string   // OCI layout as one tar file
	K8sDir    string   // Kubernetes manifests
	K8sRepo   string   // repository the manifests pull from (default Repo)
	Summary   string   // JSON summary file ("-": stdout)
	Revision  string
	Source    string
	Created   time.Time
	Platforms []oci.Platform
	Jobs      int

	EtcdImage    string
	EtcdReplicas int
	EtcdEnv      string
	Replicas     int
	// K8sEnv adds to (or overrides) the shared ConfigMap; K8sVolumes gives
	// services a PersistentVolumeClaim of that size ("0": none).
	K8sEnv     map[string]string
	K8sVolumes map[string]string
}

// DefaultK8sVolumes: the video service keeps uploaded media in its data
// directory, which must outlive the pod.
var DefaultK8sVolumes = map[string]string{"video": "10Gi"}

// Built is one service's images, SBOMs and index.
type Built struct {
	Service *Service
	Index   *oci.Index
	Images  map[oci.Platform]*oci.Image
	SBOMs   map[oci.Platform]*oci.Image // SPDX artifacts, subject = the image
	SBOMDoc map[oci.Platform][]byte
	// Size is the compressed size of each image's layers (what a pull
	// downloads); BinarySize the binary layer's part of it.
	Size, BinarySize map[oci.Platform]int64
}

// Result is everything one run made.
type Result struct {
	Base  *oci.Layer
	Built []*Built
	// Pushed maps service -> pinned reference (<repo>/<service>@sha256:...).
	Pushed map[string]string
}

// Labels are the OCI labels of a service's images (and annotations of
// its index).
func Labels(o Options, svc *Service) map[string]string {
	desc := "Tremolo " + svc.Name + " service"
	if svc.AllInOne {
		desc = "Tremolo all-in-one: every service in one process"
	}
	return map[string]string{
		oci.AnnotationTitle:       svc.Name,
		oci.AnnotationDescription: desc,
		oci.AnnotationSource:      o.Source,
		oci.AnnotationRevision:    o.Revision,
		oci.AnnotationCreated:     o.Created.UTC().Format(time.RFC3339),
		"dev.tremolo.go.package":  svc.ImportPath,
	}
}

// Build assembles every service's images, SBOMs and index from in.
func Build(ctx context.Context, in *Inputs, o Options, logf func(string, ...any)) (*Result, error) {
	zip, err := os.ReadFile(in.ZoneInfo)
	if err != nil {
		return nil, fmt.Errorf("time zones: %w", err)
	}
	caPEM, caCount, caSkipped := oci.CABundle()
	base, err := oci.BaseLayer(caPEM, zip, o.Created)
	if err != nil {
		return nil, err
	}
	bd, _ := base.Digest()
	logf("base layer %s: %d CA roots (%d with NSS constraints left out), tz %s, %s", short(bd), caCount, caSkipped, firstNonEmpty(in.TZVersion, "?"), mb(mustSize(base)))
	caVersion := oci.CABundleVersion()
	if caVersion == "unknown" && in.ModuleVersions[oci.CABundleModule] != "" {
		caVersion = in.ModuleVersions[oci.CABundleModule]
	}
	components := []sbom.Component{
		{
			ID: "ca-certificates", Name: "ca-certificates", Version: caVersion,
			PURL:        "pkg:golang/" + oci.CABundleModule + "@" + caVersion,
			Download:    "https://proxy.golang.org/" + oci.CABundleModule + "/@v/" + caVersion + ".zip",
			Supplier:    "Organization: Mozilla",
			Description: fmt.Sprintf("Mozilla NSS root certificates (%d) from the Go module %s, at %s", caCount, oci.CABundleModule, oci.CAFile),
		},
		{
			ID: "tzdata", Name: "tzdata", Version: firstNonEmpty(in.TZVersion, "NOASSERTION"),
			Download:    "https://www.iana.org/time-zones",
			Supplier:    "Organization: IANA",
			Description: fmt.Sprintf("IANA time zone database from the Go SDK's (%s) lib/time/zoneinfo.zip, at %s", firstNonEmpty(in.SDK, "unknown"), oci.ZoneInfo),
		},
	}

	var (
		mu    sync.Mutex
		built = map[string]*Built{}
	)
	for _, s := range in.Services {
		built[s.Name] = &Built{
			Service: s, Images: map[oci.Platform]*oci.Image{}, SBOMs: map[oci.Platform]*oci.Image{},
			SBOMDoc: map[oci.Platform][]byte{}, Size: map[oci.Platform]int64{}, BinarySize: map[oci.Platform]int64{},
		}
	}
	for _, s := range in.Services {
		for _, p := range o.Platforms {
			if _, ok := s.Binaries[p]; !ok {
				return nil, fmt.Errorf("%s: no %s binary", s.Name, p)
			}
		}
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, o.Jobs))
	for _, s := range in.Services {
		labels := Labels(o, s)
		for _, p := range o.Platforms {
			bin := s.Binaries[p]
			g.Go(func() error {
				if err := ctx.Err(); err != nil {
					return err
				}
				data, err := os.ReadFile(bin.Path)
				if err != nil {
					return err
				}
				layer, err := oci.BinaryLayer(s.Name, data, o.Created)
				if err != nil {
					return err
				}
				img, err := oci.NewImage(oci.ImageSpec{
					Service: s.Name, Platform: p, Base: base, Binary: layer, Created: o.Created,
					Labels: labels, Ports: []string{"8080/tcp", "9000/tcp"}, Env: imageEnv(s),
				})
				if err != nil {
					return err
				}
				desc, err := oci.Descriptor(img)
				if err != nil {
					return err
				}
				sum := sha256.Sum256(data)
				doc, err := sbom.Generate(sbom.Input{
					Service: s.Name, Platform: p.String(), Image: desc.Digest.String(),
					BinaryPath: oci.BinDir + "/" + s.Name, BinarySHA256: fmt.Sprintf("%x", sum),
					Build: bin.Build, BuildNote: bin.BuildNote, Revision: o.Revision, Source: o.Source,
					Created: o.Created, Base: components, Namespace: strings.TrimSuffix(o.Source, "/") + "/spdx",
				})
				if err != nil {
					return err
				}
				art, err := oci.NewArtifact(oci.SPDXMediaType, doc, fmt.Sprintf("%s-%s-%s.spdx.json", s.Name, p.OS, p.Arch), desc, map[string]string{
					oci.AnnotationCreated: o.Created.UTC().Format(time.RFC3339),
					oci.AnnotationTitle:   s.Name + " " + p.String() + " SBOM (SPDX 2.3)",
				})
				if err != nil {
					return err
				}
				size := mustSize(base) + mustSize(layer)
				mu.Lock()
				b := built[s.Name]
				b.Images[p], b.SBOMs[p], b.SBOMDoc[p] = img, art, doc
				b.Size[p], b.BinarySize[p] = size, mustSize(layer)
				mu.Unlock()
				logf("%-10s %-12s image %s  %s (binary %s)", s.Name, p, short(desc.Digest), mb(size), mb(mustSize(layer)))
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	res := &Result{Base: base, Pushed: map[string]string{}}
	for _, s := range in.Services {
		b := built[s.Name]
		var entries []oci.IndexEntry
		for _, p := range o.Platforms {
			p := p
			entries = append(entries, oci.IndexEntry{Image: b.Images[p], Platform: &p})
		}
		labels := Labels(o, s)
		delete(labels, oci.AnnotationDescription)
		delete(labels, "dev.tremolo.go.package")
		idx, err := oci.NewIndex(entries, labels)
		if err != nil {
			return nil, err
		}
		b.Index = idx
		res.Built = append(res.Built, b)
	}
	return res, nil
}

// LayoutIndex is the top index of an OCI layout (or tarball) of res: each
// service's index, named by ref.name (and io.containerd.image.name for
// `docker load`), then every SBOM artifact.
func LayoutIndex(res *Result, o Options) (*oci.Index, error) {
	var entries []oci.IndexEntry
	tag := "latest"
	if len(o.Tags) > 0 {
		tag = o.Tags[0]
	}
	repo := firstNonEmpty(o.Repo, "tremolo")
	for _, b := range res.Built {
		entries = append(entries, oci.IndexEntry{
			Index: b.Index,
			Annotations: map[string]string{
				oci.AnnotationRefName:      b.Service.Name + ":" + tag,
				"io.containerd.image.name": repo + "/" + b.Service.Name + ":" + tag,
			},
		})
	}
	for _, b := range res.Built {
		for _, p := range o.Platforms {
			entries = append(entries, oci.IndexEntry{
				Image:        b.SBOMs[p],
				ArtifactType: string(oci.SPDXMediaType),
				Annotations:  map[string]string{oci.AnnotationTitle: b.Service.Name + " " + p.String() + " SBOM"},
			})
		}
	}
	return oci.NewIndex(entries, nil)
}

// Push writes every index (under every tag) and every SBOM artifact to
// the registry, showing progress.
func Push(ctx context.Context, res *Result, o Options, logf func(string, ...any)) error {
	var nopts []name.Option
	if o.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	todo := map[name.Reference]remote.Taggable{}
	sboms := map[name.Reference]remote.Taggable{}
	for _, b := range res.Built {
		repo, err := name.NewRepository(strings.TrimSuffix(o.Repo, "/")+"/"+b.Service.Name, nopts...)
		if err != nil {
			return err
		}
		for _, tag := range o.Tags {
			todo[repo.Tag(tag)] = b.Index
		}
		d, _ := b.Index.Digest()
		res.Pushed[b.Service.Name] = repo.Digest(d.String()).String()
		for _, p := range o.Platforms {
			ad, err := b.SBOMs[p].Digest()
			if err != nil {
				return err
			}
			sboms[repo.Digest(ad.String())] = b.SBOMs[p]
		}
	}
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithJobs(max(4, o.Jobs)),
	}
	logf("pushing %d indexes (%d tags each) to %s", len(res.Built), len(o.Tags), o.Repo)
	updates, wait := progress("push images", logf)
	err := remote.MultiWrite(todo, append(opts, remote.WithProgress(updates))...)
	wait()
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	logf("pushing %d SBOMs as referrers of their images", len(sboms))
	updates, wait = progress("push SBOMs", logf)
	err = remote.MultiWrite(sboms, append(opts, remote.WithProgress(updates))...)
	wait()
	if err != nil {
		return fmt.Errorf("push SBOMs: %w", err)
	}
	for _, b := range res.Built {
		logf("pushed %s", res.Pushed[b.Service.Name])
	}
	return nil
}

// progress returns a channel for remote.WithProgress that logs at most
// once a second, and the final total; wait returns once that is logged
// (remote closes the channel when it is done).
func progress(what string, logf func(string, ...any)) (updates chan v1.Update, wait func()) {
	ch := make(chan v1.Update, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var last time.Time
		var u v1.Update
		for upd := range ch {
			if upd.Error != nil {
				continue
			}
			u = upd
			if time.Since(last) >= time.Second {
				last = time.Now()
				logf("%s: %s / %s", what, mb(u.Complete), mb(u.Total))
			}
		}
		logf("%s: %s / %s done", what, mb(u.Complete), mb(u.Total))
	}()
	return ch, func() { <-done }
}

// WriteK8s writes the Kubernetes manifests pinned to the pushed digests.
func WriteK8s(res *Result, o Options, dir string) ([]string, error) {
	repo := strings.TrimSuffix(firstNonEmpty(o.K8sRepo, o.Repo), "/")
	if repo == "" {
		return nil, fmt.Errorf("--k8s needs --repo or --k8s-repo: the registry the cluster pulls from")
	}
	opts := k8s.Options{
		Env: map[string]string{
			"TREMOLO_LOG_FORMAT":     "json",
			"TREMOLO_SHUTDOWN_DRAIN": "5s",
		},
		EtcdEnv: o.EtcdEnv, EtcdImage: o.EtcdImage, EtcdReplicas: o.EtcdReplicas,
		Replicas: int32(max(1, o.Replicas)),
		Volumes:  map[string]string{},
		Header: fmt.Sprintf("Generated by tools/publish (bazel run //:publish -- --k8s ...) for revision %s.\n"+
			"Images are pinned to the digests of their OCI indexes (linux/amd64 + linux/arm64).\n"+
			"Needs the Secret %s (TREMOLO_JWT_KEY, database DSNs): see docs/images.md.", o.Revision, k8s.SecretName),
	}
	for _, b := range res.Built {
		d, _ := b.Index.Digest()
		s := k8s.Service{Name: b.Service.Name, Image: repo + "/" + b.Service.Name + "@" + d.String()}
		if b.Service.AllInOne {
			opts.AllInOne = &s
			continue
		}
		opts.Services = append(opts.Services, s)
		if b.Service.Name == "video" {
			// The edge proxies /media/ to the video service's HTTP port.
			opts.Env["TREMOLO_MEDIA_ORIGIN"] = fmt.Sprintf("http://video:%d", k8s.HTTPPort)
		}
		if size := DefaultK8sVolumes[b.Service.Name]; size != "" {
			opts.Volumes[b.Service.Name] = size
		}
	}
	for k, v := range o.K8sEnv {
		opts.Env[k] = v
	}
	for name, size := range o.K8sVolumes {
		if size == "0" || size == "" {
			delete(opts.Volumes, name)
		} else {
			opts.Volumes[name] = size
		}
	}
	files, err := k8s.Generate(opts)
	if err != nil {
		return nil, err
	}
	var written []string
	for _, f := range oci.SortedKeys(files) {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, files[f], 0o644); err != nil {
			return nil, err
		}
		written = append(written, p)
	}
	return written, nil
}

// Summary is the --summary JSON.
type Summary struct {
	Revision string           `json:"revision"`
	Created  string           `json:"created"`
	Builder  string           `json:"builder"`
	Base     string           `json:"base_layer"`
	Services []ServiceSummary `json:"services"`
}

// ServiceSummary is one service in the Summary.
type ServiceSummary struct {
	Name      string         `json:"name"`
	Index     string         `json:"index"`
	Reference string         `json:"reference,omitempty"`
	Images    []ImageSummary `json:"images"`
}

// ImageSummary is one platform's image in the Summary.
type ImageSummary struct {
	Platform   string `json:"platform"`
	Digest     string `json:"digest"`
	Size       int64  `json:"size"`
	BinarySize int64  `json:"binary_layer_size"`
	SBOM       string `json:"sbom"`
}

// Summarize describes res.
func Summarize(res *Result, in *Inputs, o Options) Summary {
	bd, _ := res.Base.Digest()
	s := Summary{Revision: o.Revision, Created: o.Created.UTC().Format(time.RFC3339), Builder: in.Builder, Base: bd.String()}
	for _, b := range res.Built {
		d, _ := b.Index.Digest()
		ss := ServiceSummary{Name: b.Service.Name, Index: d.String(), Reference: res.Pushed[b.Service.Name]}
		for _, p := range o.Platforms {
			id, _ := b.Images[p].Digest()
			sd, _ := b.SBOMs[p].Digest()
			ss.Images = append(ss.Images, ImageSummary{Platform: p.String(), Digest: id.String(), Size: b.Size[p], BinarySize: b.BinarySize[p], SBOM: sd.String()})
		}
		s.Services = append(s.Services, ss)
	}
	sort.Slice(s.Services, func(i, j int) bool { return s.Services[i].Name < s.Services[j].Name })
	return s
}

// WriteSummary writes s as indented JSON to path ("-": w).
func WriteSummary(s Summary, path string, w io.Writer) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return err
	}
	if path == "-" {
		_, err := w.Write(buf.Bytes())
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func mustSize(l interface{ Size() (int64, error) }) int64 {
	n, _ := l.Size()
	return n
}

func short(h v1.Hash) string {
	if len(h.Hex) < 12 {
		return h.String()
	}
	return h.Algorithm + ":" + h.Hex[:12]
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// imageEnv is a service image's own configuration. The images carry the
// binary alone, not the edge's WASM plugins, so an edge in an image checks
// tokens with the native middleware unless the deployment mounts a chain
// file and its modules and sets TREMOLO_EDGE_MIDDLEWARE=wasm and
// TREMOLO_EDGE_PLUGINS (docs/images.md).
func imageEnv(s *Service) []string {
	if s.Name == "edge" || s.AllInOne {
		return []string{"TREMOLO_EDGE_MIDDLEWARE=native"}
	}
	return nil
}
