package allinone_test

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
)

// parallel runs f(0..n-1) in goroutines and fails the test with their
// errors.
func parallel(t *testing.T, n int, f func(i int) error) {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// succeeded turns a reply into an error unless it is a success.
func succeeded(r *reply, err error) error {
	if err == nil && r.StatusCode != 0 {
		err = fmt.Errorf("status %d %q", r.StatusCode, r.StatusMsg)
	}
	return err
}

// concurrency: many app users at once on the same rows, through HTTP.
func concurrency(t *testing.T, e *env, w *world) {
	const n = 8
	// n accounts registered at once, and n registrations of one name.
	users := make([]*account, n)
	parallel(t, n, func(i int) error {
		name := fmt.Sprintf("c-user-%d", i)
		r, err := e.c.tryPost("/douyin/user/register/", vals("username", name, "password", "pw"))
		if err := succeeded(r, err); err != nil {
			return err
		}
		users[i] = &account{id: r.UserID, name: name, password: "pw", token: r.Token}
		return nil
	})
	var taken [n]*reply
	parallel(t, n, func(i int) error {
		r, err := e.c.tryPost("/douyin/user/register/", vals("username", "c-same-name", "password", "pw"))
		taken[i] = r
		return err
	})
	wins := 0
	for _, r := range taken {
		if r.StatusCode == 0 {
			wins++
		} else {
			r.fails(t, "a concurrent registration of a taken name", nameTaken)
		}
	}
	if wins != 1 {
		t.Errorf("%d concurrent registrations of one name succeeded, want 1", wins)
	}

	// Two goroutines per account like and unlike the same video; both end
	// with the account's final action, so accounts 0-5 like it and 6-7 do
	// not, whatever the interleaving.
	v := w.videos[3]
	before := w.videoAs(t, e, nil, v.ID).FavoriteCount
	aliceBefore := user(t, e, w.alice, w.alice.id).TotalFavorited
	const likers = 6
	parallel(t, 2*n, func(g int) error {
		a := users[g%n]
		last := "1"
		if g%n >= likers {
			last = "2"
		}
		for _, action := range []string{"1", "1", "2", "1", "2", "2", "1", last} {
			r, err := e.c.tryPost("/douyin/favorite/action/", vals("token", a.token, "video_id", strconv.FormatInt(v.ID, 10), "action_type", action))
			if err := succeeded(r, err); err != nil {
				return fmt.Errorf("%s action %s: %w", a.name, action, err)
			}
		}
		return nil
	})
	if got := w.videoAs(t, e, nil, v.ID).FavoriteCount; got != before+likers {
		t.Errorf("after concurrent likes: favorite_count %d, want %d", got, before+likers)
	}
	if got := user(t, e, w.alice, w.alice.id).TotalFavorited; got != aliceBefore+likers {
		t.Errorf("alice's total_favorited %d, want %d", got, aliceBefore+likers)
	}
	for i, a := range users {
		liked := slices.Contains(videoIDs(favorites(t, e, a, a)), v.ID)
		if liked != (i < likers) {
			t.Errorf("%s likes the video: %v, want %v", a.name, liked, i < likers)
		}
		if u := user(t, e, a, a.id); u.FavoriteCount != map[bool]int64{true: 1}[i < likers] {
			t.Errorf("%s's favorite_count %d", a.name, u.FavoriteCount)
		}
	}

	// Everyone follows alice twice, comments on her video and writes to
	// her, at once.
	followersBefore := user(t, e, w.alice, w.alice.id).FollowerCount
	commentsBefore := w.videoAs(t, e, nil, v.ID).CommentCount
	parallel(t, 2*n, func(g int) error {
		a := users[g%n]
		steps := []struct {
			path string
			p    map[string]string
		}{
			{"/douyin/relation/action/", map[string]string{"to_user_id": w.alice.id64(), "action_type": "1"}},
			{"/douyin/comment/action/", map[string]string{"video_id": strconv.FormatInt(v.ID, 10), "action_type": "1", "comment_text": fmt.Sprintf("from %s (%d)", a.name, g)}},
			{"/douyin/message/action/", map[string]string{"to_user_id": w.alice.id64(), "action_type": "1", "content": fmt.Sprintf("hello from goroutine %d", g)}},
		}
		for _, s := range steps {
			p := vals("token", a.token)
			for k, v := range s.p {
				p.Set(k, v)
			}
			if err := succeeded(e.c.tryPost(s.path, p)); err != nil {
				return fmt.Errorf("%s %s: %w", a.name, s.path, err)
			}
		}
		return nil
	})
	if u := user(t, e, w.alice, w.alice.id); u.FollowerCount != followersBefore+n {
		t.Errorf("alice's follower_count %d, want %d", u.FollowerCount, followersBefore+n)
	}
	if got := w.videoAs(t, e, nil, v.ID).CommentCount; got != commentsBefore+2*n {
		t.Errorf("comment_count %d, want %d", got, commentsBefore+2*n)
	}
	list := comments(t, e, w.alice, v.ID)
	seen := map[int64]bool{}
	for _, c := range list {
		seen[c.ID] = true
	}
	if len(list) != int(commentsBefore)+2*n || len(seen) != len(list) {
		t.Errorf("%d comments (%d distinct ids), want %d", len(list), len(seen), int(commentsBefore)+2*n)
	}
	for _, a := range users {
		if msgs := chat(t, e, w.alice, a, ""); len(msgs) != 2 || msgs[0].ID == msgs[1].ID || msgs[0].CreateTime > msgs[1].CreateTime {
			t.Errorf("alice's chat with %s: %+v, want their 2 messages", a.name, msgs)
		}
	}
}
