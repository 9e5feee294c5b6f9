package discrepancies

import (
	"context"
	"fmt"

	"github.com/tallyhq/tally/db/discdb"
)

// OpenKind is how many discrepancies of one type and severity are open.
type OpenKind struct {
	Type     Type
	Severity Severity
	Count    int64
}

// OpenByKind counts the open discrepancies of every merchant by type and
// severity (for /metrics): the query of OpenSummary, over the partial index
// of open discrepancies, summed over its age buckets.
func (s *Store) OpenByKind(ctx context.Context, db DB) ([]OpenKind, error) {
	rows, err := discdb.New(db).OpenSummary(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("count open discrepancies: %w", err)
	}
	idx := map[[2]string]int{}
	var out []OpenKind
	for _, r := range rows {
		k := [2]string{r.Type, r.Severity}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, OpenKind{Type: Type(r.Type), Severity: Severity(r.Severity)})
		}
		out[i].Count += r.N
	}
	return out, nil
}
