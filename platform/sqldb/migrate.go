package sqldb

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"regexp"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// serviceName is what Migrate accepts as a service name: it becomes part of a
// table name, so it must be a plain lower-case SQL identifier.
var serviceName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// maxServiceLen keeps "<service>_schema_version" within PostgreSQL's 63-byte
// identifier limit.
const maxServiceLen = 63 - len(versionTableSuffix)

const versionTableSuffix = "_schema_version"

// VersionTable returns the table in which Migrate records the schema
// versions applied for service.
func VersionTable(service string) string { return service + versionTableSuffix }

// Migrate brings the service's schema up to date by applying, in version
// order, every migration in fsys's folder for db.Dialect ("sqlite/" or
// "postgres/") that is not yet recorded in VersionTable(service). Running it
// again is a no-op, so services call it on every start.
//
// On PostgreSQL a session advisory lock per service serialises concurrent
// Migrate calls (several replicas starting at once), and each migration runs
// in its own transaction unless it is annotated "-- +goose NO TRANSACTION".
// On SQLite each migration's transaction holds the write lock; SQLite
// deployments are expected to start one instance per service at a time.
//
// Migrate logs nothing; a failure is returned naming the service, the
// dialect and, via goose's error, the migration that failed. Migrations
// applied before a failing one stay applied.
func (db *DB) Migrate(ctx context.Context, fsys fs.FS, service string) error {
	if !serviceName.MatchString(service) || len(service) > maxServiceLen {
		return fmt.Errorf("sqldb: invalid service name %q for migrations: want [a-z][a-z0-9_]*, at most %d bytes", service, maxServiceLen)
	}
	if fsys == nil {
		return fmt.Errorf("sqldb: migrating %s: nil migrations FS", service)
	}
	dir := string(db.Dialect)
	if fi, err := fs.Stat(fsys, dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("sqldb: migrating %s: the migrations FS has no %s/ folder for dialect %s (its root must hold sqlite/ and postgres/): %v", service, dir, db.Dialect, err)
	}
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		return fmt.Errorf("sqldb: migrating %s: opening %s/: %w", service, dir, err)
	}

	opts := []goose.ProviderOption{
		goose.WithTableName(VersionTable(service)),
		goose.WithDisableGlobalRegistry(true), // only this FS's SQL files
		goose.WithLogger(goose.NopLogger()),
	}
	var dialect goose.Dialect
	switch db.Dialect {
	case DialectSQLite:
		dialect = goose.DialectSQLite3
	case DialectPostgres:
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker(
			lock.WithLockID(lockID(service)),
			lock.WithLockTimeout(1, 300), // retry every 1s for up to 5 min
		)
		if err != nil {
			return fmt.Errorf("sqldb: migrating %s: creating migration lock: %w", service, err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	default:
		return fmt.Errorf("sqldb: migrating %s: unsupported dialect %q", service, db.Dialect)
	}

	provider, err := goose.NewProvider(dialect, db.DB, sub, opts...)
	if errors.Is(err, goose.ErrNoMigrations) {
		return fmt.Errorf("sqldb: migrating %s: no migration files (NNNN_name.sql) in %s/", service, dir)
	}
	if err != nil {
		return fmt.Errorf("sqldb: migrating %s: reading migrations in %s/: %w", service, dir, err)
	}
	// Not provider.Close: it would close db.
	if _, err := provider.Up(ctx); err != nil {
		if partial, ok := errors.AsType[*goose.PartialError](err); ok && partial.Failed != nil && partial.Failed.Source != nil {
			return fmt.Errorf("sqldb: migrating %s schema (%s): %s/%s failed (%d earlier migrations applied in this run): %w",
				service, db.Dialect, dir, path.Base(partial.Failed.Source.Path), len(partial.Applied), partial.Err)
		}
		return fmt.Errorf("sqldb: migrating %s schema (%s): %w", service, db.Dialect, err)
	}
	return nil
}

// lockID derives a per-service advisory lock id, so services sharing one
// PostgreSQL database migrate in parallel while replicas of one service
// take turns.
func lockID(service string) int64 {
	h := fnv.New64a()
	h.Write([]byte("tremolo/sqldb.Migrate/" + service))
	return int64(h.Sum64())
}
