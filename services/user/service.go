package user

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	userv1 "github.com/tremolo-dev/tremolo/gen/douyin/user/v1"
	"github.com/tremolo-dev/tremolo/platform/apierror"
	"github.com/tremolo-dev/tremolo/platform/ids"
	"github.com/tremolo-dev/tremolo/platform/token"
	"github.com/tremolo-dev/tremolo/services/user/internal/password"
	"github.com/tremolo-dev/tremolo/services/user/internal/store"
)

// Limits of the Douyin API.
const (
	MaxNameLen     = 32
	MaxPasswordLen = 32
	MaxBatch       = 500
)

// Service implements userv1.UserServiceServer.
type Service struct {
	userv1.UnimplementedUserServiceServer

	store  *store.Store
	signer *token.Signer
	ids    ids.Issuer
	hash   password.Params
	// hashing bounds concurrent argon2id computations: each takes ~20 MiB
	// and ~25 ms of a core, and register and login are public, so without a
	// bound a burst of them could exhaust memory.
	hashing chan struct{}
	// dummyHash is checked against when a name is unknown, so that a login
	// for a missing user costs as much as one with a wrong password and
	// does not reveal which names exist.
	dummyHash string
}

// New returns the service over its store. It works without fx.
func New(st *store.Store, signer *token.Signer, gen ids.Issuer) *Service {
	return NewWithParams(st, signer, gen, password.Default)
}

// NewWithParams is New with other argon2id costs (tests use cheap ones).
func NewWithParams(st *store.Store, signer *token.Signer, gen ids.Issuer, p password.Params) *Service {
	return &Service{
		store: st, signer: signer, ids: gen, hash: p,
		hashing:   make(chan struct{}, max(runtime.GOMAXPROCS(0), 1)),
		dummyHash: password.Hash("tremolo-dummy", p),
	}
}

// withHashSlot runs f once a hashing slot is free, or fails with the
// context's error (DEADLINE_EXCEEDED when the method's timeout passes while
// waiting: the caller may retry).
func (s *Service) withHashSlot(ctx context.Context, f func()) error {
	select {
	case s.hashing <- struct{}{}:
	case <-ctx.Done():
		return apierror.Internal(fmt.Errorf("user: waiting to hash a password: %w", ctx.Err()))
	}
	defer func() { <-s.hashing }()
	f()
	return nil
}

// normalizeName returns the stored form of a user name (Unicode NFC, so
// that "é" typed two ways is one name) and whether it is acceptable: 1-32
// printable characters, no invisible formatting characters (zero-width
// spaces, bidi overrides), no space at either end.
func normalizeName(s string) (string, bool) {
	if !utf8.ValidString(s) {
		return "", false
	}
	s = norm.NFC.String(s)
	n := utf8.RuneCountInString(s)
	if n == 0 || n > MaxNameLen {
		return "", false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' || unicode.Is(unicode.Cf, r) {
			return "", false
		}
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return "", false
	}
	return s, true
}

func validPassword(s string) bool {
	n := utf8.RuneCountInString(s)
	return n > 0 && n <= MaxPasswordLen && utf8.ValidString(s)
}

// Register creates an account. Nothing is written unless the whole request
// is valid, and a taken name leaves the table unchanged.
func (s *Service) Register(ctx context.Context, req *userv1.RegisterRequest) (*userv1.RegisterResponse, error) {
	name, ok := normalizeName(req.GetUsername())
	if !ok {
		return nil, userv1.ErrorInvalidUsername("")
	}
	if !validPassword(req.GetPassword()) {
		return nil, userv1.ErrorInvalidPassword("")
	}
	id, err := s.ids.Next()
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("user: new id: %w", err))
	}
	var hash string
	if err := s.withHashSlot(ctx, func() { hash = password.Hash(req.GetPassword(), s.hash) }); err != nil {
		return nil, err
	}
	u := store.User{ID: id, Name: name, PasswordHash: hash, CreatedAt: time.Now()}
	if err := s.store.Create(ctx, u); err != nil {
		if errors.Is(err, store.ErrNameTaken) {
			return nil, userv1.ErrorNameTaken("")
		}
		return nil, apierror.Internal(fmt.Errorf("user: create %q: %w", u.Name, err))
	}
	tok, err := s.signer.Sign(id)
	if err != nil {
		return nil, apierror.Internal(err)
	}
	return &userv1.RegisterResponse{UserId: id, Token: tok}, nil
}

// Login checks a name and password. A wrong password and an unknown name
// give the same error.
func (s *Service) Login(ctx context.Context, req *userv1.LoginRequest) (*userv1.LoginResponse, error) {
	name, ok := normalizeName(req.GetUsername())
	if !ok || !validPassword(req.GetPassword()) {
		return nil, userv1.ErrorWrongCredentials("")
	}
	u, err := s.store.ByName(ctx, name)
	stored := u.PasswordHash
	switch {
	case errors.Is(err, store.ErrNotFound):
		stored = s.dummyHash
	case err != nil:
		return nil, apierror.Internal(fmt.Errorf("user: login %q: %w", req.GetUsername(), err))
	}
	var cerr error
	if err := s.withHashSlot(ctx, func() { ok, cerr = password.Check(req.GetPassword(), stored) }); err != nil {
		return nil, err
	}
	if cerr != nil {
		return nil, apierror.Internal(fmt.Errorf("user: stored hash of %d: %w", u.ID, cerr))
	}
	if err != nil || !ok {
		return nil, userv1.ErrorWrongCredentials("")
	}
	tok, err := s.signer.Sign(u.ID)
	if err != nil {
		return nil, apierror.Internal(err)
	}
	return &userv1.LoginResponse{UserId: u.ID, Token: tok}, nil
}

// GetUser returns one profile.
func (s *Service) GetUser(ctx context.Context, req *userv1.GetUserRequest) (*userv1.GetUserResponse, error) {
	if req.GetUserId() <= 0 {
		return nil, userv1.ErrorInvalidUserId("")
	}
	u, err := s.store.ByID(ctx, req.GetUserId())
	if errors.Is(err, store.ErrNotFound) {
		return nil, userv1.ErrorUserNotFound("").WithMetadata("userId", fmt.Sprint(req.GetUserId()))
	}
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("user: get %d: %w", req.GetUserId(), err))
	}
	return &userv1.GetUserResponse{User: toProto(u)}, nil
}

// BatchGetUsers returns up to MaxBatch profiles in one query.
func (s *Service) BatchGetUsers(ctx context.Context, req *userv1.BatchGetUsersRequest) (*userv1.BatchGetUsersResponse, error) {
	ids := req.GetUserIds()
	if len(ids) > MaxBatch {
		return nil, userv1.ErrorTooManyIds("")
	}
	if slices.ContainsFunc(ids, func(id int64) bool { return id <= 0 }) {
		return nil, userv1.ErrorInvalidUserId("")
	}
	found, err := s.store.ByIDs(ctx, ids)
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("user: batch get of %d users: %w", len(ids), err))
	}
	out := make(map[int64]*userv1.User, len(found))
	for id, u := range found {
		out[id] = toProto(u)
	}
	return &userv1.BatchGetUsersResponse{Users: out}, nil
}

func toProto(u store.User) *userv1.User {
	return &userv1.User{
		Id: u.ID, Name: u.Name, Avatar: u.Avatar, BackgroundImage: u.BackgroundImage,
		Signature: u.Signature, CreatedAt: u.CreatedAt.UnixMilli(),
	}
}
