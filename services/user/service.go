package user

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"

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
	ids    *ids.Generator
	hash   password.Params
	// dummyHash is checked against when a name is unknown, so that a login
	// for a missing user costs as much as one with a wrong password and
	// does not reveal which names exist.
	dummyHash string
}

// New returns the service over its store. It works without fx.
func New(st *store.Store, signer *token.Signer, gen *ids.Generator) *Service {
	return NewWithParams(st, signer, gen, password.Default)
}

// NewWithParams is New with other argon2id costs (tests use cheap ones).
func NewWithParams(st *store.Store, signer *token.Signer, gen *ids.Generator, p password.Params) *Service {
	return &Service{store: st, signer: signer, ids: gen, hash: p, dummyHash: password.Hash("tremolo-dummy", p)}
}

// validName accepts 1-32 characters of valid UTF-8 without control
// characters or surrounding spaces.
func validName(s string, maxLen int) bool {
	n := utf8.RuneCountInString(s)
	if n == 0 || n > maxLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return s[0] != ' ' && s[len(s)-1] != ' '
}

func validPassword(s string) bool {
	n := utf8.RuneCountInString(s)
	return n > 0 && n <= MaxPasswordLen && utf8.ValidString(s)
}

// Register creates an account. Nothing is written unless the whole request
// is valid, and a taken name leaves the table unchanged.
func (s *Service) Register(ctx context.Context, req *userv1.RegisterRequest) (*userv1.RegisterResponse, error) {
	if !validName(req.GetUsername(), MaxNameLen) {
		return nil, userv1.ErrorInvalidUsername("")
	}
	if !validPassword(req.GetPassword()) {
		return nil, userv1.ErrorInvalidPassword("")
	}
	id, err := s.ids.Next()
	if err != nil {
		return nil, apierror.Internal(fmt.Errorf("user: new id: %w", err))
	}
	u := store.User{ID: id, Name: req.GetUsername(), PasswordHash: password.Hash(req.GetPassword(), s.hash), CreatedAt: time.Now()}
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
	if !validName(req.GetUsername(), MaxNameLen) || !validPassword(req.GetPassword()) {
		return nil, userv1.ErrorWrongCredentials("")
	}
	u, err := s.store.ByName(ctx, req.GetUsername())
	stored := u.PasswordHash
	switch {
	case errors.Is(err, store.ErrNotFound):
		stored = s.dummyHash
	case err != nil:
		return nil, apierror.Internal(fmt.Errorf("user: login %q: %w", req.GetUsername(), err))
	}
	ok, cerr := password.Check(req.GetPassword(), stored)
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
	ids := slices.Clone(req.GetUserIds())
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) > MaxBatch {
		return nil, userv1.ErrorTooManyIds("")
	}
	if len(ids) > 0 && ids[0] <= 0 {
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
