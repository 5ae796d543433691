// Package relation is the Douyin relation service: who follows whom.
//
// It owns the follows and their counters (services/relation/internal/store)
// and asks the user service, in one BatchGetUsers call, whether a user it is
// told about exists. Its contract is proto/douyin/relation/v1/relation.proto;
// the generated code in gen/douyin/relation/v1 registers it on the platform's
// servers (Module).
//
// Behaviour beyond the contract's comments:
//   - Follow and Unfollow act for the verified caller (auth.Require); ids
//     must be positive (INVALID_ID), the caller cannot follow or unfollow
//     themselves (SELF_FOLLOW), and the target must exist (USER_NOT_FOUND).
//     Both are idempotent and answer OK when nothing changed. Unfollow asks
//     the user service only when there was no follow to remove.
//   - ListFollowing, ListFollowers and ListFriends refuse an unknown user
//     with USER_NOT_FOUND; they ask the user service only when the list is
//     empty (a user who has follows exists). Friends are ordered by when the
//     friendship began (the later of the two follows), most recent first.
//   - BatchGetStats takes at most 500 distinct ids (TOO_MANY_IDS), all
//     positive (INVALID_ID); unknown users get zero counts. is_follow is set
//     only when the request carries a user. Two queries, whatever the size.
package relation
