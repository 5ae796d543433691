// Package user is the Douyin user service: accounts, sign-in and profiles.
//
// It owns the users table (services/user/internal/store), hashes passwords
// with argon2id and signs tokens with platform/token. Its contract is
// proto/douyin/user/v1/user.proto; the generated code in gen/douyin/user/v1
// registers it on the platform's servers (Module).
package user
