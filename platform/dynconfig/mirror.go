package dynconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// MirrorFile returns a Subscribe function that keeps the file at path equal
// to the document, then calls reload, for consumers that read their
// configuration from a file rather than from bytes. The edge's plugin
// chain is one: wasmchain.Chain loads Options.Path and resolves module
// paths relative to it, so the "plugins" document is mirrored to that path
// and the chain reloaded:
//
//	w.Subscribe("plugins", dynconfig.MirrorFile(chainPath, func() error {
//		_, err := chain.Reload(ctx)
//		return err
//	}))
//
// The file is replaced atomically (a temporary file renamed over it), so
// a reader never sees half a document. If reload fails, the previous
// content is put back before the error is returned: the running
// configuration stays, and so does the file it came from, so a restart
// does not trip over the refused document. A document that is removed
// leaves the file, and the running configuration, as they were: to change
// the configuration, publish a new document (for the chain, an empty
// plugin list).
func MirrorFile(path string, reload func() error) func(data []byte, present bool) error {
	return func(data []byte, present bool) error {
		if !present {
			return nil
		}
		old, err := os.ReadFile(path)
		existed := err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("reading %s before replacing it: %w", path, err)
		}
		if !existed || !bytes.Equal(old, data) {
			if err := writeAtomic(path, data); err != nil {
				return err
			}
		}
		if err := reload(); err != nil {
			var restore error
			switch {
			case !existed:
				restore = os.Remove(path)
			case !bytes.Equal(old, data):
				restore = writeAtomic(path, old)
			}
			if restore != nil {
				return errors.Join(err, fmt.Errorf("putting the previous %s back: %w", path, restore))
			}
			return err
		}
		return nil
	}
}

// writeAtomic replaces path by a file holding data, through a temporary
// file in the same directory and a rename.
func writeAtomic(path string, data []byte) error {
	mode := fs.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), mode)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
