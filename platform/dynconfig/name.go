package dynconfig

import (
	"fmt"
	"strings"
)

// MaxNameLen is the longest document name accepted, in bytes. Names become
// metric labels and log fields; a bound keeps a stray file or key from
// turning into an unbounded label.
const MaxNameLen = 128

// Extensions are the file name endings FileSource reads as documents, in
// the order it prefers them when two files name the same document (it
// then refuses both; see FileSource). Other files — editors' backups
// (a.yaml~, .a.yaml.swp), notes, the ..data links of a Kubernetes volume —
// are ignored.
var Extensions = []string{".yaml", ".yml", ".json"}

// ValidName reports what is wrong with a document name: empty, too long,
// not starting with a letter or digit, or holding a character other than
// letters, digits, '.', '_' and '-'. The rule is the same for every source
// so that a document can move from files to etcd unchanged; it keeps names
// usable as file names, etcd key suffixes and metric labels.
func ValidName(name string) error {
	if name == "" {
		return fmt.Errorf("dynconfig: empty document name")
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("dynconfig: document name of %d bytes (at most %d)", len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		switch {
		case alnum:
		case i == 0:
			return fmt.Errorf("dynconfig: document name %q must start with a letter or digit", name)
		case c == '.' || c == '_' || c == '-':
		default:
			return fmt.Errorf("dynconfig: document name %q: character %q is not a letter, digit, '.', '_' or '-'", name, c)
		}
	}
	return nil
}

// DocumentName returns the name of the document a file holds ("ratelimit"
// for "ratelimit.yaml"), and false for a file that is not a document: one
// without a known extension (Extensions) or whose name is not valid
// (ValidName), which includes hidden files.
func DocumentName(file string) (string, bool) {
	for _, ext := range Extensions {
		if name, ok := strings.CutSuffix(file, ext); ok {
			if ValidName(name) != nil {
				return "", false
			}
			return name, true
		}
	}
	return "", false
}
