package oci

import (
	"archive/zip"
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"path"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// The image's user, data directory and file locations.
const (
	NonRootUID = 65532 // the distroless "nonroot" user
	NonRootGID = 65532
	DataDir    = "/var/lib/tremolo" // working directory and TREMOLO_DATA_DIR, owned by NonRootUID
	BinDir     = "/usr/local/bin"
	CAFile     = "/etc/ssl/certs/ca-certificates.crt"
	ZoneInfo   = "/usr/share/zoneinfo"
)

// CABundleModule is the Go module the CA certificates come from.
const CABundleModule = "golang.org/x/crypto/x509roots/fallback"

// CABundle returns Mozilla's NSS root certificates, as shipped by the Go
// module golang.org/x/crypto/x509roots/fallback (pinned in go.mod), as one
// PEM file, and how many roots it holds and left out. Roots that NSS
// constrains (a distrust-after date) cannot be expressed in a PEM bundle and
// are left out, which errs on the side of trusting less.
func CABundle() (pemData []byte, kept, skipped int) {
	var buf bytes.Buffer
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			skipped++
			continue
		}
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate})
		kept++
	}
	return buf.Bytes(), kept, skipped
}

// CABundleVersion is the version of CABundleModule compiled into this
// program ("unknown" when the build recorded no module information).
func CABundleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == CABundleModule {
				if m.Replace != nil {
					return m.Replace.Version
				}
				return m.Version
			}
		}
	}
	return "unknown"
}

// ZoneInfoFiles unpacks a Go SDK's lib/time/zoneinfo.zip into files under
// /usr/share/zoneinfo, where Go (and libc) programs look first.
func ZoneInfoFiles(zipData []byte) ([]File, error) {
	zr, err := zip.NewReader(bytes.NewReader(zipData), int64(len(zipData)))
	if err != nil {
		return nil, fmt.Errorf("zoneinfo: %w", err)
	}
	var files []File
	for _, zf := range zr.File {
		if strings.HasSuffix(zf.Name, "/") {
			continue
		}
		name := path.Clean("/" + zf.Name)
		if strings.Contains(zf.Name, "..") {
			return nil, fmt.Errorf("zoneinfo: bad entry %q", zf.Name)
		}
		rc, err := zf.Open()
		if err != nil {
			return nil, fmt.Errorf("zoneinfo: %s: %w", zf.Name, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("zoneinfo: %s: %w", zf.Name, err)
		}
		files = append(files, File{Path: ZoneInfo + name, Mode: 0o644, Data: data})
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("zoneinfo: empty archive")
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// BaseFiles is what every image holds besides its binary: the root and
// nonroot users, name-service order, CA certificates, time zones, a
// writable data directory and /tmp.
func BaseFiles(caPEM, zoneinfoZip []byte) ([]File, error) {
	tz, err := ZoneInfoFiles(zoneinfoZip)
	if err != nil {
		return nil, err
	}
	files := []File{
		{Path: "/etc/passwd", Mode: 0o644, Data: []byte(
			"root:x:0:0:root:/root:/sbin/nologin\n" +
				"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
				"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{Path: "/etc/group", Mode: 0o644, Data: []byte("root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n")},
		{Path: "/etc/nsswitch.conf", Mode: 0o644, Data: []byte("hosts: files dns\n")},
		{Path: CAFile, Mode: 0o644, Data: caPEM},
		{Path: "/root", Dir: true, Mode: 0o700},
		{Path: "/home/nonroot", Dir: true, Mode: 0o700, UID: NonRootUID, GID: NonRootGID},
		{Path: DataDir, Dir: true, Mode: 0o755, UID: NonRootUID, GID: NonRootGID},
		{Path: "/tmp", Dir: true, Mode: 0o1777},
	}
	return append(files, tz...), nil
}

// BaseLayer is the layer of BaseFiles; the same for every service and
// platform, so registries and layouts store it once.
func BaseLayer(caPEM, zoneinfoZip []byte, mtime time.Time) (*Layer, error) {
	files, err := BaseFiles(caPEM, zoneinfoZip)
	if err != nil {
		return nil, err
	}
	return NewLayer(files, mtime)
}

// BinaryLayer holds one service binary at /usr/local/bin/<name>.
func BinaryLayer(name string, binary []byte, mtime time.Time) (*Layer, error) {
	return NewLayer([]File{{Path: BinDir + "/" + name, Mode: 0o755, Data: binary}}, mtime)
}
