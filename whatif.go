package evbill

import (
	"context"
	"time"
)

// WhatIfFilter selects the stored CDRs a what-if re-prices: the tenant's
// sessions that started in [From, To), narrowed by any of the scope
// fields that are set (they combine).
type WhatIfFilter struct {
	// TenantID is the tenant whose CDRs are read; every read is scoped to it.
	TenantID string
	// From and To bound the sessions' starts: From included, To not.
	From, To time.Time
	// SiteID keeps the sessions of the site's stations (the site a
	// station belonged to when its session ended).
	SiteID string
	// StationID keeps one station's sessions.
	StationID string
	// TariffID keeps the sessions that were priced under the tariff, at
	// whichever of its versions.
	TariffID string
}

// WhatIfCDR is a stored CDR as a what-if reads it: its session's site,
// and its record (package whatif), which holds the session's ID and
// start, what the CDR charged and the charging periods it was priced on,
// but not the OCPI document, which is twenty times larger.
type WhatIfCDR struct {
	// SiteID is the site of the session's station when it ended.
	SiteID string
	// Record is whatif's record of the CDR.
	Record []byte
}

// WhatIfStore reads the what-if records of stored CDRs, which the stores
// write with each CDR, in the same transaction (whatif.Encode).
type WhatIfStore interface {
	// CountWhatIfCDRs returns how many CDRs the filter selects, for a
	// progress bar. It reads the rows as WhatIfCDRs does, so it costs a
	// part of what the what-if costs.
	CountWhatIfCDRs(ctx context.Context, f WhatIfFilter) (int64, error)
	// WhatIfCDRs calls fn with successive batches of the CDRs the filter
	// selects, each CDR once. fn is called from several goroutines at
	// once (one per core: the store prices while it reads), and batches
	// come in no particular order; a batch and its bytes are valid only
	// during the call. An error from fn stops the reading and is
	// returned. EINVALID when the range is empty or reversed.
	WhatIfCDRs(ctx context.Context, f WhatIfFilter, fn func([]WhatIfCDR) error) error
}
