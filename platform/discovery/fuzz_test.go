package discovery

import (
	"testing"
	"time"
)

func FuzzUnmarshal(f *testing.F) {
	good, _ := inst("user", "u1", "127.0.0.1:9001").Marshal()
	for _, s := range []string{
		string(good),
		`{"service":"user","id":"u1","addr":"[::1]:9000","version":"v1.2.3-canary.1","weight":3,"resources":{"milli_cpu":500}}`,
		`{"service":"user","id":"u1","addr":"h:0"}`,
		`{"service":"","id":"","addr":""}`,
		`{"labels":{"a":1}}`,
		`null`, `[]`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Unmarshal(b)
		if err != nil {
			return
		}
		if err := got.Validate(); err != nil {
			t.Fatalf("Unmarshal accepted an invalid instance: %v", err)
		}
		again, err := got.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Unmarshal(again)
		if err != nil || !equalLists([]Instance{got}, []Instance{back}) {
			t.Fatalf("round trip changed %+v into %+v (%v)", got, back, err)
		}
	})
}

func FuzzDecodeSnapshot(f *testing.F) {
	good, _ := encodeSnapshot("user", []Instance{inst("user", "a", "127.0.0.1:1"), inst("user", "b", "127.0.0.1:2")}, time.Unix(0, 0))
	for _, s := range []string{
		string(good),
		`{"service":"user","instances":[{"service":"feed","id":"x","addr":"h:1"},"junk",{"service":"user","id":"a","addr":"h:1"},{"service":"user","id":"a","addr":"h:2"}]}`,
		`{"service":"feed","instances":[]}`,
		`{"service":"user","instances":null}`,
		`{"service":"user","saved_at":"yesterday"}`,
		`[]`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		list, _, err := decodeSnapshot(b, "user")
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for i, in := range list {
			if err := in.Validate(); err != nil || in.Service != "user" {
				t.Fatalf("decoded an invalid or foreign instance %+v: %v", in, err)
			}
			if seen[in.ID] {
				t.Fatalf("id %s twice", in.ID)
			}
			seen[in.ID] = true
			if i > 0 && list[i-1].ID >= in.ID {
				t.Fatalf("list not sorted by ID: %v", ids(list))
			}
		}
		enc, err := encodeSnapshot("user", list, time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		back, skipped, err := decodeSnapshot(enc, "user")
		if err != nil || len(skipped) != 0 || !equalLists(list, back) {
			t.Fatalf("round trip: %v, skipped %v, %v != %v", err, skipped, ids(back), ids(list))
		}
	})
}
