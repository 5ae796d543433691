package allinone_test

// The HTTP client of the API tests: it talks to the edge exactly as the
// Douyin app does (parameters in the query, in a url-encoded form or in
// both; multipart publish; the token as a parameter) and checks the shape
// of every answer against the contract (douyin-api.md) before the test
// looks at its values.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/tremolo-dev/tremolo/platform/apierror"
)

// The app's JSON objects, with the contract's keys.
type (
	apiUser struct {
		ID              int64  `json:"id"`
		Name            string `json:"name"`
		FollowCount     int64  `json:"follow_count"`
		FollowerCount   int64  `json:"follower_count"`
		IsFollow        bool   `json:"is_follow"`
		Avatar          string `json:"avatar"`
		BackgroundImage string `json:"background_image"`
		Signature       string `json:"signature"`
		TotalFavorited  int64  `json:"total_favorited"`
		WorkCount       int64  `json:"work_count"`
		FavoriteCount   int64  `json:"favorite_count"`
		// FriendUser's extras (friend list only).
		Message string `json:"message"`
		MsgType int64  `json:"msgType"`
	}
	apiVideo struct {
		ID            int64   `json:"id"`
		Author        apiUser `json:"author"`
		PlayURL       string  `json:"play_url"`
		CoverURL      string  `json:"cover_url"`
		FavoriteCount int64   `json:"favorite_count"`
		CommentCount  int64   `json:"comment_count"`
		IsFavorite    bool    `json:"is_favorite"`
		Title         string  `json:"title"`
	}
	apiComment struct {
		ID         int64   `json:"id"`
		User       apiUser `json:"user"`
		Content    string  `json:"content"`
		CreateDate string  `json:"create_date"`
	}
	apiMessage struct {
		ID         int64  `json:"id"`
		ToUserID   int64  `json:"to_user_id"`
		FromUserID int64  `json:"from_user_id"`
		Content    string `json:"content"`
		CreateTime int64  `json:"create_time"`
	}
	// reply is any route's answer: the envelope and every route's fields.
	reply struct {
		StatusCode  int32        `json:"status_code"`
		StatusMsg   string       `json:"status_msg"`
		VideoList   []apiVideo   `json:"video_list"`
		NextTime    int64        `json:"next_time"`
		UserID      int64        `json:"user_id"`
		Token       string       `json:"token"`
		User        *apiUser     `json:"user"`
		Comment     *apiComment  `json:"comment"`
		CommentList []apiComment `json:"comment_list"`
		UserList    []apiUser    `json:"user_list"`
		MessageList []apiMessage `json:"message_list"`

		raw []byte
	}
)

// Keys every object of a kind carries (douyin-api.md, "Objects").
var (
	userKeys    = []string{"id", "name", "follow_count", "follower_count", "is_follow", "avatar", "background_image", "signature", "total_favorited", "work_count", "favorite_count"}
	friendKeys  = append(slices.Clone(userKeys), "message", "msgType")
	videoKeys   = []string{"id", "author", "play_url", "cover_url", "favorite_count", "comment_count", "is_favorite", "title"}
	commentKeys = []string{"id", "user", "content", "create_date"}
	messageKeys = []string{"id", "to_user_id", "from_user_id", "content", "create_time"}
)

// routeShape is what a route's answer carries besides status_code and
// status_msg: its list fields (always arrays) and other fields that must
// be present.
type routeShape struct {
	lists  map[string][]string // list field -> keys of its elements
	fields []string
}

var shapes = map[string]routeShape{
	"/douyin/feed/":                   {lists: map[string][]string{"video_list": videoKeys}, fields: []string{"next_time"}},
	"/douyin/user/register/":          {fields: []string{"user_id", "token"}},
	"/douyin/user/login/":             {fields: []string{"user_id", "token"}},
	"/douyin/user/":                   {fields: []string{"user"}},
	"/douyin/publish/action/":         {},
	"/douyin/publish/list/":           {lists: map[string][]string{"video_list": videoKeys}},
	"/douyin/favorite/action/":        {},
	"/douyin/favorite/list/":          {lists: map[string][]string{"video_list": videoKeys}},
	"/douyin/comment/action/":         {fields: []string{"comment"}},
	"/douyin/comment/list/":           {lists: map[string][]string{"comment_list": commentKeys}},
	"/douyin/relation/action/":        {},
	"/douyin/relation/follow/list/":   {lists: map[string][]string{"user_list": userKeys}},
	"/douyin/relation/follower/list/": {lists: map[string][]string{"user_list": userKeys}},
	"/douyin/relation/friend/list/":   {lists: map[string][]string{"user_list": friendKeys}},
	"/douyin/message/action/":         {},
	"/douyin/message/chat/":           {lists: map[string][]string{"message_list": messageKeys}},
}

// How a request carries its parameters.
type mode int

const (
	inQuery mode = iota
	inForm       // a url-encoded body (GET requests: see callMode)
	inBoth       // the same values in the query and the body
)

func (m mode) String() string { return [...]string{"query", "form", "both"}[m] }

// client drives one running edge.
type client struct {
	base string // http://127.0.0.1:port
	hc   *http.Client
	n    atomic.Int64 // cycles the parameter modes
}

func newClient(base string) *client {
	return &client{base: base, hc: &http.Client{Timeout: 30 * time.Second}}
}

// get and post call a route with p, rotating through the ways the app
// passes parameters, and check the answer's shape.
func (c *client) get(t testing.TB, path string, p url.Values) *reply {
	t.Helper()
	return c.callMode(t, mode(c.n.Add(1)%3), http.MethodGet, path, p)
}

func (c *client) post(t testing.TB, path string, p url.Values) *reply {
	t.Helper()
	return c.callMode(t, mode(c.n.Add(1)%3), http.MethodPost, path, p)
}

// callMode calls a route with p passed as m says. A GET's form-only mode
// sends both (the contract has GET parameters in the query, and the
// clients that add a body send the same values there too).
func (c *client) callMode(t testing.TB, m mode, method, path string, p url.Values) *reply {
	t.Helper()
	if method == http.MethodGet && m == inForm {
		m = inBoth
	}
	var query, body url.Values
	switch m {
	case inQuery:
		query = p
	case inForm:
		body = p
	case inBoth:
		query, body = p, p
	}
	return c.raw(t, method, path, query.Encode(), body.Encode(), body != nil)
}

// raw sends a request with exactly this query and url-encoded body (when
// hasBody) and returns the checked answer.
func (c *client) raw(t testing.TB, method, path, rawQuery, body string, hasBody bool) *reply {
	t.Helper()
	r, err := c.try(method, path, rawQuery, body, hasBody)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// try is raw for goroutines: it returns what raw would fail the test with.
func (c *client) try(method, path, rawQuery, body string, hasBody bool) (*reply, error) {
	u := c.base + path
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	var rd io.Reader
	if hasBody {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return nil, err
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return c.send(req, path)
}

// tryGet gets path with p in the query, for goroutines.
func (c *client) tryGet(path string, p url.Values) (*reply, error) {
	return c.try(http.MethodGet, path, p.Encode(), "", false)
}

// tryPost posts p as a url-encoded form, for goroutines.
func (c *client) tryPost(path string, p url.Values) (*reply, error) {
	return c.try(http.MethodPost, path, "", p.Encode(), true)
}

// do sends req and checks the answer (see send).
func (c *client) do(t testing.TB, req *http.Request, route string) *reply {
	t.Helper()
	r, err := c.send(req, route)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// send sends req and checks the envelope: HTTP 200, JSON, status_code and
// status_msg present (a failure with a message), the route's fields
// present and its lists arrays whose elements have the contract's keys,
// ids below 2^53, and on register/login failure "token": "" and
// "user_id": 0.
func (c *client) send(req *http.Request, route string) (*reply, error) {
	return c.sendHeaders(req, route, nil)
}

// sendHeaders is send that also gives the response's headers to header,
// when not nil.
func (c *client) sendHeaders(req *http.Request, route string, header *http.Header) (*reply, error) {
	what := req.Method + " " + req.URL.Path
	if len(req.URL.RawQuery) < 200 {
		what += "?" + req.URL.RawQuery
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", what, err)
	}
	defer resp.Body.Close()
	if header != nil {
		*header = resp.Header
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the answer: %v", what, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d, want 200; body %s", what, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return nil, fmt.Errorf("%s: Content-Type %q, want application/json; body %s", what, ct, b)
	}
	if err := checkShape(route, b); err != nil {
		return nil, fmt.Errorf("%s: %v; body %s", what, err, b)
	}
	r := &reply{raw: b}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("%s: decoding %s: %v", what, b, err)
	}
	return r, nil
}

// checkShape checks the contract's keys and types in an answer of route.
func checkShape(route string, b []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return fmt.Errorf("not a JSON object: %v", err)
	}
	var code int32
	if err := json.Unmarshal(top["status_code"], &code); err != nil {
		return fmt.Errorf("status_code missing or not an int32: %v", err)
	}
	var msg string
	if err := json.Unmarshal(top["status_msg"], &msg); err != nil {
		return fmt.Errorf("status_msg missing or not a string: %v", err)
	}
	if code != 0 && strings.TrimSpace(msg) == "" {
		return fmt.Errorf("failure %d without a status_msg", code)
	}
	shape, ok := shapes[route]
	if !ok {
		return nil // an unknown route: the envelope is all there is
	}
	for _, f := range shape.fields {
		if _, ok := top[f]; !ok {
			return fmt.Errorf("field %s missing", f)
		}
	}
	for list, keys := range shape.lists {
		raw, ok := top[list]
		if !ok || !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
			return fmt.Errorf("%s is %s, want an array", list, raw)
		}
		var elems []map[string]json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return fmt.Errorf("%s: %v", list, err)
		}
		for i, e := range elems {
			if err := checkObject(e, keys); err != nil {
				return fmt.Errorf("%s[%d]: %v", list, i, err)
			}
		}
	}
	if route == "/douyin/user/register/" || route == "/douyin/user/login/" {
		if code != 0 && (string(top["token"]) != `""` || string(top["user_id"]) != "0") {
			return fmt.Errorf(`failure with token %s and user_id %s, want "" and 0`, top["token"], top["user_id"])
		}
	}
	if u := top["user"]; code == 0 && route == "/douyin/user/" {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(u, &obj); err != nil || obj == nil {
			return fmt.Errorf("user is %s, want an object", u)
		}
		if err := checkObject(obj, userKeys); err != nil {
			return fmt.Errorf("user: %v", err)
		}
	}
	if cm := top["comment"]; code == 0 && string(cm) != "null" && route == "/douyin/comment/action/" {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(cm, &obj); err != nil {
			return fmt.Errorf("comment: %v", err)
		}
		if err := checkObject(obj, commentKeys); err != nil {
			return fmt.Errorf("comment: %v", err)
		}
	}
	return checkIDs(b)
}

// checkObject checks that obj has every key, and the nested User of a
// Video or Comment too.
func checkObject(obj map[string]json.RawMessage, keys []string) error {
	for _, k := range keys {
		if _, ok := obj[k]; !ok {
			return fmt.Errorf("key %s missing", k)
		}
	}
	for _, nested := range []string{"author", "user"} {
		if raw, ok := obj[nested]; ok && slices.Contains(keys, nested) {
			var u map[string]json.RawMessage
			if err := json.Unmarshal(raw, &u); err != nil || u == nil {
				return fmt.Errorf("%s is %s, want an object", nested, raw)
			}
			if err := checkObject(u, userKeys); err != nil {
				return fmt.Errorf("%s: %v", nested, err)
			}
		}
	}
	return nil
}

// checkIDs checks that every id in the answer is a JSON integer below 2^53.
func checkIDs(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	var walk func(key string, v any) error
	walk = func(key string, v any) error {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if err := walk(k, e); err != nil {
					return err
				}
			}
		case []any:
			for _, e := range v {
				if err := walk(key, e); err != nil {
					return err
				}
			}
		case json.Number:
			if key == "id" || strings.HasSuffix(key, "_id") {
				n, err := v.Int64()
				if err != nil || n < 0 || n >= 1<<53 {
					return fmt.Errorf("%s %s is not an integer in [0, 2^53)", key, v)
				}
			}
		}
		return nil
	}
	return walk("", v)
}

// part is one multipart field: a form field, or a file when filename is set.
type part struct {
	name, filename string
	content        []byte
}

func field(name, value string) part { return part{name: name, content: []byte(value)} }

func file(content []byte) part { return part{name: "data", filename: "video.mp4", content: content} }

// publish posts a multipart body of parts, in their order, with query.
func (c *client) publish(t testing.TB, query url.Values, parts ...part) *reply {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, p := range parts {
		var (
			w   io.Writer
			err error
		)
		if p.filename != "" {
			w, err = mw.CreateFormFile(p.name, p.filename)
		} else {
			w, err = mw.CreateFormField(p.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(p.content)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	u := c.base + "/douyin/publish/action/"
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequest(http.MethodPost, u, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(t, req, "/douyin/publish/action/")
}

// ok fails the test unless r is a success.
func (r *reply) ok(t testing.TB, what string) *reply {
	t.Helper()
	if r.StatusCode != 0 {
		t.Fatalf("%s: status %d %q, want success; body %s", what, r.StatusCode, r.StatusMsg, r.raw)
	}
	return r
}

// fails checks that r is the failure want (a business code; 0 means any),
// and never one of the server's own faults.
func (r *reply) fails(t testing.TB, what string, want int32) {
	t.Helper()
	if r.StatusCode == 0 {
		t.Errorf("%s: succeeded, want a failure; body %s", what, r.raw)
		return
	}
	if serverFault(r.StatusCode) {
		t.Errorf("%s: status %d %q is a server fault (5xx), want a client error; body %s", what, r.StatusCode, r.StatusMsg, r.raw)
		return
	}
	if want != 0 && r.StatusCode != want {
		t.Errorf("%s: status %d %q, want %d; body %s", what, r.StatusCode, r.StatusMsg, want, r.raw)
	}
}

// code returns the business code of a generated error.
func code(err error) int32 { return apierror.BusinessCode(err) }

// serverFault reports whether a business code is a 5xx-class error (the
// server's fault, not the request's) or is unknown to the catalog.
func serverFault(c int32) bool {
	spec, ok := apierror.Default.LookupBusinessCode(c)
	if !ok && c > 1000 && c <= 1016 {
		spec, ok = apierror.Platform(codes.Code(c-1000)), true
	}
	return !ok || spec == nil || spec.HTTPStatus >= 500
}

// vals builds url.Values from pairs.
func vals(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}
