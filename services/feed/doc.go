// Package feed is the Douyin feed service: the video timeline, and the
// assembly of the app's User and Video objects (douyin.app.v1) from the
// services that own their parts.
//
// A Video needs its record (video), its author's profile (user) and the
// author's counters (relation, video, favorite), its like count and the
// viewer's like (favorite) and its comment count (comment). The feed asks
// each owner once per page, in parallel, so a page of 30 videos costs seven
// calls whatever its size; it keeps no data of its own.
package feed
