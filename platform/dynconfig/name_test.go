package dynconfig

import (
	"strings"
	"testing"
)

func TestDocumentName(t *testing.T) {
	for file, want := range map[string]string{
		"ratelimit.yaml":    "ratelimit",
		"abrouting.yml":     "abrouting",
		"plugins.json":      "plugins",
		"fault-inj_2.yaml":  "fault-inj_2",
		"a.b.yaml":          "a.b",
		"ratelimit.yaml~":   "",
		".ratelimit.yaml":   "",
		".ratelimit.swp":    "",
		"..data":            "",
		"ratelimit":         "",
		".yaml":             "",
		"RATE.YAML":         "",
		"with space.yaml":   "",
		"-leading.yaml":     "",
		"ratelimit.toml":    "",
		"ratelimit.yaml.gz": "",
		strings.Repeat("a", MaxNameLen) + ".yaml":   strings.Repeat("a", MaxNameLen),
		strings.Repeat("a", MaxNameLen+1) + ".yaml": "",
	} {
		got, ok := DocumentName(file)
		if got != want || ok != (want != "") {
			t.Errorf("DocumentName(%q) = %q, %v; want %q", file, got, ok, want)
		}
	}
}

func TestValidNameSaysWhy(t *testing.T) {
	for name, want := range map[string]string{
		"":        "empty",
		"a/b":     `character '/'`,
		"_x":      "must start with a letter or digit",
		"ünicode": "must start",
	} {
		err := ValidName(name)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidName(%q) = %v, want an error saying %q", name, err, want)
		}
	}
}

// FuzzDocumentName checks the file name → document name mapping: it never
// panics, every name it returns is valid and maps back to the file, and
// every valid name is found in each of its files.
func FuzzDocumentName(f *testing.F) {
	for _, s := range []string{"ratelimit.yaml", "a.yml", "x.json", ".hidden.yaml", "a/b.yaml", "..data", "é.yaml", ".yaml", "a.yaml.yaml"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, file string) {
		name, ok := DocumentName(file)
		if !ok {
			if name != "" {
				t.Fatalf("DocumentName(%q) = %q with false", file, name)
			}
		} else {
			if err := ValidName(name); err != nil {
				t.Fatalf("DocumentName(%q) = %q, which is not valid: %v", file, name, err)
			}
			found := false
			for _, ext := range Extensions {
				found = found || name+ext == file
			}
			if !found {
				t.Fatalf("DocumentName(%q) = %q, not the file without an extension", file, name)
			}
		}
		if ValidName(file) == nil {
			for _, ext := range Extensions {
				if got, ok := DocumentName(file + ext); !ok || got != file {
					t.Fatalf("DocumentName(%q) = %q, %v; want %q", file+ext, got, ok, file)
				}
			}
		}
	})
}
