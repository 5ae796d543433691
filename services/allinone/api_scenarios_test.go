package allinone_test

import (
	"bytes"
	_ "embed"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tremolo-dev/tremolo/services/allinone"
	"github.com/tremolo-dev/tremolo/services/video/videotest"
)

// account is a registered user.
type account struct {
	id                    int64
	name, password, token string
}

func (a *account) id64() string { return strconv.FormatInt(a.id, 10) }

// world is what the happy path created: three users and alice's videos.
type world struct {
	alice, bob, carol *account
	videos            []apiVideo // alice's, in publish order
	demo              apiVideo
}

func (w *world) accounts() []*account { return []*account{w.alice, w.bob, w.carol} }

// nowMS is the wall clock in Unix milliseconds.
func nowMS() int64 { return time.Now().UnixMilli() }

// fetch GETs a media URL with an optional Range and returns the status,
// Content-Type and body.
func fetch(t testing.TB, u, rng string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// checkMedia checks that v's play_url and cover_url are absolute URLs on
// the server the app reached, serving video (with ranges) and an image; if
// want is not nil, the video's bytes are want.
func checkMedia(t testing.TB, e *env, v apiVideo, want []byte) {
	t.Helper()
	for _, u := range []string{v.PlayURL, v.CoverURL} {
		if !strings.HasPrefix(u, e.base+"/") {
			t.Fatalf("video %d: media URL %q is not an absolute URL on %s", v.ID, u, e.base)
		}
	}
	code, ct, body := fetch(t, v.PlayURL, "")
	if code != http.StatusOK || ct != "video/mp4" || len(body) == 0 {
		t.Fatalf("GET %s: %d %q, %d bytes; want 200 video/mp4", v.PlayURL, code, ct, len(body))
	}
	if want != nil && !bytes.Equal(body, want) {
		t.Fatalf("GET %s: %d bytes that differ from the %d published", v.PlayURL, len(body), len(want))
	}
	if len(body) > 64 {
		code, ct, part := fetch(t, v.PlayURL, "bytes=10-49")
		if code != http.StatusPartialContent || ct != "video/mp4" || !bytes.Equal(part, body[10:50]) {
			t.Fatalf("GET %s Range bytes=10-49: %d %q %d bytes, want 206 video/mp4 and bytes 10-49", v.PlayURL, code, ct, len(part))
		}
	}
	code, ct, img := fetch(t, v.CoverURL, "")
	if code != http.StatusOK || !strings.HasPrefix(ct, "image/") {
		t.Fatalf("GET %s: %d %q, want 200 image/*", v.CoverURL, code, ct)
	}
	if _, _, err := image.DecodeConfig(bytes.NewReader(img)); err != nil {
		t.Fatalf("GET %s: the cover (%s, %d bytes) is not an image: %v", v.CoverURL, ct, len(img), err)
	}
}

// demoClip is the file allinone seeds (its demoVideo).
//
//go:embed demo/demo.mp4
var demoClip []byte

// freshInstall: a new install's feed shows the seeded demo video, playable.
func freshInstall(t *testing.T, e *env) {
	r := e.c.get(t, "/douyin/feed/", nil).ok(t, "feed of a fresh install")
	if len(r.VideoList) != 1 {
		t.Fatalf("fresh install: feed has %d videos, want the demo alone: %s", len(r.VideoList), r.raw)
	}
	demo := r.VideoList[0]
	if demo.Author.Name != allinone.DemoUser || demo.Title == "" || demo.Author.WorkCount != 1 || demo.IsFavorite {
		t.Fatalf("fresh install: the video is %+v, want the demo by %s", demo, allinone.DemoUser)
	}
	if r.NextTime <= 0 || r.NextTime > nowMS() || r.NextTime < nowMS()-10*60*1000 {
		t.Fatalf("fresh install: next_time %d is not the demo's publish time in ms (now %d)", r.NextTime, nowMS())
	}
	checkMedia(t, e, demo, demoClip)
}

// happyPath is the app's everyday use by three new users (names prefixed
// with prefix): accounts, publishing, the feed, likes, comments, follows
// and messages, and ids in float notation.
func happyPath(t *testing.T, e *env, prefix string) *world {
	w := &world{}
	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, f) {
			t.FailNow()
		}
	}
	step("accounts", func(t *testing.T) { w.accountsStep(t, e, prefix) })
	step("publish", func(t *testing.T) { w.publishStep(t, e) })
	step("favorite", func(t *testing.T) { w.favoriteStep(t, e) })
	step("comment", func(t *testing.T) { w.commentStep(t, e) })
	step("social", func(t *testing.T) { w.socialStep(t, e) })
	step("float ids", func(t *testing.T) { w.floatIDsStep(t, e) })
	return w
}

func register(t testing.TB, e *env, m mode, name, password string) *account {
	t.Helper()
	r := e.c.callMode(t, m, http.MethodPost, "/douyin/user/register/", vals("username", name, "password", password)).ok(t, "register "+name+" ("+m.String()+")")
	if r.UserID <= 0 || r.UserID >= 1<<53 || r.Token == "" {
		t.Fatalf("register %s: user_id %d token %q", name, r.UserID, r.Token)
	}
	return &account{id: r.UserID, name: name, password: password, token: r.Token}
}

// user returns the profile of id as viewer sees it.
func user(t testing.TB, e *env, viewer *account, id int64) apiUser {
	t.Helper()
	r := e.c.get(t, "/douyin/user/", vals("user_id", strconv.FormatInt(id, 10), "token", viewer.token)).ok(t, "user")
	if r.User == nil || r.User.ID != id {
		t.Fatalf("user %d: got %s", id, r.raw)
	}
	return *r.User
}

func (w *world) accountsStep(t *testing.T, e *env, prefix string) {
	// One account per way of passing parameters.
	w.alice = register(t, e, inQuery, prefix+"alice", "alice-pw")
	w.bob = register(t, e, inForm, prefix+"bob", "bob-pw-with-symbols &=+%?")
	w.carol = register(t, e, inBoth, prefix+"carol 卡罗尔", "carol-pw")
	if w.alice.id == w.bob.id || w.bob.id == w.carol.id || w.alice.id == w.carol.id {
		t.Fatalf("ids not distinct: %d %d %d", w.alice.id, w.bob.id, w.carol.id)
	}
	for _, a := range w.accounts() {
		u := user(t, e, a, a.id)
		if u != (apiUser{ID: a.id, Name: a.name}) {
			t.Errorf("new user %s: %+v, want a blank profile", a.name, u)
		}
		// Without user_id: the token's owner.
		if r := e.c.get(t, "/douyin/user/", vals("token", a.token)).ok(t, "own profile"); r.User == nil || r.User.ID != a.id {
			t.Errorf("profile without user_id for %s: %s", a.name, r.raw)
		}
		for m := inQuery; m <= inBoth; m++ {
			r := e.c.callMode(t, m, http.MethodPost, "/douyin/user/login/", vals("username", a.name, "password", a.password)).ok(t, "login "+a.name+" ("+m.String()+")")
			if r.UserID != a.id || r.Token == "" {
				t.Fatalf("login %s (%s): %s, want user_id %d and a token", a.name, m, r.raw, a.id)
			}
			if u := user(t, e, &account{token: r.Token}, a.id); u.Name != a.name {
				t.Fatalf("login %s: its token shows %+v", a.name, u)
			}
		}
		for m := inQuery; m <= inBoth; m++ {
			e.c.callMode(t, m, http.MethodPost, "/douyin/user/register/", vals("username", a.name, "password", "other")).
				fails(t, "registering the taken name "+a.name+" ("+m.String()+")", nameTaken)
			e.c.callMode(t, m, http.MethodPost, "/douyin/user/login/", vals("username", a.name, "password", a.password+"x")).
				fails(t, "login "+a.name+" with a wrong password ("+m.String()+")", wrongCredentials)
		}
	}
	e.c.post(t, "/douyin/user/login/", vals("username", prefix+"nobody", "password", "pw")).fails(t, "login of an unknown name", wrongCredentials)
}

// published is a video alice published and when.
func (w *world) publishStep(t *testing.T, e *env) {
	a := w.alice
	files := [][]byte{videotest.Playable(), videotest.MP4(), videotest.Sized(600 << 10), videotest.MP4()}
	uploads := []struct {
		title string
		query url.Values
		parts []part
	}{
		// token and title before the file: streamed as it arrives.
		{"fields first", nil, []part{field("token", a.token), field("title", "fields first"), file(files[0])}},
		// the file first: spooled until token and title are known.
		{"file first 🎬", nil, []part{file(files[1]), field("title", "file first 🎬"), field("token", a.token)}},
		// the title in the query, the token before the file.
		{"title in the query", vals("title", "title in the query"), []part{field("token", a.token), file(files[2])}},
		// title and token in the query, the file alone in the body.
		{"all in the query", vals("title", "all in the query", "token", a.token), []part{file(files[3])}},
	}
	var times []int64 // before and after each publish
	for i, up := range uploads {
		time.Sleep(3 * time.Millisecond) // distinct publish times
		times = append(times, nowMS())
		e.c.publish(t, up.query, up.parts...).ok(t, "publish "+up.title)
		times = append(times, nowMS())
		// In the publish list at once, newest first, with a cover.
		r := e.c.get(t, "/douyin/publish/list/", vals("user_id", a.id64(), "token", a.token)).ok(t, "publish list")
		if len(r.VideoList) != i+1 {
			t.Fatalf("after %d publishes the list has %d videos: %s", i+1, len(r.VideoList), r.raw)
		}
		v := r.VideoList[0]
		if v.Title != up.title || v.Author.ID != a.id || v.Author.Name != a.name || v.Author.WorkCount != int64(i+1) ||
			v.CoverURL == "" || v.PlayURL == "" || v.FavoriteCount != 0 || v.CommentCount != 0 || v.IsFavorite {
			t.Fatalf("just published %q: %+v", up.title, v)
		}
		for j, old := range w.videos {
			if r.VideoList[len(w.videos)-j].ID != old.ID {
				t.Fatalf("publish list not newest first: %s", r.raw)
			}
		}
		checkMedia(t, e, v, files[i])
		w.videos = append(w.videos, v)
	}

	// The feed: newest first, the demo (the oldest) last.
	r := e.c.get(t, "/douyin/feed/", nil).ok(t, "feed")
	if len(r.VideoList) < 5 {
		t.Fatalf("feed has %d videos, want alice's 4 and the demo: %s", len(r.VideoList), r.raw)
	}
	for i := range 4 {
		if got, want := r.VideoList[i].ID, w.videos[3-i].ID; got != want {
			t.Fatalf("feed[%d] = %d, want %d (newest first): %s", i, got, want, r.raw)
		}
	}
	oldest := r.VideoList[len(r.VideoList)-1]
	w.demo = oldest
	if len(r.VideoList) < 30 && oldest.Author.Name != allinone.DemoUser {
		t.Fatalf("the feed's oldest video is %+v, want the demo", oldest)
	}
	// next_time is the oldest's publish time: a feed before it has not that
	// video, a feed before next_time+1 starts with it.
	if r.NextTime <= 0 || r.NextTime >= times[0] {
		t.Fatalf("next_time %d, want the demo's publish time (before %d)", r.NextTime, times[0])
	}
	before := e.c.get(t, "/douyin/feed/", vals("latest_time", strconv.FormatInt(r.NextTime, 10))).ok(t, "feed before next_time")
	if slices.ContainsFunc(before.VideoList, func(v apiVideo) bool { return v.ID == oldest.ID }) {
		t.Fatalf("feed before next_time %d has the video published at it", r.NextTime)
	}
	at := e.c.get(t, "/douyin/feed/", vals("latest_time", strconv.FormatInt(r.NextTime+1, 10))).ok(t, "feed before next_time+1")
	if len(at.VideoList) == 0 || at.VideoList[0].ID != oldest.ID {
		t.Fatalf("feed before next_time+1 does not start with the oldest video %d: %s", oldest.ID, at.raw)
	}

	// latest_time in ms, in seconds, in float notation: after the second
	// publish and before the third, the feed starts with the second.
	ms := times[3] + 1 // times[4] > ms: sleeps of 3 ms between publishes
	sec := times[7]/1000 + 1
	secBefore := times[0] / 1000
	ids := func(r *reply) []int64 {
		var out []int64
		for _, v := range r.VideoList {
			out = append(out, v.ID)
		}
		return out
	}
	mine := func(list []int64) []int64 {
		var out []int64
		for _, id := range list {
			if slices.ContainsFunc(w.videos, func(v apiVideo) bool { return v.ID == id }) {
				out = append(out, id)
			}
		}
		return out
	}
	all := []int64{w.videos[3].ID, w.videos[2].ID, w.videos[1].ID, w.videos[0].ID}
	for _, tc := range []struct {
		latest   string
		latestMS int64   // what latest means in ms
		want     []int64 // alice's videos in the answer, in order
	}{
		{strconv.FormatInt(ms, 10), ms, all[2:]},
		{strconv.FormatFloat(float64(ms), 'e', -1, 64), ms, all[2:]},
		{strconv.FormatInt(sec, 10), sec * 1000, all},
		{strconv.FormatFloat(float64(sec), 'e', -1, 64), sec * 1000, all},
		{strconv.FormatInt(secBefore, 10), secBefore * 1000, nil},
		{"0", nowMS() + 1, all},
	} {
		for _, raw := range []bool{false, true} {
			var r *reply
			if raw { // '+' unencoded, as some clients send it (a space to the server)
				r = e.c.raw(t, http.MethodGet, "/douyin/feed/", "latest_time="+tc.latest, "", false)
			} else {
				r = e.c.get(t, "/douyin/feed/", vals("latest_time", tc.latest))
			}
			r.ok(t, "feed latest_time="+tc.latest)
			if got := mine(ids(r)); !slices.Equal(got, tc.want) {
				t.Errorf("feed latest_time=%s (raw %v): alice's videos %v, want %v", tc.latest, raw, got, tc.want)
			}
			if len(r.VideoList) > 0 && (r.NextTime <= 0 || r.NextTime >= tc.latestMS) {
				t.Errorf("feed latest_time=%s: next_time %d, want the oldest's time, before %d", tc.latest, r.NextTime, tc.latestMS)
			}
		}
	}
	if !strings.Contains(strconv.FormatFloat(float64(sec), 'e', -1, 64), "e+") {
		t.Fatal("the float notation test does not use float notation")
	}
}

// videoAs returns alice's video id as viewer (nil: anonymous) sees it in
// the feed.
func (w *world) videoAs(t testing.TB, e *env, viewer *account, id int64) apiVideo {
	t.Helper()
	p := url.Values{}
	if viewer != nil {
		p.Set("token", viewer.token)
	}
	r := e.c.get(t, "/douyin/feed/", p).ok(t, "feed")
	for _, v := range r.VideoList {
		if v.ID == id {
			return v
		}
	}
	t.Fatalf("video %d not in the feed: %s", id, r.raw)
	return apiVideo{}
}

func like(t testing.TB, e *env, a *account, videoID int64, action string) {
	t.Helper()
	e.c.post(t, "/douyin/favorite/action/", vals("token", a.token, "video_id", strconv.FormatInt(videoID, 10), "action_type", action)).
		ok(t, fmt.Sprintf("%s: favorite action %s on %d", a.name, action, videoID))
}

func favorites(t testing.TB, e *env, viewer, of *account) []apiVideo {
	t.Helper()
	return e.c.get(t, "/douyin/favorite/list/", vals("token", viewer.token, "user_id", of.id64())).ok(t, "favorite list").VideoList
}

func videoIDs(vs []apiVideo) []int64 {
	out := []int64{}
	for _, v := range vs {
		out = append(out, v.ID)
	}
	return out
}

func (w *world) favoriteStep(t *testing.T, e *env) {
	v1, v2 := w.videos[0].ID, w.videos[1].ID
	like(t, e, w.bob, v1, "1")
	like(t, e, w.bob, v1, "1") // liking twice is one like
	check := func(viewer *account, id, count int64, liked bool) {
		t.Helper()
		if v := w.videoAs(t, e, viewer, id); v.FavoriteCount != count || v.IsFavorite != liked {
			name := "anonymous"
			if viewer != nil {
				name = viewer.name
			}
			t.Errorf("video %d as %s: favorite_count %d is_favorite %v, want %d %v", id, name, v.FavoriteCount, v.IsFavorite, count, liked)
		}
	}
	check(nil, v1, 1, false)
	check(w.bob, v1, 1, true)
	check(w.alice, v1, 1, false)
	if got := favorites(t, e, w.bob, w.bob); len(got) != 1 || got[0].ID != v1 || !got[0].IsFavorite || got[0].FavoriteCount != 1 {
		t.Errorf("bob's favorites as bob: %+v", got)
	}
	if got := favorites(t, e, w.carol, w.bob); len(got) != 1 || got[0].ID != v1 || got[0].IsFavorite {
		t.Errorf("bob's favorites as carol: %+v (is_favorite is the viewer's)", got)
	}
	// Without user_id the list is the token owner's.
	if r := e.c.get(t, "/douyin/favorite/list/", vals("token", w.bob.token)).ok(t, "own favorites"); !slices.Equal(videoIDs(r.VideoList), []int64{v1}) {
		t.Errorf("bob's own favorites: %s", r.raw)
	}
	if u := user(t, e, w.carol, w.bob.id); u.FavoriteCount != 1 {
		t.Errorf("bob's favorite_count %d, want 1", u.FavoriteCount)
	}
	if u := user(t, e, w.carol, w.alice.id); u.TotalFavorited != 1 {
		t.Errorf("alice's total_favorited %d, want 1", u.TotalFavorited)
	}
	// The publish list shows the viewer's likes too.
	r := e.c.get(t, "/douyin/publish/list/", vals("token", w.bob.token, "user_id", w.alice.id64())).ok(t, "publish list")
	for _, v := range r.VideoList {
		if want := v.ID == v1; v.IsFavorite != want || v.FavoriteCount != map[bool]int64{true: 1}[want] {
			t.Errorf("alice's video %d as bob: is_favorite %v favorite_count %d", v.ID, v.IsFavorite, v.FavoriteCount)
		}
	}

	like(t, e, w.carol, v1, "1")
	like(t, e, w.carol, v2, "1")
	time.Sleep(2 * time.Millisecond)
	like(t, e, w.bob, v2, "1")
	check(nil, v1, 2, false)
	check(nil, v2, 2, false)
	if got := videoIDs(favorites(t, e, w.bob, w.bob)); !slices.Equal(got, []int64{v2, v1}) {
		t.Errorf("bob's favorites %v, want the latest like first %v", got, []int64{v2, v1})
	}
	if u := user(t, e, w.bob, w.alice.id); u.TotalFavorited != 4 || u.WorkCount != 4 {
		t.Errorf("alice: total_favorited %d work_count %d, want 4 and 4", u.TotalFavorited, u.WorkCount)
	}

	like(t, e, w.bob, v1, "2")
	like(t, e, w.bob, v1, "2") // unliking twice is fine
	check(w.bob, v1, 1, false)
	check(w.carol, v1, 1, true)
	if got := videoIDs(favorites(t, e, w.bob, w.bob)); !slices.Equal(got, []int64{v2}) {
		t.Errorf("bob's favorites after unliking %d: %v", v1, got)
	}
	if u := user(t, e, w.bob, w.alice.id); u.TotalFavorited != 3 {
		t.Errorf("alice's total_favorited %d, want 3", u.TotalFavorited)
	}
	if u := user(t, e, w.bob, w.bob.id); u.FavoriteCount != 1 {
		t.Errorf("bob's favorite_count %d, want 1", u.FavoriteCount)
	}
}

// comments returns video id's comments.
func comments(t testing.TB, e *env, viewer *account, id int64) []apiComment {
	t.Helper()
	return e.c.get(t, "/douyin/comment/list/", vals("token", viewer.token, "video_id", strconv.FormatInt(id, 10))).ok(t, "comment list").CommentList
}

func commentIDs(cs []apiComment) []int64 {
	out := []int64{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func postComment(t testing.TB, e *env, a *account, videoID int64, text string) apiComment {
	t.Helper()
	before := time.Now().Format("01-02")
	r := e.c.post(t, "/douyin/comment/action/", vals("token", a.token, "video_id", strconv.FormatInt(videoID, 10), "action_type", "1", "comment_text", text)).ok(t, "post a comment")
	after := time.Now().Format("01-02")
	c := r.Comment
	if c == nil || c.ID <= 0 || c.Content != text || c.User.ID != a.id || c.User.Name != a.name || (c.CreateDate != before && c.CreateDate != after) {
		t.Fatalf("%s comments %q: %s (today is %s)", a.name, text, r.raw, after)
	}
	return *c
}

func (w *world) commentStep(t *testing.T, e *env) {
	v1 := w.videos[0].ID
	byBob := postComment(t, e, w.bob, v1, "first! from bob")
	time.Sleep(2 * time.Millisecond)
	byAlice := postComment(t, e, w.alice, v1, "thanks, bob")
	time.Sleep(2 * time.Millisecond)
	byCarol := postComment(t, e, w.carol, v1, "你好 👋 & <b>hi</b>\nsecond line")
	list := comments(t, e, w.carol, v1)
	if got, want := commentIDs(list), []int64{byCarol.ID, byAlice.ID, byBob.ID}; !slices.Equal(got, want) {
		t.Fatalf("comments %v, want newest first %v", got, want)
	}
	if list[0].Content != byCarol.Content || list[2].User.Name != w.bob.name || list[0].CreateDate != byCarol.CreateDate {
		t.Errorf("comment list: %+v", list)
	}
	if v := w.videoAs(t, e, nil, v1); v.CommentCount != 3 {
		t.Errorf("comment_count %d, want 3", v.CommentCount)
	}

	del := func(a *account, videoID, commentID int64) *reply {
		return e.c.post(t, "/douyin/comment/action/", vals("token", a.token, "video_id", strconv.FormatInt(videoID, 10), "action_type", "2", "comment_id", strconv.FormatInt(commentID, 10)))
	}
	del(w.carol, v1, byBob.ID).fails(t, "carol deletes bob's comment", notAuthor)
	del(w.alice, v1, byBob.ID).fails(t, "alice (the video's author) deletes bob's comment", notAuthor)
	del(w.bob, w.videos[1].ID, byBob.ID).fails(t, "bob deletes his comment naming another video", 0)
	if got := commentIDs(comments(t, e, w.bob, v1)); len(got) != 3 {
		t.Fatalf("after refused deletes: comments %v, want all 3", got)
	}
	if r := del(w.bob, v1, byBob.ID).ok(t, "bob deletes his comment"); r.Comment != nil {
		t.Errorf("delete answers a comment: %s", r.raw)
	}
	if got, want := commentIDs(comments(t, e, w.alice, v1)), []int64{byCarol.ID, byAlice.ID}; !slices.Equal(got, want) {
		t.Errorf("after deleting bob's: %v, want %v", got, want)
	}
	if v := w.videoAs(t, e, w.bob, v1); v.CommentCount != 2 {
		t.Errorf("comment_count %d, want 2", v.CommentCount)
	}
	if got := comments(t, e, w.alice, w.videos[3].ID); len(got) != 0 {
		t.Errorf("a video without comments lists %+v", got)
	}
}

func follow(t testing.TB, e *env, a, to *account, action string) {
	t.Helper()
	e.c.post(t, "/douyin/relation/action/", vals("token", a.token, "to_user_id", to.id64(), "action_type", action)).
		ok(t, fmt.Sprintf("%s relation action %s to %s", a.name, action, to.name))
}

func userList(t testing.TB, e *env, route string, viewer, of *account) []apiUser {
	t.Helper()
	return e.c.get(t, route, vals("token", viewer.token, "user_id", of.id64())).ok(t, route).UserList
}

func userIDs(us []apiUser) []int64 {
	out := []int64{}
	for _, u := range us {
		out = append(out, u.ID)
	}
	return out
}

func send(t testing.TB, e *env, from, to *account, text string) {
	t.Helper()
	e.c.post(t, "/douyin/message/action/", vals("token", from.token, "to_user_id", to.id64(), "action_type", "1", "content", text)).
		ok(t, fmt.Sprintf("%s sends %q to %s", from.name, text, to.name))
}

func chat(t testing.TB, e *env, me, peer *account, after string) []apiMessage {
	t.Helper()
	p := vals("token", me.token, "to_user_id", peer.id64())
	if after != "" {
		p.Set("pre_msg_time", after)
	}
	return e.c.get(t, "/douyin/message/chat/", p).ok(t, "chat").MessageList
}

func (w *world) socialStep(t *testing.T, e *env) {
	const (
		follows   = "/douyin/relation/follow/list/"
		followers = "/douyin/relation/follower/list/"
		friends   = "/douyin/relation/friend/list/"
	)
	follow(t, e, w.alice, w.bob, "1")
	follow(t, e, w.alice, w.bob, "1") // following twice is one follow
	if got := userList(t, e, follows, w.alice, w.alice); len(got) != 1 || got[0].ID != w.bob.id || !got[0].IsFollow || got[0].FollowerCount != 1 {
		t.Errorf("alice follows %+v, want bob (is_follow true, 1 follower)", got)
	}
	if got := userList(t, e, friends, w.alice, w.alice); len(got) != 0 {
		t.Errorf("alice's friends before bob follows back: %+v", got)
	}
	follow(t, e, w.bob, w.alice, "1")
	if got := userList(t, e, followers, w.bob, w.bob); len(got) != 1 || got[0].ID != w.alice.id || !got[0].IsFollow {
		t.Errorf("bob's followers as bob: %+v, want alice with is_follow true", got)
	}
	if got := userList(t, e, follows, w.carol, w.alice); len(got) != 1 || got[0].ID != w.bob.id || got[0].IsFollow {
		t.Errorf("alice's follows as carol: %+v, want bob with is_follow false", got)
	}
	for _, a := range []*account{w.alice, w.bob} {
		if u := user(t, e, w.carol, a.id); u.FollowCount != 1 || u.FollowerCount != 1 || u.IsFollow {
			t.Errorf("%s as carol: %+v", a.name, u)
		}
	}
	if u := user(t, e, w.alice, w.bob.id); !u.IsFollow {
		t.Errorf("bob as alice: is_follow false")
	}
	// The authors in the feed follow the viewer's point of view too.
	for _, tc := range []struct {
		viewer *account
		want   bool
	}{{nil, false}, {w.bob, true}, {w.carol, false}, {w.alice, false}} {
		if v := w.videoAs(t, e, tc.viewer, w.videos[0].ID); v.Author.ID != w.alice.id || v.Author.IsFollow != tc.want || v.Author.FollowerCount != 1 {
			t.Errorf("alice as the author of her video, seen by %v: %+v, want is_follow %v", tc.viewer, v.Author, tc.want)
		}
	}
	if got := userList(t, e, friends, w.alice, w.alice); len(got) != 1 || got[0].ID != w.bob.id || got[0].Message != "" || got[0].MsgType != 0 {
		t.Errorf("alice's friends before any message: %+v", got)
	}

	t0 := nowMS()
	send(t, e, w.alice, w.bob, "hi bob")
	time.Sleep(3 * time.Millisecond)
	send(t, e, w.bob, w.alice, "hi alice 👋")
	t1 := nowMS()
	for _, tc := range []struct {
		me, peer *account
		msgType  int64
	}{{w.alice, w.bob, 0}, {w.bob, w.alice, 1}} {
		got := userList(t, e, friends, tc.me, tc.me)
		if len(got) != 1 || got[0].ID != tc.peer.id || got[0].Name != tc.peer.name || got[0].Message != "hi alice 👋" || got[0].MsgType != tc.msgType {
			t.Errorf("%s's friends: %+v, want %s with the latest message and msgType %d", tc.me.name, got, tc.peer.name, tc.msgType)
		}
	}
	msgs := chat(t, e, w.alice, w.bob, "")
	if len(msgs) != 2 || msgs[0].Content != "hi bob" || msgs[0].FromUserID != w.alice.id || msgs[0].ToUserID != w.bob.id ||
		msgs[1].Content != "hi alice 👋" || msgs[1].FromUserID != w.bob.id || msgs[1].ToUserID != w.alice.id ||
		msgs[0].ID <= 0 || msgs[0].ID == msgs[1].ID ||
		msgs[0].CreateTime < t0 || msgs[1].CreateTime > t1 || msgs[0].CreateTime >= msgs[1].CreateTime {
		t.Fatalf("alice's chat with bob (sent between %d and %d): %+v", t0, t1, msgs)
	}
	if got := chat(t, e, w.bob, w.alice, ""); !slices.Equal(got, msgs) {
		t.Errorf("bob's chat with alice %+v, want %+v", got, msgs)
	}
	if got := chat(t, e, w.bob, w.alice, strconv.FormatInt(msgs[0].CreateTime, 10)); len(got) != 1 || got[0] != msgs[1] {
		t.Errorf("chat after the first message's time: %+v, want the second", got)
	}
	if got := chat(t, e, w.bob, w.alice, strconv.FormatInt(msgs[1].CreateTime, 10)); len(got) != 0 {
		t.Errorf("chat after the last message's time: %+v, want none", got)
	}
	if got := chat(t, e, w.bob, w.alice, "0"); !slices.Equal(got, msgs) {
		t.Errorf("chat after time 0: %+v, want all", got)
	}

	// Messages need no friendship.
	send(t, e, w.carol, w.alice, "we are not friends")
	if got := chat(t, e, w.alice, w.carol, ""); len(got) != 1 || got[0].Content != "we are not friends" || got[0].FromUserID != w.carol.id {
		t.Errorf("alice's chat with carol: %+v", got)
	}
	if got := userIDs(userList(t, e, friends, w.alice, w.alice)); !slices.Equal(got, []int64{w.bob.id}) {
		t.Errorf("alice's friends %v, want bob only", got)
	}
	// Following and unfollowing.
	follow(t, e, w.carol, w.alice, "1")
	if u := user(t, e, w.carol, w.alice.id); u.FollowerCount != 2 || !u.IsFollow {
		t.Errorf("alice after carol follows: %+v", u)
	}
	if got := userIDs(userList(t, e, followers, w.alice, w.alice)); len(got) != 2 || !slices.Contains(got, w.carol.id) || !slices.Contains(got, w.bob.id) {
		t.Errorf("alice's followers %v", got)
	}
	follow(t, e, w.carol, w.alice, "2")
	follow(t, e, w.carol, w.alice, "2") // unfollowing twice is fine
	if u := user(t, e, w.carol, w.alice.id); u.FollowerCount != 1 || u.IsFollow {
		t.Errorf("alice after carol unfollows: %+v", u)
	}
	if got := userList(t, e, friends, w.carol, w.carol); len(got) != 0 {
		t.Errorf("carol's friends: %+v", got)
	}
}

// float is id as a float64-printing client sends it ("1.234e+15").
func float(id int64) string {
	s := strconv.FormatFloat(float64(id), 'e', -1, 64)
	if f, err := strconv.ParseFloat(s, 64); err != nil || int64(f) != id || !strings.Contains(s, "e+") {
		panic("float notation of " + strconv.FormatInt(id, 10) + " is not exact: " + s)
	}
	return s
}

func (w *world) floatIDsStep(t *testing.T, e *env) {
	v3 := w.videos[2].ID
	for _, raw := range []bool{false, true} {
		get := func(path string, p url.Values) *reply {
			if raw { // '+' unencoded: the server reads a space
				return e.c.raw(t, http.MethodGet, path, strings.ReplaceAll(p.Encode(), "%2B", "+"), "", false)
			}
			return e.c.get(t, path, p)
		}
		if r := get("/douyin/user/", vals("token", w.carol.token, "user_id", float(w.alice.id))).ok(t, "user in float notation"); r.User.ID != w.alice.id {
			t.Errorf("user_id %s: %s", float(w.alice.id), r.raw)
		}
		if r := get("/douyin/publish/list/", vals("token", w.carol.token, "user_id", float(w.alice.id))).ok(t, "publish list"); len(r.VideoList) != 4 {
			t.Errorf("publish list of user_id %s: %s", float(w.alice.id), r.raw)
		}
		if r := get("/douyin/comment/list/", vals("token", w.carol.token, "video_id", float(w.videos[0].ID))).ok(t, "comment list"); len(r.CommentList) != 2 {
			t.Errorf("comments of video_id %s: %s", float(w.videos[0].ID), r.raw)
		}
		if r := get("/douyin/message/chat/", vals("token", w.alice.token, "to_user_id", float(w.bob.id))).ok(t, "chat"); len(r.MessageList) != 2 {
			t.Errorf("chat with to_user_id %s: %s", float(w.bob.id), r.raw)
		}
	}
	e.c.post(t, "/douyin/favorite/action/", vals("token", w.carol.token, "video_id", float(v3), "action_type", "1e+00")).ok(t, "like with float ids")
	if v := w.videoAs(t, e, w.carol, v3); v.FavoriteCount != 1 || !v.IsFavorite {
		t.Errorf("after liking video_id %s: %+v", float(v3), v)
	}
	e.c.post(t, "/douyin/favorite/action/", vals("token", w.carol.token, "video_id", float(v3), "action_type", "2")).ok(t, "unlike with float ids")
	if v := w.videoAs(t, e, w.carol, v3); v.FavoriteCount != 0 || v.IsFavorite {
		t.Errorf("after unliking video_id %s: %+v", float(v3), v)
	}
	e.c.post(t, "/douyin/relation/action/", vals("token", w.carol.token, "to_user_id", float(w.bob.id), "action_type", "1")).ok(t, "follow with a float id")
	if u := user(t, e, w.carol, w.bob.id); !u.IsFollow {
		t.Errorf("carol does not follow bob after following to_user_id %s", float(w.bob.id))
	}
	e.c.post(t, "/douyin/relation/action/", vals("token", w.carol.token, "to_user_id", float(w.bob.id), "action_type", "2")).ok(t, "unfollow with a float id")
	if u := user(t, e, w.carol, w.bob.id); u.IsFollow || u.FollowerCount != 1 {
		t.Errorf("bob after carol unfollows: %+v", u)
	}
}

// feedVideos walks the whole feed, page by page with next_time.
func feedVideos(t *testing.T, e *env) []apiVideo {
	t.Helper()
	var all []apiVideo
	latest := ""
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatal("the feed does not end")
		}
		p := vals()
		if latest != "" {
			p.Set("latest_time", latest)
		}
		r := e.c.get(t, "/douyin/feed/", p).ok(t, "feed")
		if len(r.VideoList) == 0 {
			return all
		}
		if len(r.VideoList) > 30 {
			t.Fatalf("a feed page of %d videos, want at most 30", len(r.VideoList))
		}
		all = append(all, r.VideoList...)
		latest = strconv.FormatInt(r.NextTime, 10)
	}
}

// restarted checks an app restarted on the data of w: everything is as
// before (tokens still valid), and the demo was not seeded again.
func restarted(t *testing.T, e *env, w *world, before string) {
	sameSnapshot(t, "a restart", before, snapshot(t, e, w))
	for _, a := range w.accounts() {
		r := e.c.callMode(t, inForm, http.MethodPost, "/douyin/user/login/", vals("username", a.name, "password", a.password)).ok(t, "login after a restart")
		if r.UserID != a.id {
			t.Errorf("%s logs in as %d after a restart, want %d", a.name, r.UserID, a.id)
		}
	}
	demos := 0
	all := feedVideos(t, e)
	seen := map[int64]bool{}
	for _, v := range all {
		if seen[v.ID] {
			t.Errorf("video %d twice in the feed's pages", v.ID)
		}
		seen[v.ID] = true
		if v.Author.ID == w.demo.Author.ID || v.Title == w.demo.Title {
			demos++
		}
	}
	if demos != 1 || len(all) != 5 {
		t.Errorf("after a restart the feed has %d videos, %d of them demos; want alice's 4 and one demo", len(all), demos)
	}
	if w.demo.Author.Name != allinone.DemoUser {
		t.Fatalf("the demo's author is %q", w.demo.Author.Name)
	}
	e.c.post(t, "/douyin/user/register/", vals("username", allinone.DemoUser, "password", "pw")).fails(t, "registering the demo user's name", nameTaken)
}

// A video is on the feed as soon as its publish returns, even when the feed
// is asked for within the same millisecond (the feed's "before now" must
// include this millisecond; a shared page built then must too).
func TestPublishedVideoIsInTheNextFeed(t *testing.T) {
	e := startEnv(t, t.TempDir(), nil, "-seed-demo=false")
	a := register(t, e, inForm, "quick", "pw")
	for i := range 20 {
		title := fmt.Sprintf("quick %d", i)
		e.c.publish(t, nil, field("token", a.token), field("title", title), file(videotest.MP4())).ok(t, "publish "+title)
		r := e.c.get(t, "/douyin/feed/", vals("token", a.token)).ok(t, "feed after publishing "+title)
		if len(r.VideoList) != i+1 || r.VideoList[0].Title != title {
			t.Fatalf("feed right after publishing %q: %d videos, newest %q", title, len(r.VideoList), firstTitle(r.VideoList))
		}
	}
}

func firstTitle(vs []apiVideo) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0].Title
}
