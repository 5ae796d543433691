// Package video is the Douyin video service: uploads, the media files behind
// play and cover URLs, and the videos table.
//
// Publish streams an upload to a temporary file in the media directory,
// checks that it is an MP4 or QuickTime file (internal/sniff), makes its
// cover (internal/cover: ffmpeg's first frame, or a generated image), moves
// both into place as <media-dir>/videos/<id>.mp4 and
// <media-dir>/covers/<id>.jpg, and only then records the video
// (internal/store). The files are served under GET /media/ by MediaHandler,
// which the Module adds to the platform's HTTP server.
//
// Its contract is proto/douyin/video/v1/video.proto; the generated code in
// gen/douyin/video/v1 registers it on the platform's servers (Module).
// Package videotest helps other services' tests publish videos.
package video
