package allinone_test

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	commentv1 "github.com/tremolo-dev/tremolo/gen/douyin/comment/v1"
	edgev1 "github.com/tremolo-dev/tremolo/gen/douyin/edge/v1"
	favoritev1 "github.com/tremolo-dev/tremolo/gen/douyin/favorite/v1"
	messagev1 "github.com/tremolo-dev/tremolo/gen/douyin/message/v1"
	relationv1 "github.com/tremolo-dev/tremolo/gen/douyin/relation/v1"
	userv1 "github.com/tremolo-dev/tremolo/gen/douyin/user/v1"
	videov1 "github.com/tremolo-dev/tremolo/gen/douyin/video/v1"
	"github.com/tremolo-dev/tremolo/platform/token"
	"github.com/tremolo-dev/tremolo/services/video/videotest"
)

// Business codes the scenarios expect.
var (
	invalidParameter = code(edgev1.ErrorInvalidParameter(""))
	tokenRequired    = code(edgev1.ErrorTokenRequired(""))
	tokenInvalid     = code(edgev1.ErrorTokenInvalid(""))
	tokenExpired     = code(edgev1.ErrorTokenExpired(""))
	unknownAction    = code(edgev1.ErrorUnknownAction(""))
	noRoute          = code(edgev1.ErrorNotFound(""))
	invalidUsername  = code(userv1.ErrorInvalidUsername(""))
	invalidPassword  = code(userv1.ErrorInvalidPassword(""))
	nameTaken        = code(userv1.ErrorNameTaken(""))
	wrongCredentials = code(userv1.ErrorWrongCredentials(""))
	userNotFound     = code(userv1.ErrorUserNotFound(""))
	invalidTitle     = code(videov1.ErrorInvalidTitle(""))
	emptyFile        = code(videov1.ErrorEmptyFile(""))
	videoNotFound    = code(videov1.ErrorVideoNotFound(""))
	notAVideo        = code(videov1.ErrorNotAVideo(""))
	tooLarge         = code(videov1.ErrorTooLarge(""))
	likeNoVideo      = code(favoritev1.ErrorVideoNotFound(""))
	invalidComment   = code(commentv1.ErrorInvalidContent(""))
	commentNoVideo   = code(commentv1.ErrorVideoNotFound(""))
	commentNotFound  = code(commentv1.ErrorCommentNotFound(""))
	notAuthor        = code(commentv1.ErrorNotAuthor(""))
	selfFollow       = code(relationv1.ErrorSelfFollow(""))
	followNoUser     = code(relationv1.ErrorUserNotFound(""))
	invalidMessage   = code(messagev1.ErrorInvalidContent(""))
	messageNoUser    = code(messagev1.ErrorUserNotFound(""))
	selfMessage      = code(messagev1.ErrorSelfMessage(""))
)

// signToken signs a token as the app's key (or another) would, with
// claims changed by edit: what an attacker or an old client may send.
func signToken(t testing.TB, key string, edit func(c *jwt.RegisteredClaims)) string {
	t.Helper()
	now := time.Now()
	c := jwt.RegisteredClaims{
		Issuer: token.Issuer, Subject: "1",
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
	}
	edit(&c)
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// badTokens are refused tokens of user id, by the code they get.
func badTokens(t testing.TB, id int64) []struct {
	name, token string
	want        int32
} {
	sub := strconv.FormatInt(id, 10)
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.RegisteredClaims{
		Issuer: token.Issuer, Subject: sub, IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return []struct {
		name, token string
		want        int32
	}{
		{"garbage token", "not-a-token", tokenInvalid},
		{"expired token", signToken(t, testKey, func(c *jwt.RegisteredClaims) {
			c.Subject = sub
			c.IssuedAt = jwt.NewNumericDate(time.Now().Add(-48 * time.Hour))
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-24 * time.Hour))
		}), tokenExpired},
		{"token signed with another key", signToken(t, "another-key-another-key-another-key!", func(c *jwt.RegisteredClaims) { c.Subject = sub }), tokenInvalid},
		{"token with alg none", none, tokenInvalid},
		{"token of another issuer", signToken(t, testKey, func(c *jwt.RegisteredClaims) { c.Subject = sub; c.Issuer = "someone-else" }), tokenInvalid},
		{"token whose subject is not an id", signToken(t, testKey, func(c *jwt.RegisteredClaims) { c.Subject = "alice" }), tokenInvalid},
		{"token without expiry", signToken(t, testKey, func(c *jwt.RegisteredClaims) { c.Subject = sub; c.ExpiresAt = nil }), tokenInvalid},
		{"truncated token", signToken(t, testKey, func(c *jwt.RegisteredClaims) { c.Subject = sub })[:40], tokenInvalid},
	}
}

// absent, as a parameter's value in a case, removes the parameter.
const absent = "\x00absent"

// with returns a copy of p with kv set (or removed, for absent).
func with(p url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, v := range p {
		out[k] = append([]string(nil), v...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == absent {
			out.Del(kv[i])
		} else {
			out.Set(kv[i], kv[i+1])
		}
	}
	return out
}

// badCase is one refused request: its parameters (sent in the query, the
// form and both) and the business code it must get (0: any client error).
type badCase struct {
	name  string
	route string
	p     url.Values
	want  int32
}

// Values no integer parameter accepts.
var badNumbers = []string{"-1", "abc", "1.5", "99999999999999999999", "1e400", "NaN", "0x1F", "1,2", "9007199254740993.0"}

// unknownID is an id no user, video or comment has.
const unknownID = "4503599627370497" // 2^52+1

// snapshot is what the app shows of w, as text: every account's profile
// and lists, the comments of every video, the chats between the accounts,
// the feed, the files on disk, and a few lookups of unknown ids. Two
// snapshots are equal when nothing was written in between. The media
// URLs' origin and comments' create_date are left out, so a snapshot
// survives a restart on another port and midnight.
func snapshot(t testing.TB, e *env, w *world) string {
	t.Helper()
	var b strings.Builder
	add := func(what string, r *reply) {
		fmt.Fprintf(&b, "%s: %s\n", what, r.raw)
	}
	accts := w.accounts()
	for _, a := range accts {
		for _, route := range []string{"/douyin/user/", "/douyin/publish/list/", "/douyin/favorite/list/",
			"/douyin/relation/follow/list/", "/douyin/relation/follower/list/", "/douyin/relation/friend/list/"} {
			add(a.name+" "+route, e.c.get(t, route, vals("token", a.token, "user_id", a.id64())))
		}
		for _, peer := range accts {
			if peer != a {
				add(a.name+" chat "+peer.name, e.c.get(t, "/douyin/message/chat/", vals("token", a.token, "to_user_id", peer.id64())))
			}
		}
		add(a.name+" chat unknown", e.c.get(t, "/douyin/message/chat/", vals("token", a.token, "to_user_id", unknownID)))
	}
	for _, v := range append(w.videos, w.demo) {
		add(fmt.Sprintf("comments %d", v.ID), e.c.get(t, "/douyin/comment/list/", vals("token", w.alice.token, "video_id", strconv.FormatInt(v.ID, 10))))
	}
	add("comments unknown", e.c.get(t, "/douyin/comment/list/", vals("token", w.alice.token, "video_id", unknownID)))
	add("feed", e.c.get(t, "/douyin/feed/", nil))
	add("feed as bob", e.c.get(t, "/douyin/feed/", vals("token", w.bob.token)))
	b.WriteString(e.mediaState(t))
	s := strings.ReplaceAll(b.String(), e.base, "ORIGIN")
	return createDate.ReplaceAllString(s, `"create_date":"..."`)
}

var createDate = regexp.MustCompile(`"create_date":"[^"]*"`)

// sameSnapshot fails the test when now differs from before, showing the
// first differing line.
func sameSnapshot(t testing.TB, what, before, now string) {
	t.Helper()
	if before == now {
		return
	}
	bl, nl := strings.Split(before, "\n"), strings.Split(now, "\n")
	for i := range min(len(bl), len(nl)) {
		if bl[i] != nl[i] {
			t.Fatalf("%s changed the app's state:\nbefore: %s\nnow:    %s", what, bl[i], nl[i])
		}
	}
	t.Fatalf("%s changed the app's state: %d lines, then %d", what, len(bl), len(nl))
}

// badInput sends every route missing, empty, negative, non-numeric,
// oversized and unknown parameters, bad tokens, someone else's comment
// and bad uploads: each must fail as a client error with a message, HTTP
// 200, the route's fields present, and change nothing.
func badInput(t *testing.T, e *env, w *world) {
	alice, bob, carol := w.alice, w.bob, w.carol
	v1, v4 := strconv.FormatInt(w.videos[0].ID, 10), strconv.FormatInt(w.videos[3].ID, 10)
	carolsComment := comments(t, e, alice, w.videos[0].ID)[0]
	if carolsComment.User.ID != carol.id {
		t.Fatalf("the newest comment on %s is not carol's: %+v", v1, carolsComment)
	}
	big := strings.Repeat("x", 100<<10)

	// Parameters that would succeed (and, for actions, write) as bob.
	base := map[string]url.Values{
		"/douyin/feed/":                   vals("latest_time", strconv.FormatInt(nowMS(), 10)),
		"/douyin/user/register/":          vals("username", "z-never-registered", "password", "pw"),
		"/douyin/user/login/":             vals("username", bob.name, "password", bob.password),
		"/douyin/user/":                   vals("token", bob.token, "user_id", alice.id64()),
		"/douyin/publish/list/":           vals("token", bob.token, "user_id", alice.id64()),
		"/douyin/favorite/action/":        vals("token", bob.token, "video_id", v4, "action_type", "1"),
		"/douyin/favorite/list/":          vals("token", bob.token, "user_id", bob.id64()),
		"/douyin/comment/action/":         vals("token", bob.token, "video_id", v4, "action_type", "1", "comment_text", "must not be written"),
		"/douyin/comment/list/":           vals("token", bob.token, "video_id", v1),
		"/douyin/relation/action/":        vals("token", bob.token, "to_user_id", carol.id64(), "action_type", "1"),
		"/douyin/relation/follow/list/":   vals("token", bob.token, "user_id", bob.id64()),
		"/douyin/relation/follower/list/": vals("token", bob.token, "user_id", bob.id64()),
		"/douyin/relation/friend/list/":   vals("token", bob.token, "user_id", bob.id64()),
		"/douyin/message/action/":         vals("token", bob.token, "to_user_id", carol.id64(), "action_type", "1", "content", "must not be written"),
		"/douyin/message/chat/":           vals("token", bob.token, "to_user_id", alice.id64()),
	}
	deleteCarols := vals("token", bob.token, "video_id", v1, "action_type", "2", "comment_id", strconv.FormatInt(carolsComment.ID, 10))

	var cases []badCase
	add := func(route, name string, p url.Values, want int32) {
		cases = append(cases, badCase{name: name, route: route, p: p, want: want})
	}
	// Tokens, on every route that needs one. On the public routes (feed,
	// register, login) a token that does not verify is ignored: the app
	// keeps sending an expired one there (checked below).
	for _, route := range slices.Sorted(maps.Keys(base)) {
		p := base[route]
		if route == "/douyin/user/register/" || route == "/douyin/user/login/" {
			continue
		}
		if route == "/douyin/feed/" {
			for _, bt := range badTokens(t, bob.id) {
				r := e.c.get(t, route, with(p, "token", bt.token)).ok(t, "feed with "+bt.name)
				for _, v := range r.VideoList {
					if v.IsFavorite {
						t.Errorf("feed with %s: is_favorite true for video %d: the bad token's user was used", bt.name, v.ID)
					}
				}
			}
		} else {
			for _, bt := range badTokens(t, bob.id) {
				add(route, bt.name, with(p, "token", bt.token), bt.want)
			}
		}
		add(route, "another parameter of 100 KB", with(p, "padding", big), invalidParameter)
		if route != "/douyin/feed/" {
			add(route, "no token", with(p, "token", absent), tokenRequired)
			add(route, "empty token", with(p, "token", ""), tokenRequired)
		}
	}
	// Integer parameters: malformed values everywhere, missing or empty
	// where required.
	required := map[string][]string{
		"/douyin/favorite/action/": {"video_id", "action_type"},
		"/douyin/comment/action/":  {"video_id", "action_type"},
		"/douyin/comment/list/":    {"video_id"},
		"/douyin/relation/action/": {"to_user_id", "action_type"},
		"/douyin/message/action/":  {"to_user_id", "action_type"},
		"/douyin/message/chat/":    {"to_user_id"},
	}
	optional := map[string][]string{
		"/douyin/feed/":                   {"latest_time"},
		"/douyin/user/":                   {"user_id"},
		"/douyin/publish/list/":           {"user_id"},
		"/douyin/favorite/list/":          {"user_id"},
		"/douyin/relation/follow/list/":   {"user_id"},
		"/douyin/relation/follower/list/": {"user_id"},
		"/douyin/relation/friend/list/":   {"user_id"},
		"/douyin/message/chat/":           {"pre_msg_time"},
	}
	for _, route := range slices.Sorted(maps.Keys(required)) {
		for _, n := range required[route] {
			want := invalidParameter
			if n == "action_type" {
				want = unknownAction
			}
			add(route, "no "+n, with(base[route], n, absent), want)
			add(route, "empty "+n, with(base[route], n, ""), want)
			add(route, n+" 0", with(base[route], n, "0"), want)
		}
	}
	for _, m := range []map[string][]string{required, optional} {
		for _, route := range slices.Sorted(maps.Keys(m)) {
			for _, n := range m[route] {
				for _, bad := range badNumbers {
					add(route, n+" "+bad, with(base[route], n, bad), invalidParameter)
				}
				add(route, n+" beyond int64 in float notation", with(base[route], n, "1e+19"), invalidParameter)
			}
		}
	}
	for _, route := range []string{"/douyin/favorite/action/", "/douyin/comment/action/", "/douyin/relation/action/", "/douyin/message/action/"} {
		for _, a := range []string{"3", "7", "2147483647"} {
			add(route, "action_type "+a, with(base[route], "action_type", a), unknownAction)
		}
		add(route, "action_type beyond int32", with(base[route], "action_type", "2147483648"), invalidParameter)
	}
	add("/douyin/message/action/", "action_type 2 (messages have only 1)", with(base["/douyin/message/action/"], "action_type", "2"), unknownAction)

	// Unknown ids.
	add("/douyin/user/", "unknown user_id", with(base["/douyin/user/"], "user_id", unknownID), userNotFound)
	add("/douyin/publish/list/", "unknown user_id", with(base["/douyin/publish/list/"], "user_id", unknownID), userNotFound)
	add("/douyin/favorite/list/", "unknown user_id", with(base["/douyin/favorite/list/"], "user_id", unknownID), userNotFound)
	for _, route := range []string{"/douyin/relation/follow/list/", "/douyin/relation/follower/list/", "/douyin/relation/friend/list/"} {
		add(route, "unknown user_id", with(base[route], "user_id", unknownID), followNoUser)
	}
	add("/douyin/comment/list/", "unknown video_id", with(base["/douyin/comment/list/"], "video_id", unknownID), videoNotFound)
	add("/douyin/message/chat/", "unknown to_user_id", with(base["/douyin/message/chat/"], "to_user_id", unknownID), messageNoUser)
	add("/douyin/message/chat/", "chat with oneself", with(base["/douyin/message/chat/"], "to_user_id", bob.id64()), selfMessage)
	add("/douyin/relation/action/", "unfollow of an unknown user", with(base["/douyin/relation/action/"], "to_user_id", unknownID, "action_type", "2"), followNoUser)
	add("/douyin/relation/action/", "unfollow of oneself", with(base["/douyin/relation/action/"], "to_user_id", bob.id64(), "action_type", "2"), selfFollow)
	add("/douyin/favorite/action/", "like of an unknown video", with(base["/douyin/favorite/action/"], "video_id", unknownID), likeNoVideo)
	add("/douyin/comment/action/", "comment on an unknown video", with(base["/douyin/comment/action/"], "video_id", unknownID), commentNoVideo)
	add("/douyin/comment/action/", "delete of an unknown comment", with(deleteCarols, "comment_id", unknownID), commentNotFound)
	add("/douyin/comment/action/", "delete of someone else's comment", deleteCarols, notAuthor)
	add("/douyin/comment/action/", "delete of someone else's comment, as the video's author", with(deleteCarols, "token", alice.token), notAuthor)
	add("/douyin/comment/action/", "delete without comment_id", with(deleteCarols, "comment_id", absent), invalidParameter)
	add("/douyin/comment/action/", "delete with comment_id -1", with(deleteCarols, "comment_id", "-1"), invalidParameter)
	add("/douyin/comment/action/", "delete with comment_id abc", with(deleteCarols, "comment_id", "abc"), invalidParameter)
	add("/douyin/relation/action/", "follow of an unknown user", with(base["/douyin/relation/action/"], "to_user_id", unknownID), followNoUser)
	add("/douyin/relation/action/", "follow of oneself", with(base["/douyin/relation/action/"], "to_user_id", bob.id64()), selfFollow)
	add("/douyin/message/action/", "message to an unknown user", with(base["/douyin/message/action/"], "to_user_id", unknownID), messageNoUser)
	add("/douyin/message/action/", "message to oneself", with(base["/douyin/message/action/"], "to_user_id", bob.id64()), selfMessage)

	// Texts: missing, empty, blank, too long, oversized, not UTF-8, control
	// characters.
	for _, tc := range []struct {
		route, name  string
		want, tooBig int32
		max          int
	}{
		{"/douyin/comment/action/", "comment_text", invalidComment, invalidParameter, 500},
		{"/douyin/message/action/", "content", invalidMessage, invalidParameter, 1000},
		{"/douyin/user/register/", "username", invalidUsername, invalidParameter, 32},
		{"/douyin/user/register/", "password", invalidPassword, invalidParameter, 32},
	} {
		p := base[tc.route]
		add(tc.route, "no "+tc.name, with(p, tc.name, absent), tc.want)
		add(tc.route, "empty "+tc.name, with(p, tc.name, ""), tc.want)
		if tc.name != "password" {
			add(tc.route, "blank "+tc.name, with(p, tc.name, " \t "), tc.want)
			add(tc.route, tc.name+" with a NUL", with(p, tc.name, "a\x00b"), tc.want)
		}
		add(tc.route, tc.name+" one character too long", with(p, tc.name, strings.Repeat("é", tc.max+1)), tc.want)
		add(tc.route, tc.name+" of 100 KB", with(p, tc.name, big), tc.tooBig)
		add(tc.route, tc.name+" not UTF-8", with(p, tc.name, "\xff\xfe"), invalidParameter)
	}
	for _, n := range []string{"username", "password"} {
		add("/douyin/user/login/", n+" of 100 KB", with(base["/douyin/user/login/"], n, big), invalidParameter)
	}
	add("/douyin/user/login/", "no username", with(base["/douyin/user/login/"], "username", absent), 0)
	add("/douyin/user/login/", "no password", with(base["/douyin/user/login/"], "password", absent), 0)
	add("/douyin/user/login/", "empty password", with(base["/douyin/user/login/"], "password", ""), 0)
	add("/douyin/user/login/", "wrong password", with(base["/douyin/user/login/"], "password", "wrong"), wrongCredentials)
	add("/douyin/user/register/", "a taken name", with(base["/douyin/user/register/"], "username", alice.name), nameTaken)

	snap := snapshot(t, e, w)
	checked := 0
	byRoute := map[string][]badCase{}
	var order []string
	for _, c := range cases {
		if _, ok := byRoute[c.route]; !ok {
			order = append(order, c.route)
		}
		byRoute[c.route] = append(byRoute[c.route], c)
	}
	for _, route := range order {
		method := http.MethodGet
		if strings.Contains(route, "/action/") || strings.Contains(route, "/user/register/") || strings.Contains(route, "/user/login/") {
			method = http.MethodPost
		}
		for _, c := range byRoute[route] {
			for m := inQuery; m <= inBoth; m++ {
				if method == http.MethodGet && m == inForm {
					continue
				}
				r := e.c.callMode(t, m, method, route, c.p)
				r.fails(t, fmt.Sprintf("%s %s (%s)", route, c.name, m), c.want)
				checked++
			}
		}
		sameSnapshot(t, route+" with bad input", snap, snapshot(t, e, w))
	}

	// Unliking a video that does not exist is a no-op, like unliking one
	// not liked (the favorite service does not ask the video service).
	e.c.post(t, "/douyin/favorite/action/", with(base["/douyin/favorite/action/"], "video_id", unknownID, "action_type", "2")).ok(t, "unlike of an unknown video")
	sameSnapshot(t, "unlike of an unknown video", snap, snapshot(t, e, w))

	// Requests the app never makes.
	for _, tc := range []struct {
		name, method, path, query, body string
		want                            int32
	}{
		{"unknown route", http.MethodGet, "/douyin/nope/", "token=" + bob.token, "", noRoute},
		{"unknown route, POST", http.MethodPost, "/douyin/favorite/nope/", "", "token=" + bob.token, noRoute},
		{"GET on a POST route", http.MethodGet, "/douyin/favorite/action/", base["/douyin/favorite/action/"].Encode(), "", invalidParameter},
		{"GET register", http.MethodGet, "/douyin/user/register/", vals("username", "z-get-register", "password", "pw").Encode(), "", invalidParameter},
		{"bad percent-encoding in the query", http.MethodGet, "/douyin/comment/list/", "token=" + bob.token + "&video_id=%zz", "", invalidParameter},
		{"bad percent-encoding in the form", http.MethodPost, "/douyin/comment/action/", "", base["/douyin/comment/action/"].Encode() + "&x=%zz", invalidParameter},
		{"different video_id in the query and the form", http.MethodPost, "/douyin/favorite/action/", "video_id=" + v1, base["/douyin/favorite/action/"].Encode(), invalidParameter},
		{"different token in the query and the form", http.MethodPost, "/douyin/favorite/action/", "token=" + alice.token, base["/douyin/favorite/action/"].Encode(), invalidParameter},
		{"different comment_text in the query and the form", http.MethodPost, "/douyin/comment/action/", "comment_text=other", base["/douyin/comment/action/"].Encode(), invalidParameter},
		{"video_id twice in the query", http.MethodPost, "/douyin/favorite/action/", base["/douyin/favorite/action/"].Encode() + "&video_id=" + v1, "", invalidParameter},
		{"a form body of 100 KB", http.MethodPost, "/douyin/message/action/", "", base["/douyin/message/action/"].Encode() + "&padding=" + big, invalidParameter},
		{"a query of 100 KB", http.MethodGet, "/douyin/feed/", "padding=" + big, "", invalidParameter},
	} {
		r := e.c.raw(t, tc.method, tc.path, tc.query, tc.body, tc.body != "")
		r.fails(t, tc.name, tc.want)
		checked++
	}
	sameSnapshot(t, "requests the app never makes", snap, snapshot(t, e, w))

	badUploads(t, e, w)
	sameSnapshot(t, "bad uploads", snap, snapshot(t, e, w))

	// The names of refused registrations are free.
	for _, name := range []string{"z-never-registered", "z-get-register"} {
		register(t, e, inForm, name, "pw")
	}
	t.Logf("%d refused requests", checked)
}

// badUploads: publish without a token or with a bad one, without a file,
// with an empty, non-video or oversized file, with a bad title, or not as
// multipart.
func badUploads(t *testing.T, e *env, w *world) {
	tok := w.bob.token
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
	text := []byte(strings.Repeat("this is not a video\n", 100))
	mp4 := videotest.MP4()
	for _, tc := range []struct {
		name  string
		query url.Values
		parts []part
		want  int32
	}{
		{"no token", nil, []part{field("title", "t"), file(mp4)}, tokenRequired},
		{"no token, file first", nil, []part{file(mp4), field("title", "t")}, tokenRequired},
		{"empty token", nil, []part{field("token", ""), field("title", "t"), file(mp4)}, tokenRequired},
		{"no file", nil, []part{field("token", tok), field("title", "t")}, invalidParameter},
		{"nothing", nil, nil, invalidParameter},
		{"the file in another field", nil, []part{field("token", tok), field("title", "t"), {name: "video", filename: "v.mp4", content: mp4}}, invalidParameter},
		{"an empty file", nil, []part{field("token", tok), field("title", "t"), file(nil)}, emptyFile},
		{"an empty file, first", nil, []part{file(nil), field("token", tok), field("title", "t")}, emptyFile},
		{"a PNG", nil, []part{field("token", tok), field("title", "t"), file(png)}, notAVideo},
		{"a PNG, first", nil, []part{file(png), field("token", tok), field("title", "t")}, notAVideo},
		{"text", nil, []part{field("token", tok), field("title", "t"), file(text)}, notAVideo},
		{"a truncated MP4 header", nil, []part{field("token", tok), field("title", "t"), file(mp4[:12])}, notAVideo},
		{"a file over the limit", nil, []part{field("token", tok), field("title", "t"), file(videotest.Sized(maxUpload + 1))}, tooLarge},
		{"a file over the limit, first", nil, []part{file(videotest.Sized(maxUpload + 1)), field("token", tok), field("title", "t")}, tooLarge},
		{"two files", nil, []part{field("token", tok), field("title", "t"), file(mp4), file(mp4)}, invalidParameter},
		{"two files, first", nil, []part{file(mp4), file(mp4), field("token", tok), field("title", "t")}, invalidParameter},
		{"no title", nil, []part{field("token", tok), file(mp4)}, invalidTitle},
		{"an empty title", nil, []part{field("token", tok), field("title", ""), file(mp4)}, invalidTitle},
		{"a blank title", nil, []part{field("token", tok), field("title", "   "), file(mp4)}, invalidTitle},
		{"a title of 101 characters", nil, []part{field("token", tok), field("title", strings.Repeat("é", 101)), file(mp4)}, invalidTitle},
		{"a title of 100 KB", nil, []part{field("token", tok), field("title", strings.Repeat("x", 100<<10)), file(mp4)}, invalidParameter},
		{"a title of 100 KB in the query", vals("title", strings.Repeat("x", 100<<10)), []part{field("token", tok), file(mp4)}, 0},
		{"a title not UTF-8", nil, []part{field("token", tok), field("title", "\xff\xfe"), file(mp4)}, invalidParameter},
		{"a title not UTF-8 in the query", vals("title", "\xff\xfe"), []part{field("token", tok), file(mp4)}, invalidParameter},
		{"a title with a control character", nil, []part{field("token", tok), field("title", "a\x07b"), file(mp4)}, invalidTitle},
		{"a different token in the query", vals("token", w.alice.token), []part{field("token", tok), field("title", "t"), file(mp4)}, invalidParameter},
		{"a different token after the file", nil, []part{field("token", tok), field("title", "t"), file(mp4), field("token", w.alice.token)}, invalidParameter},
		{"a different title in the query", vals("title", "t1"), []part{field("token", tok), field("title", "t2"), file(mp4)}, invalidParameter},
		{"a different title after the file", nil, []part{field("token", tok), field("title", "t"), file(mp4), field("title", "t2")}, invalidParameter},
		{"a second file after a streamed one", nil, []part{field("token", tok), field("title", "t"), file(mp4), file(mp4)}, invalidParameter},
		{"a bad field after a streamed file", nil, []part{field("token", tok), field("title", "t"), file(mp4), field("title", "\xff")}, invalidParameter},
	} {
		e.c.publish(t, tc.query, tc.parts...).fails(t, "publish with "+tc.name, tc.want)
		for _, bt := range badTokens(t, w.bob.id) {
			// The same upload with a bad token is refused for the token.
			if tc.name == "no token" {
				e.c.publish(t, nil, append([]part{field("token", bt.token)}, tc.parts...)...).fails(t, "publish with "+bt.name, bt.want)
				e.c.publish(t, nil, append(tc.parts, field("token", bt.token))...).fails(t, "publish with "+bt.name+" after the file", bt.want)
				e.c.publish(t, vals("token", bt.token), tc.parts...).fails(t, "publish with "+bt.name+" in the query", bt.want)
			}
		}
	}
	// Not multipart, or not POST.
	for _, tc := range []struct {
		name, method, ct string
		body             []byte
	}{
		{"a url-encoded form", http.MethodPost, "application/x-www-form-urlencoded", []byte(vals("token", tok, "title", "t", "data", string(mp4)).Encode())},
		{"a raw body", http.MethodPost, "video/mp4", mp4},
		{"a multipart type without a boundary", http.MethodPost, "multipart/form-data", mp4},
		{"a truncated multipart body", http.MethodPost, "multipart/form-data; boundary=XYZ", []byte("--XYZ\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n" + tok + "\r\n--XYZ\r\nContent-Disposition: form-data; name=\"data\"; filename=\"v.mp4\"\r\n\r\n" + string(mp4))},
		{"a truncated multipart body, the file first", http.MethodPost, "multipart/form-data; boundary=XYZ", []byte("--XYZ\r\nContent-Disposition: form-data; name=\"data\"; filename=\"v.mp4\"\r\n\r\n" + string(mp4))},
		{"GET", http.MethodGet, "", nil},
	} {
		req, err := http.NewRequest(tc.method, e.base+"/douyin/publish/action/?"+vals("token", tok, "title", "t").Encode(), bytes.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		if tc.ct != "" {
			req.Header.Set("Content-Type", tc.ct)
		}
		e.c.do(t, req, "/douyin/publish/action/").fails(t, "publish as "+tc.name, invalidParameter)
	}
}
