// Package videotest helps tests publish videos to the video service: a tiny
// file the service accepts as MP4, and a client-side Publish.
package videotest

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/binary"
	"errors"
	"io"
	"strconv"

	"google.golang.org/grpc/metadata"

	videov1 "github.com/tremolo-dev/tremolo/gen/douyin/video/v1"
	"github.com/tremolo-dev/tremolo/platform/auth"
)

// ChunkSize is the chunk size Publish sends: the most the service accepts.
const ChunkSize = 1 << 20

// MP4 returns a minimal MP4 file: an ftyp box (brand isom, compatible with
// isom, iso2 and mp41) and an mdat box of 8 bytes. It passes the service's
// check of MP4/QuickTime files, though it has no playable frame (the service
// then generates the cover). Each call returns a new slice.
func MP4() []byte {
	var b []byte
	box := func(typ string, payload []byte) {
		b = binary.BigEndian.AppendUint32(b, uint32(8+len(payload)))
		b = append(b, typ...)
		b = append(b, payload...)
	}
	box("ftyp", []byte("isom\x00\x00\x02\x00isomiso2mp41"))
	box("mdat", []byte("tremolo!"))
	return b
}

//go:embed playable.mp4
var playable []byte

// Playable returns a real, playable MP4 of 3 KB: one 96x160 H.264 frame of
// ffmpeg's test pattern (made with `ffmpeg -f lavfi -i
// testsrc=size=96x160:rate=1:duration=1 -frames:v 1 -c:v libx264 -pix_fmt
// yuv420p -movflags +faststart`). Where ffmpeg is installed, the service's
// cover of it is that frame. Each call returns a new slice.
func Playable() []byte { return bytes.Clone(playable) }

// PlayableWidth and PlayableHeight are the size of Playable's frame.
const (
	PlayableWidth  = 96
	PlayableHeight = 160
)

// Sized returns an MP4 file of exactly n bytes (n >= len(MP4())): MP4's
// ftyp box followed by an mdat box padding it out.
func Sized(n int) []byte {
	ftyp := MP4()[:28]
	if n < len(ftyp)+8 {
		panic("videotest: Sized(" + strconv.Itoa(n) + ") is below the smallest MP4")
	}
	b := make([]byte, n)
	copy(b, ftyp)
	binary.BigEndian.PutUint32(b[28:], uint32(n-28))
	copy(b[32:], "mdat")
	return b
}

// AsUser returns ctx with the metadata that makes a plain gRPC client's
// calls come from userID, as the edge sends it after verifying a token.
// (Calls through the platform's clients carry auth.WithUser's user instead.)
func AsUser(ctx context.Context, userID int64) context.Context {
	return metadata.AppendToOutgoingContext(ctx, auth.MetadataKey, strconv.FormatInt(userID, 10))
}

// Publish uploads data as a video titled title through client, as ctx's
// user (see AsUser), in ChunkSize chunks, and returns the stored video or
// the service's error.
func Publish(ctx context.Context, client videov1.VideoServiceClient, title string, data []byte) (*videov1.Video, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.Publish(ctx)
	if err != nil {
		return nil, err
	}
	msgs := []*videov1.PublishRequest{{Part: &videov1.PublishRequest_Metadata{Metadata: &videov1.PublishMetadata{Title: title}}}}
	for off := 0; off < len(data); off += ChunkSize {
		msgs = append(msgs, &videov1.PublishRequest{Part: &videov1.PublishRequest_Chunk{Chunk: data[off:min(off+ChunkSize, len(data))]}})
	}
	return Send(stream, msgs...)
}

// Send sends msgs on a Publish stream as they are (for tests of malformed
// uploads), closes it and returns the service's answer. When the service
// answered before all were sent (it refused the upload), that answer is
// returned.
func Send(stream videov1.VideoService_PublishClient, msgs ...*videov1.PublishRequest) (*videov1.Video, error) {
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			if errors.Is(err, io.EOF) {
				break // the server has answered: CloseAndRecv returns its status
			}
			return nil, err
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return nil, err
	}
	return resp.GetVideo(), nil
}
