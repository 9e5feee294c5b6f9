package bench

import (
	"context"
	"log/slog"
)

// CreateDatabase (re)creates the scratch database name on the server of url
// (any database URL of that server) and returns the scratch database's URL.
// The other benchmarks (package benchmarks) share it with Run.
func CreateDatabase(ctx context.Context, url, name string) (string, error) {
	return createDatabase(ctx, Config{URL: url, Database: name})
}

// DropDatabase drops the scratch database name on the server of url, logging
// (not returning) a failure, as Run does when it is done.
func DropDatabase(ctx context.Context, url, name string, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	dropDatabase(ctx, Config{URL: url, Database: name, Log: log})
}
