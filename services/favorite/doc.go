// Package favorite is the Douyin favorite service: who liked which video,
// and the counts derived from it.
//
// Its contract is proto/douyin/favorite/v1/favorite.proto; the generated code
// in gen/douyin/favorite/v1 registers it on the platform's servers (Module).
// It owns the favorites table and its counters (internal/store) and asks the
// video service, with one BatchGetVideos call, whether a video exists and
// who its author is when someone likes it.
//
// Behaviour beyond the contract's comments:
//
//   - Like and Unlike act for the caller (auth.Require). Like of an unknown
//     video is VIDEO_NOT_FOUND and writes nothing; liking a liked video keeps
//     the first like and its time. Unlike never calls the video service:
//     unliking a video not liked, including one that does not exist, is a
//     no-op that succeeds.
//   - The author is recorded with the like, so likes received
//     (total_favorited) are counted without the video service.
//   - ListLiked returns every liked video, most recent like first; a re-like
//     after an unlike counts as new. An unknown or like-less user gets an
//     empty list.
//   - Batch calls take at most MaxBatch distinct ids (duplicates are
//     counted once), every one positive; every requested id is in the
//     answer, zero counts included. Each is one query per batch.
//   - Counts are counter rows changed in the same transaction as the like
//     row (see internal/store), so they stay exact under any interleaving of
//     likes and unlikes.
package favorite
