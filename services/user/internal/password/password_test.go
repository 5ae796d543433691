package password

import (
	"strings"
	"testing"
)

// fast keeps the tests quick; the format and checks are the same.
var fast = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashAndCheck(t *testing.T) {
	h := Hash("s3cret", fast)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not a PHC argon2id string", h)
	}
	if ok, err := Check("s3cret", h); err != nil || !ok {
		t.Fatalf("Check(right password) = %v, %v; want true", ok, err)
	}
	if ok, err := Check("s3creT", h); err != nil || ok {
		t.Fatalf("Check(wrong password) = %v, %v; want false", ok, err)
	}
	if Hash("s3cret", fast) == h {
		t.Fatal("two hashes of one password are equal: salt is not random")
	}
}

func TestCheckUsesStoredParams(t *testing.T) {
	h := Hash("pw", Params{Memory: 128, Time: 2, Threads: 2, SaltLen: 8, KeyLen: 16})
	if ok, err := Check("pw", h); err != nil || !ok {
		t.Fatalf("Check with other stored params = %v, %v", ok, err)
	}
}

func TestCheckMalformed(t *testing.T) {
	for _, stored := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$AAAA$AAAA", "$argon2id$v=18$m=64,t=1,p=1$AAAA$AAAA",
		"$argon2id$v=19$m=64,t=0,p=1$AAAA$AAAA", "$argon2id$v=19$m=64,t=1,p=1$!!$AAAA", "$argon2id$v=19$m=64,t=1,p=1$AAAA$",
		"$argon2id$v=19$m=4194304,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=64,t=1000,p=1$AAAA$AAAA"} {
		if _, err := Check("pw", stored); err != ErrMalformed {
			t.Errorf("Check(%q) error = %v; want ErrMalformed", stored, err)
		}
	}
}
