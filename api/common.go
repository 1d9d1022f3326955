package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
)

// register adds one API operation: it records the operation's action for
// the permission check, documents the bearer security and the errors every
// operation can give, and converts the handler's errors into problems.
func register[I, O any](s *server, op huma.Operation, action auth.Action, h func(context.Context, *I) (*O, error)) {
	s.actions[strings.ToUpper(op.Method)+" "+op.Path] = action
	op.Security = []map[string][]string{{"bearer": {}}}
	// One byte over the limit: huma refuses a body that reaches its limit,
	// and the real limit (exactly MaxBodyBytes allowed) is enforced before
	// huma reads anything.
	op.MaxBodyBytes = MaxBodyBytes + 1
	op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusForbidden)
	if op.Method != http.MethodGet {
		op.Errors = append(op.Errors, http.StatusBadRequest, http.StatusRequestEntityTooLarge)
	}
	huma.Register(s.api, op, func(ctx context.Context, in *I) (*O, error) {
		if _, ok := apiKey(ctx); !ok {
			// Unreachable: the route layer authenticates first. Refusing
			// here keeps a wiring mistake from serving an empty tenant.
			return nil, newProblem(http.StatusUnauthorized, "not authenticated")
		}
		out, err := h(ctx, in)
		if err != nil {
			return nil, s.problemFor(ctx, err)
		}
		return out, nil
	})
}

// out is a response with a body of type T.
type out[T any] struct {
	Body T
}

// ListBody is one page of a list. NextCursor is present when more items
// follow: pass it as ?cursor= to get them.
type ListBody[T any] struct {
	Items      []T    `json:"items" nullable:"false"`
	NextCursor string `json:"next_cursor,omitempty" doc:"Pass as ?cursor= to get the next page; absent on the last page."`
}

// listParams are the query parameters of every list.
type listParams struct {
	Cursor string `query:"cursor" maxLength:"200" doc:"The next_cursor of the previous page; empty for the first page."`
	Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"50" doc:"The largest number of items to return."`
}

// page fetches one page: it asks the store for one item more than the
// limit, which tells without a count query whether another page follows.
// Cursors are the last ID of a page, since lists are ordered by ID.
func page[R, T any](p listParams, fetch func(evbill.Page) ([]R, error), id func(R) string, conv func(R) T) (*out[ListBody[T]], error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 50
	}
	recs, err := fetch(evbill.Page{After: p.Cursor, Limit: limit + 1})
	if err != nil {
		return nil, err
	}
	o := &out[ListBody[T]]{}
	switch {
	case len(recs) > limit:
		recs = recs[:limit]
		o.Body.NextCursor = id(recs[limit-1])
	case len(recs) == limit && limit+1 > storeMaxPage:
		// The store returns at most storeMaxPage items, so a full page of
		// that size cannot tell whether more follow: offer a cursor, and
		// the next page may be empty.
		o.Body.NextCursor = id(recs[limit-1])
	}
	o.Body.Items = make([]T, len(recs))
	for i, r := range recs {
		o.Body.Items[i] = conv(r)
	}
	return o, nil
}

// storeMaxPage is the most items the stores return for one page.
const storeMaxPage = 500

// idParam is the path parameter of single-record routes.
type idParam struct {
	ID string `path:"id" maxLength:"64" doc:"The record's ID."`
}

// utc shows times in UTC, as the API promises, whatever zone the store
// returns them in.
func utc(t time.Time) time.Time { return t.UTC() }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// checkRef adds a field error when a referenced record does not exist in
// the tenant. The composite foreign keys would refuse it too; checking
// here gives the client a problem that names the field.
func checkRef(fe *fieldErrors, location, kind string, err error) error {
	switch evbill.ErrorCode(err) {
	case "":
		return nil
	case evbill.ENOTFOUND:
		fe.add(location, "no "+kind+" with this ID")
		return nil
	}
	return err
}
