package discovery

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// A snapshot is a service's instance list as a watcher last saw it in etcd,
// kept on disk (EtcdOptions.SnapshotDir, one <service>.json per service) so
// that a process starting while etcd is unreachable can still find the
// instances that were alive, instead of failing every call until etcd
// returns.
//
// The file is a wire format like Instance: add fields, never rename them.
type snapshotFile struct {
	// Service is the service the list belongs to, checked on reading.
	Service string `json:"service"`
	// SavedAt is when the list was written, for operators.
	SavedAt time.Time `json:"saved_at"`
	// Instances are the instances, each as Instance.Marshal writes it.
	Instances []json.RawMessage `json:"instances"`
}

// maxSnapshotBytes bounds what readSnapshot reads: a snapshot is a few KB; a
// larger file is not one of ours.
const maxSnapshotBytes = 16 << 20

// snapshotPath is the file of service's snapshot in dir. Service names
// cannot contain path separators (checkService), so the file stays in dir.
func snapshotPath(dir, service string) string {
	return filepath.Join(dir, service+".json")
}

// encodeSnapshot is the file content of service's list.
func encodeSnapshot(service string, list []Instance, now time.Time) ([]byte, error) {
	f := snapshotFile{Service: service, SavedAt: now.UTC(), Instances: make([]json.RawMessage, 0, len(list))}
	for _, inst := range list {
		b, err := inst.Marshal()
		if err != nil {
			return nil, fmt.Errorf("discovery: encoding the snapshot of %q: %w", service, err)
		}
		f.Instances = append(f.Instances, b)
	}
	return json.MarshalIndent(f, "", "  ")
}

// decodeSnapshot reads a snapshot of service. The file may have been edited
// or corrupted: an instance that does not decode, is invalid or belongs to
// another service is left out and reported in skipped; a file that is not
// a snapshot of service at all is an error.
func decodeSnapshot(b []byte, service string) (list []Instance, skipped []error, err error) {
	var f snapshotFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, nil, fmt.Errorf("discovery: decoding the snapshot of %q: %w", service, err)
	}
	if f.Service != service {
		return nil, nil, fmt.Errorf("discovery: the snapshot of %q holds service %q", service, f.Service)
	}
	byID := make(map[string]Instance, len(f.Instances))
	for n, raw := range f.Instances {
		inst, err := Unmarshal(raw)
		switch {
		case err != nil:
			skipped = append(skipped, fmt.Errorf("instance %d: %w", n, err))
		case inst.Service != service:
			skipped = append(skipped, fmt.Errorf("instance %d (%s/%s) belongs to another service", n, inst.Service, inst.ID))
		default:
			byID[inst.ID] = inst
		}
	}
	list = make([]Instance, 0, len(byID))
	for _, inst := range byID {
		list = append(list, inst)
	}
	slices.SortFunc(list, func(a, b Instance) int { return cmp.Compare(a.ID, b.ID) })
	return list, skipped, nil
}

// writeSnapshot replaces service's snapshot in dir atomically: it writes a
// temporary file in the same directory and renames it over the old one, so
// a reader (or a crash) never sees half a file.
func writeSnapshot(dir, service string, list []Instance) error {
	b, err := encodeSnapshot(service, list, time.Now())
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+service+".json.tmp-*")
	if err != nil {
		return fmt.Errorf("discovery: writing the snapshot of %q: %w", service, err)
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), snapshotPath(dir, service))
	}
	if err != nil {
		_ = os.Remove(tmp.Name()) // already renamed or never complete; nothing to report beyond err
		return fmt.Errorf("discovery: writing the snapshot of %q: %w", service, err)
	}
	return nil
}

// readSnapshot reads service's snapshot from dir; ok is false when there is
// none.
func readSnapshot(dir, service string) (list []Instance, skipped []error, ok bool, err error) {
	f, err := os.Open(snapshotPath(dir, service))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("discovery: reading the snapshot of %q: %w", service, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSnapshotBytes+1))
	if err != nil {
		return nil, nil, false, fmt.Errorf("discovery: reading the snapshot of %q: %w", service, err)
	}
	if len(b) > maxSnapshotBytes {
		return nil, nil, false, fmt.Errorf("discovery: the snapshot of %q is larger than %d bytes", service, maxSnapshotBytes)
	}
	list, skipped, err = decodeSnapshot(b, service)
	if err != nil {
		return nil, nil, false, err
	}
	return list, skipped, true, nil
}
