// Command publish turns every Tremolo service into one multi-platform OCI
// image index (linux/amd64 + linux/arm64), without a Docker daemon, the
// way ko does: a static Go binary on a small base layer (users, CA
// certificates, time zones, a writable data directory), a non-root user,
// OCI labels with the source revision, and an SPDX SBOM per image
// attached as an OCI 1.1 referrer. Same sources, same digests.
//
//	bazel run //:publish -- --repo localhost:5000/tremolo     # push to a registry
//	bazel run //:publish -- --layout out/oci --tarball out/tremolo.tar
//	bazel run //:publish -- --repo reg.example.com/tremolo --k8s out/k8s
//	go run ./tools/publish --build=go --layout out/oci        # without Bazel
//
// Under Bazel the binaries come from //tools/publish:binaries (every
// service built by rules_go for both platforms); with --build=go they are
// built here with go build. docs/images.md has the details.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tremolo-dev/tremolo/tools/publish/oci"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "publish:", err)
		os.Exit(1)
	}
}

// mapFlag is a repeatable KEY=VALUE flag.
type mapFlag map[string]string

func (m mapFlag) String() string {
	var parts []string
	for _, k := range oci.SortedKeys(m) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

func (m mapFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q: want KEY=VALUE", v)
	}
	m[k] = val
	return nil
}

type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l = append(*l, part)
		}
	}
	return nil
}

// config is the parsed command line.
type config struct {
	Options
	build    string
	binDir   string
	root     string
	zoneinfo string
	services []string
	quiet    bool
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: bazel run //:publish -- [flags]     (or: go run ./tools/publish --build=go [flags])

Builds one OCI image index per service (linux/amd64 + linux/arm64) with an
SPDX SBOM per image, and publishes them to any of: a registry (--repo), an
OCI layout directory (--layout), an OCI layout tarball (--tarball). With no
target it only builds and prints the digests. --k8s writes Kubernetes
manifests pinned to the digests. Relative paths are taken from the
directory bazel run was started in.

Flags:
`)
		fs.PrintDefaults()
	}
	var tags, services, platforms listFlag
	var created string
	fs.StringVar(&c.Repo, "repo", "", "registry repository prefix, e.g. localhost:5000/tremolo: each service goes to <repo>/<service> (credentials: the docker config, $DOCKER_CONFIG)")
	fs.Var(&tags, "tag", "tag to push (repeatable or comma-separated; default latest)")
	fs.BoolVar(&c.Insecure, "insecure", false, "use plain HTTP for the registry (loopback registries always may)")
	fs.StringVar(&c.Layout, "layout", "", "write an OCI image layout to this directory")
	fs.StringVar(&c.Tarball, "tarball", "", "write the OCI image layout as one tar file (oci-archive: skopeo, podman, docker load)")
	fs.StringVar(&c.K8sDir, "k8s", "", "write Kubernetes manifests, pinned by digest, to this directory (needs --repo or --k8s-repo)")
	fs.StringVar(&c.K8sRepo, "k8s-repo", "", "repository the Kubernetes manifests pull from (default: --repo)")
	fs.StringVar(&c.Summary, "summary", "", `write a JSON summary (digests, sizes, SBOMs) to this file ("-": stdout)`)
	fs.Var(&services, "services", "only these services (comma-separated; default: all)")
	fs.Var(&platforms, "platforms", "platforms (default linux/amd64,linux/arm64)")
	fs.StringVar(&c.build, "build", "auto", "where binaries come from: bazel (//tools/publish:binaries, under bazel run), go (go build here), dir (ready-made go build binaries in --bin-dir), auto (bazel when run by Bazel, else go)")
	fs.StringVar(&c.binDir, "bin-dir", "", "--build=go: build the binaries into this directory and keep them; --build=dir: take them from it (<dir>/<os>_<arch>/<service>)")
	fs.StringVar(&c.root, "root", "", "repository root for --build=go and the git revision (default: the Bazel workspace or the go.mod above the working directory)")
	fs.StringVar(&c.Revision, "revision", "", `source revision label (default: git HEAD, with "-dirty" when the tree has changes; "unknown" without git)`)
	fs.StringVar(&c.Source, "source", "https://github.com/tremolo-dev/tremolo", "source repository label (org.opencontainers.image.source)")
	fs.StringVar(&created, "created", "", "creation time of images and SBOMs, RFC 3339 or Unix seconds (default: $SOURCE_DATE_EPOCH, else 1970-01-01T00:00:00Z)")
	fs.StringVar(&c.zoneinfo, "zoneinfo", "", "time zone data: a Go SDK's lib/time/zoneinfo.zip (default: the Bazel Go SDK's, or $(go env GOROOT)'s)")
	fs.IntVar(&c.Jobs, "jobs", runtime.NumCPU(), "images assembled in parallel")
	fs.StringVar(&c.EtcdImage, "etcd-image", "registry.k8s.io/etcd:3.5.21-0", "etcd image in the Kubernetes manifests (pin it by digest for production)")
	fs.IntVar(&c.EtcdReplicas, "etcd-replicas", 1, "etcd members in the Kubernetes manifests (0: no etcd)")
	fs.StringVar(&c.EtcdEnv, "etcd-env", "TREMOLO_ETCD_ENDPOINTS", "variable that gives the services etcd's endpoints")
	fs.IntVar(&c.Replicas, "replicas", 1, "replicas per service in the Kubernetes manifests (more than 1 needs distinct TREMOLO_NODE_IDs: docs/images.md)")
	c.K8sEnv, c.K8sVolumes = map[string]string{}, map[string]string{}
	fs.Var(mapFlag(c.K8sEnv), "k8s-env", "extra TREMOLO_*=value for the shared ConfigMap (repeatable), e.g. TREMOLO_EDGE_TIME_ZONE=Asia/Shanghai")
	fs.Var(mapFlag(c.K8sVolumes), "k8s-volume", "service=size: a PersistentVolumeClaim for the service's data directory (repeatable; default video=10Gi; size 0: emptyDir)")
	fs.BoolVar(&c.quiet, "q", false, "no progress output")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q (flags only; see --help)", fs.Args())
	}
	c.Tags = tags
	if len(c.Tags) == 0 {
		c.Tags = []string{"latest"}
	}
	c.services = services
	if len(platforms) == 0 {
		platforms = listFlag{"linux/amd64", "linux/arm64"}
	}
	for _, s := range platforms {
		p, err := oci.ParsePlatform(s)
		if err != nil {
			return nil, err
		}
		c.Platforms = append(c.Platforms, p)
	}
	t, err := parseCreated(created)
	if err != nil {
		return nil, err
	}
	c.Created = t
	switch c.build {
	case "auto", "bazel", "go":
	case "dir":
		if c.binDir == "" {
			return nil, fmt.Errorf("--build=dir needs --bin-dir")
		}
	default:
		return nil, fmt.Errorf("--build=%s: want auto, bazel, go or dir", c.build)
	}
	return c, nil
}

// parseCreated reads --created, then $SOURCE_DATE_EPOCH, else the epoch.
func parseCreated(s string) (time.Time, error) {
	if s == "" {
		s = os.Getenv("SOURCE_DATE_EPOCH")
	}
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--created %q: want RFC 3339 or Unix seconds", s)
	}
	return t.UTC().Truncate(time.Second), nil
}

// userPath resolves a path given on the command line: under `bazel run`
// relative to where bazel was started, not the runfiles directory.
func userPath(p string) string {
	if p == "" || p == "-" || filepath.IsAbs(p) {
		return p
	}
	if wd := os.Getenv("BUILD_WORKING_DIRECTORY"); wd != "" {
		return filepath.Join(wd, p)
	}
	return p
}

// gitRevision is HEAD of the repository at dir, "-dirty" appended when
// tracked or untracked (not ignored) files differ from it.
func gitRevision(ctx context.Context, dir string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	rev := strings.TrimSpace(string(out))
	status, err := exec.CommandContext(ctx, "git", "-C", dir, "status", "--porcelain").Output()
	if err != nil || len(strings.TrimSpace(string(status))) > 0 {
		rev += "-dirty"
	}
	return rev
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	logf := func(format string, a ...any) {
		if !c.quiet {
			fmt.Fprintf(stderr, "[publish %5.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, a...))
		}
	}
	for _, p := range []*string{&c.Layout, &c.Tarball, &c.K8sDir, &c.Summary, &c.root, &c.zoneinfo, &c.binDir} {
		*p = userPath(*p)
	}
	if c.K8sDir != "" && c.Repo == "" && c.K8sRepo == "" {
		return fmt.Errorf("--k8s needs --repo or --k8s-repo: the registry the cluster pulls from")
	}

	useBazel := c.build == "bazel" || (c.build == "auto" && BazelAvailable())
	root := c.root
	if root == "" {
		if ws := os.Getenv("BUILD_WORKSPACE_DIRECTORY"); ws != "" {
			root = ws
		} else if !useBazel && c.build != "dir" {
			if root, err = FindRoot("."); err != nil {
				return err
			}
		}
	}
	if c.Revision == "" {
		c.Revision = "unknown"
		if root != "" {
			c.Revision = gitRevision(ctx, root)
		}
	}

	var in *Inputs
	switch {
	case useBazel:
		if in, err = LoadBazel(c.Platforms); err != nil {
			return err
		}
		logf("binaries built by Bazel (//tools/publish:binaries)")
	case c.build == "dir":
		if in, err = LoadDir(ctx, c.binDir, c.Platforms, c.services); err != nil {
			return err
		}
		logf("binaries from %s", c.binDir)
	default:
		dirs, err := DiscoverServices(root)
		if err != nil {
			return err
		}
		dirs, err = selectDirs(dirs, c.services)
		if err != nil {
			return err
		}
		binDir := c.binDir
		if binDir == "" {
			tmp, err := os.MkdirTemp("", "tremolo-publish-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			binDir = tmp
		}
		if in, err = LoadGo(ctx, root, binDir, dirs, c.Platforms, logf); err != nil {
			return err
		}
	}
	if in.Services, err = selectServices(in.Services, c.services); err != nil {
		return err
	}
	if c.zoneinfo != "" {
		in.ZoneInfo = c.zoneinfo
	}
	logf("%d services x %d platforms, revision %s", len(in.Services), len(c.Platforms), c.Revision)

	res, err := Build(ctx, in, c.Options, logf)
	if err != nil {
		return err
	}
	if c.Layout != "" || c.Tarball != "" {
		top, err := LayoutIndex(res, c.Options)
		if err != nil {
			return err
		}
		if c.Layout != "" {
			if err := oci.WriteLayout(c.Layout, top); err != nil {
				return err
			}
			logf("wrote OCI layout %s", c.Layout)
		}
		if c.Tarball != "" {
			if err := writeTarball(c.Tarball, top, c.Created); err != nil {
				return err
			}
			logf("wrote OCI layout tarball %s", c.Tarball)
		}
	}
	if c.Repo != "" {
		if err := Push(ctx, res, c.Options, logf); err != nil {
			return err
		}
	}
	if c.K8sDir != "" {
		files, err := WriteK8s(res, c.Options, c.K8sDir)
		if err != nil {
			return err
		}
		logf("wrote %d Kubernetes manifest files to %s", len(files), c.K8sDir)
	}
	sum := Summarize(res, in, c.Options)
	if c.Summary != "" {
		if err := WriteSummary(sum, c.Summary, stdout); err != nil {
			return err
		}
	}
	if c.Summary != "-" {
		for _, s := range sum.Services {
			ref := s.Index
			if s.Reference != "" {
				ref = s.Reference
			}
			fmt.Fprintf(stdout, "%-10s %s\n", s.Name, ref)
			for _, img := range s.Images {
				fmt.Fprintf(stdout, "  %-12s %s  %s\n", img.Platform, img.Digest, mb(img.Size))
			}
		}
	}
	logf("done")
	return nil
}

func writeTarball(path string, top *oci.Index, mtime time.Time) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := oci.WriteTarball(f, top, mtime); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func selectDirs(dirs []ServiceDir, names []string) ([]ServiceDir, error) {
	if len(names) == 0 {
		return dirs, nil
	}
	var out []ServiceDir
	for _, n := range names {
		found := false
		for _, d := range dirs {
			if d.Name == n {
				out = append(out, d)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("--services: no service %q", n)
		}
	}
	return out, nil
}

func selectServices(all []*Service, names []string) ([]*Service, error) {
	if len(names) == 0 {
		return all, nil
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []*Service
	for _, s := range all {
		if want[s.Name] {
			out = append(out, s)
			delete(want, s.Name)
		}
	}
	if len(want) > 0 {
		return nil, fmt.Errorf("--services: unknown %v", oci.SortedKeys(want))
	}
	return out, nil
}
