package sqlstore

import "github.com/jackc/pgx/v5"

// TracedOptions returns options whose PostgreSQL connections report every
// statement to tracer.
func TracedOptions(tracer pgx.QueryTracer) Options { return Options{tracer: tracer} }
