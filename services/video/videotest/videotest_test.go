package videotest

import (
	"bytes"
	"testing"

	"github.com/tremolo-dev/tremolo/services/video/internal/sniff"
)

func TestFilesPassTheSniffer(t *testing.T) {
	mp4 := MP4()
	if !sniff.Video(mp4, int64(len(mp4))) {
		t.Fatalf("MP4() = %q does not pass the sniffer", mp4)
	}
	p := Playable()
	if !sniff.Video(p[:sniff.HeadLen], int64(len(p))) || !sniff.HasBox(bytes.NewReader(p), int64(len(p)), "moov") {
		t.Fatal("Playable() does not pass the sniffer or lacks its moov box")
	}
	if sniff.HasBox(bytes.NewReader(mp4), int64(len(mp4)), "moov") {
		t.Fatal("MP4() has a moov box: the service would run ffmpeg on it")
	}
	for _, n := range []int{36, 1000, ChunkSize + 1} {
		b := Sized(n)
		if len(b) != n || !sniff.Video(b[:min(n, sniff.HeadLen)], int64(n)) {
			t.Fatalf("Sized(%d): %d bytes, passes = %v", n, len(b), sniff.Video(b[:min(n, sniff.HeadLen)], int64(n)))
		}
	}
}
