package store

// CachedFollowsPerUser lets tests cross the bound of kept followees.
const CachedFollowsPerUser = cachedFollowsPerUser
