// Package comment is the Douyin comment service: comments on videos.
//
// Its contract is proto/douyin/comment/v1/comment.proto; the generated code
// in gen/douyin/comment/v1 registers it on the platform's servers (Module).
// It owns the comments table (internal/store) and asks the video service,
// with one BatchGetVideos call, whether a video exists before a comment is
// posted on it.
//
// Behaviour beyond the contract's comments:
//
//   - Post trims the content of surrounding white space (Unicode's) and
//     stores and returns the trimmed text; 1 to MaxContentLen characters
//     (Unicode code points) must remain. The content must be valid UTF-8
//     without control characters other than tab, line feed and carriage
//     return. An invalid content is INVALID_CONTENT, an unknown video
//     VIDEO_NOT_FOUND, and nothing is written. Post is not idempotent: two
//     calls post two comments.
//   - Delete is the author's only. Its checks run in this order: a comment
//     that does not exist, or that is not on the given video (when video_id
//     is not 0), is COMMENT_NOT_FOUND, whoever asks; someone else's comment
//     is NOT_AUTHOR. Deleting a deleted comment is COMMENT_NOT_FOUND, so a
//     retried Delete says "not found" (the comment is gone either way).
//     Delete does not ask the video service.
//   - List returns every comment of the video, newest first; a video
//     without comments, or unknown, has an empty list (the video service
//     is not asked).
//   - BatchCount takes at most MaxBatch distinct ids (duplicates are
//     counted once), every one positive; every requested id is in the
//     answer, zero included. It is one GROUP BY query.
//   - created_at is Unix milliseconds; ids come from platform/ids.
package comment
