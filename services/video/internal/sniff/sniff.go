// Package sniff tells MP4 and QuickTime videos from other files by their
// first bytes, without decoding them.
//
// A file is accepted when it starts with either
//
//   - an ISO base media file format (ISO-BMFF, MP4) "ftyp" box whose major
//     brand, or one of its compatible brands, is a video brand (isom, mp41,
//     mp42, avc1, qt, 3gp…, M4V…), and whose major brand is not an audio- or
//     image-only one (M4A, HEIF/AVIF, …), or
//   - a classic QuickTime atom without ftyp: "moov", "mdat", "wide" or
//     "free", whose size field is plausible: at least the 8-byte header and
//     no larger than the file (0, "to the end of the file", only for mdat;
//     1, a 64-bit size after the type, likewise checked).
package sniff

import (
	"encoding/binary"
	"errors"
	"io"
)

// HeadLen is how many leading bytes Video looks at; pass at least this many
// (or the whole file when it is shorter).
const HeadLen = 256

// maxFtyp bounds a plausible ftyp box: real ones list a handful of brands.
const maxFtyp = 1024

// videoBrands are ftyp brands of files that carry video.
var videoBrands = map[string]bool{
	"isom": true, "iso2": true, "iso3": true, "iso4": true, "iso5": true, "iso6": true,
	"iso7": true, "iso8": true, "iso9": true, "mp41": true, "mp42": true, "mp71": true,
	"avc1": true, "qt  ": true, "M4V ": true, "M4VH": true, "M4VP": true,
	"3gp4": true, "3gp5": true, "3gp6": true, "3gp7": true, "3gs7": true,
	"3g2a": true, "3g2b": true, "3g2c": true, "dash": true, "msdh": true, "msix": true,
	"f4v ": true, "MSNV": true, "mmp4": true, "XAVC": true, "cmfc": true, "cmf2": true,
}

// otherBrands are major brands of ISO-BMFF files that are not videos even
// when they list isom or mp42 as compatible (audio books, stills).
var otherBrands = map[string]bool{
	"M4A ": true, "M4B ": true, "M4P ": true, "F4A ": true, "F4B ": true,
	"heic": true, "heix": true, "heim": true, "heis": true, "hevc": true, "hevx": true,
	"mif1": true, "msf1": true, "avif": true, "avis": true, "crx ": true, "jp2 ": true,
}

// quickTimeAtoms are the top-level atoms a QuickTime file without ftyp
// starts with.
var quickTimeAtoms = map[string]bool{"moov": true, "mdat": true, "wide": true, "free": true}

// Video reports whether a file starting with head (its first HeadLen bytes,
// or all of it when shorter) and size bytes long is an MP4 or QuickTime
// video. size < 0 means the size is not known yet (the upload is still
// arriving): the checks that need it are skipped, so a false result is final
// while a true one must be confirmed with the size once it is known.
func Video(head []byte, size int64) bool {
	if len(head) < 8 {
		return false
	}
	boxSize := int64(binary.BigEndian.Uint32(head[0:4]))
	typ := string(head[4:8])
	if size >= 0 && int64(len(head)) > size {
		head = head[:size]
	}
	if typ == "ftyp" {
		return ftyp(head, boxSize, size)
	}
	if !quickTimeAtoms[typ] {
		return false
	}
	switch boxSize {
	case 0: // the atom runs to the end of the file
		return typ == "mdat"
	case 1: // a 64-bit size follows the type
		if len(head) < 16 {
			return false
		}
		large := binary.BigEndian.Uint64(head[8:16])
		return large >= 16 && large < 1<<62 && (size < 0 || int64(large) <= size)
	default:
		return boxSize >= 8 && (size < 0 || boxSize <= size)
	}
}

func ftyp(head []byte, boxSize, size int64) bool {
	// size, type, major brand, minor version, then 4-byte compatible brands.
	if boxSize < 16 || boxSize > maxFtyp || (boxSize-16)%4 != 0 || (size >= 0 && boxSize > size) {
		return false
	}
	if len(head) < 12 {
		return false
	}
	major := string(head[8:12])
	if otherBrands[major] {
		return false
	}
	if videoBrands[major] {
		return true
	}
	end := min(int(boxSize), len(head))
	for i := 16; i+4 <= end; i += 4 {
		if videoBrands[string(head[i:i+4])] {
			return true
		}
	}
	return false
}

// maxBoxes bounds how many top-level boxes HasBox walks.
const maxBoxes = 10000

// HasBox reports whether one of the top-level boxes (atoms) of the size-byte
// MP4/QuickTime file r is of type typ, walking their headers from the start
// (at most 10,000 of them; a malformed header ends the walk). It reads only
// the headers. Without a "moov" box a file has no playable track, so there
// is no frame to extract.
func HasBox(r io.ReaderAt, size int64, typ string) bool {
	var hdr [16]byte
	off := int64(0)
	for range maxBoxes {
		if off+8 > size {
			return false
		}
		n, err := r.ReadAt(hdr[:], off)
		if n < 8 || (err != nil && !errors.Is(err, io.EOF)) {
			return false
		}
		if string(hdr[4:8]) == typ {
			return true
		}
		boxSize := int64(binary.BigEndian.Uint32(hdr[0:4]))
		switch {
		case boxSize == 0: // the last box, to the end of the file
			return false
		case boxSize == 1:
			if n < 16 {
				return false
			}
			large := binary.BigEndian.Uint64(hdr[8:16])
			if large < 16 || large > uint64(size-off) {
				return false
			}
			boxSize = int64(large)
		case boxSize < 8:
			return false
		}
		off += boxSize
	}
	return false
}
