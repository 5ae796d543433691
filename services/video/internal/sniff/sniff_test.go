package sniff

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func box(size uint32, typ string, payload ...byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, size)
	b = append(b, typ...)
	return append(b, payload...)
}

func ftypBox(major string, compat ...string) []byte {
	payload := append([]byte(major), 0, 0, 2, 0)
	for _, c := range compat {
		payload = append(payload, c...)
	}
	return box(uint32(8+len(payload)), "ftyp", payload...)
}

func TestVideo(t *testing.T) {
	mdat := box(16, "mdat", 1, 2, 3, 4, 5, 6, 7, 8)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	large := cat(box(1, "mdat"), binary.BigEndian.AppendUint64(nil, 24), make([]byte, 8))
	for _, c := range []struct {
		name string
		data []byte
		want bool
	}{
		{"mp4 isom", cat(ftypBox("isom", "isom", "iso2", "mp41"), mdat), true},
		{"mp4 mp42 no compat", cat(ftypBox("mp42"), mdat), true},
		{"quicktime ftyp", cat(ftypBox("qt  ", "qt  "), mdat), true},
		{"unknown major, video compat", cat(ftypBox("abcd", "xxxx", "mp41"), mdat), true},
		{"3gp", cat(ftypBox("3gp5", "3gp5"), mdat), true},
		{"m4a audio", cat(ftypBox("M4A ", "M4A ", "mp42", "isom"), mdat), false},
		{"heic image", cat(ftypBox("heic", "mif1", "heic"), mdat), false},
		{"unknown brands", cat(ftypBox("abcd", "efgh"), mdat), false},
		{"ftyp too short", cat(box(12, "ftyp", 'i', 's', 'o', 'm'), mdat), false},
		{"ftyp misaligned", cat(box(18, "ftyp", []byte("isom\x00\x00\x00\x00ab")...), mdat), false},
		{"ftyp larger than file", cat(box(200, "ftyp", []byte("isom\x00\x00\x00\x00")...)), false},
		{"ftyp huge", cat(box(1<<20, "ftyp", []byte("isom\x00\x00\x00\x00")...), make([]byte, 1<<20)), false},
		{"qt moov", cat(box(16, "moov", make([]byte, 8)...), mdat), true},
		{"qt wide then mdat", cat(box(8, "wide"), mdat), true},
		{"qt free", box(12, "free", 0, 0, 0, 0), true},
		{"qt mdat to eof", cat(box(0, "mdat"), make([]byte, 20)), true},
		{"qt free size 0", cat(box(0, "free"), make([]byte, 20)), false},
		{"qt mdat 64-bit size", large, true},
		{"qt mdat 64-bit size past eof", cat(box(1, "mdat"), binary.BigEndian.AppendUint64(nil, 4096), make([]byte, 8)), false},
		{"qt moov size past eof", box(4096, "moov", 1, 2, 3), false},
		{"qt moov size below header", cat(box(4, "moov"), mdat), false},
		{"text that mentions moov", []byte("abcdmoov and more text"), false},
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"), false},
		{"plain text", []byte("hello, this is not a video at all\n"), false},
		{"webm", []byte("\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01"), false},
		{"short", []byte("\x00\x00\x00"), false},
		{"empty", nil, false},
	} {
		head := c.data[:min(len(c.data), HeadLen)]
		if got := Video(head, int64(len(c.data))); got != c.want {
			t.Errorf("%s: Video = %v, want %v", c.name, got, c.want)
		}
		// Before the size is known the answer may only be more lenient.
		if c.want && !Video(head, -1) {
			t.Errorf("%s: Video(head, unknown size) = false for a video", c.name)
		}
	}
}

func FuzzVideo(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x14ftypisom\x00\x00\x02\x00mp41"), int64(20))
	f.Add([]byte("\x00\x00\x00\x01mdat\x00\x00\x00\x00\x00\x00\x00\x10"), int64(16))
	f.Fuzz(func(t *testing.T, head []byte, size int64) {
		_ = Video(head, size) // must not panic
	})
}

func TestHasBox(t *testing.T) {
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	moov := box(16, "moov", make([]byte, 8)...)
	mdat := box(16, "mdat", make([]byte, 8)...)
	large := cat(box(1, "mdat"), binary.BigEndian.AppendUint64(nil, 24), make([]byte, 8))
	for _, c := range []struct {
		name string
		data []byte
		want bool
	}{
		{"ftyp mdat moov", cat(ftypBox("isom", "mp41"), mdat, moov), true},
		{"ftyp moov mdat", cat(ftypBox("isom"), moov, mdat), true},
		{"after a 64-bit box", cat(large, moov), true},
		{"no moov", cat(ftypBox("isom"), mdat), false},
		{"moov after a box to eof", cat(box(0, "mdat"), moov), false},
		{"box size below header", cat(box(4, "free"), moov), false},
		{"box past eof", cat(box(64, "free"), moov), false},
		{"moov header cut short", cat(ftypBox("isom"), []byte("\x00\x00")), false},
		{"empty", nil, false},
	} {
		if got := HasBox(bytes.NewReader(c.data), int64(len(c.data)), "moov"); got != c.want {
			t.Errorf("%s: HasBox = %v, want %v", c.name, got, c.want)
		}
	}
}
