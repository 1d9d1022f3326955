package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/tariff"
)

// ProblemBase is the start of every problem type URI. The URIs are stable
// identifiers that clients may compare; they need not resolve.
const ProblemBase = "https://evbill.dev/problems/"

// Problem is an RFC 9457 problem details object, the body of every error
// response (media type application/problem+json). Type is stable per kind of
// error; Errors names each field that broke a rule, with Location such as
// "body.country" or "query.limit".
type Problem struct {
	Type   string              `json:"type" doc:"A stable URI identifying the kind of problem."`
	Title  string              `json:"title" doc:"A short summary of the kind of problem."`
	Status int                 `json:"status" doc:"The HTTP status code."`
	Detail string              `json:"detail,omitempty" doc:"What went wrong this time."`
	Errors []*huma.ErrorDetail `json:"errors,omitempty" doc:"The fields that broke a rule."`
}

// Error returns the detail, so a Problem can travel as an error.
func (p *Problem) Error() string { return p.Detail }

// GetStatus returns the HTTP status; huma uses it to write the response.
func (p *Problem) GetStatus() int { return p.Status }

// ContentType makes huma send problems as application/problem+json.
func (p *Problem) ContentType(ct string) string {
	if ct == "application/json" {
		return "application/problem+json"
	}
	return ct
}

// problemTypes maps each HTTP status the API answers with to its stable
// problem type. It is the one table that names the kinds of errors.
var problemTypes = map[int]string{
	http.StatusBadRequest:            "malformed",
	http.StatusUnauthorized:          "unauthorized",
	http.StatusForbidden:             "forbidden",
	http.StatusNotFound:              "not-found",
	http.StatusMethodNotAllowed:      "method-not-allowed",
	http.StatusNotAcceptable:         "not-acceptable",
	http.StatusRequestTimeout:        "timeout",
	http.StatusConflict:              "conflict",
	http.StatusRequestEntityTooLarge: "too-large",
	http.StatusUnsupportedMediaType:  "unsupported-media-type",
	http.StatusUnprocessableEntity:   "invalid",
	http.StatusInternalServerError:   "internal",
	http.StatusNotImplemented:        "not-implemented",
	http.StatusServiceUnavailable:    "unavailable",
}

// statusOf maps an evbill error code to its HTTP status: the one place
// where domain errors meet HTTP.
func statusOf(code string) int {
	switch code {
	case evbill.EINVALID:
		return http.StatusUnprocessableEntity
	case evbill.ENOTFOUND:
		return http.StatusNotFound
	case evbill.ECONFLICT:
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// newProblem builds a problem for a status, with its type and title.
func newProblem(status int, detail string, errs ...*huma.ErrorDetail) *Problem {
	t, ok := problemTypes[status]
	if !ok {
		t = strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "-"))
		if t == "" {
			t = "error"
		}
	}
	return &Problem{Type: ProblemBase + t, Title: http.StatusText(status), Status: status, Detail: detail, Errors: errs}
}

func init() {
	// huma builds its own errors (validation, malformed JSON, body too
	// large, unsupported media type) through this hook; routing them into
	// Problem gives every error, ours and huma's, the same shape and types.
	// It is a package variable of huma: evbill has one huma API per process,
	// so setting it here is the only configuration it ever gets.
	huma.NewError = humaError
}

// humaError converts huma's errors into a Problem. The offending values
// huma echoes back are dropped: they may be passwords or a whole 1 MiB
// body. A missing required property is located at the property itself,
// so the field is named in Location as for every other rule.
func humaError(status int, msg string, errs ...error) huma.StatusError {
	p := newProblem(status, msg)
	if status >= 500 {
		// The message of an unexpected error may carry internals; those
		// are logged where the error is handled, never shown.
		p.Detail = "internal error"
		return p
	}
	for _, err := range errs {
		if err == nil {
			continue
		}
		var d huma.ErrorDetailer
		if !errors.As(err, &d) {
			p.Errors = append(p.Errors, &huma.ErrorDetail{Message: err.Error()})
			continue
		}
		ed := *d.ErrorDetail()
		ed.Value = nil
		if name, ok := requiredProperty(ed.Message); ok {
			ed.Location += "." + name
		}
		p.Errors = append(p.Errors, &ed)
	}
	if status == http.StatusBadRequest && len(p.Errors) > 0 && p.Errors[0].Location == "body" {
		p.Detail = "the request body is not valid JSON"
	}
	return p
}

// requiredProperty extracts the name from huma's "expected required
// property NAME to be present".
func requiredProperty(msg string) (string, bool) {
	const pre, post = "expected required property ", " to be present"
	if strings.HasPrefix(msg, pre) && strings.HasSuffix(msg, post) {
		return msg[len(pre) : len(msg)-len(post)], true
	}
	return "", false
}

// fieldErrors collects the rules a request breaks beyond what the schema
// can say (a time zone that does not load, a reference to a missing
// record), so that all of them are reported at once.
type fieldErrors []*huma.ErrorDetail

func (f *fieldErrors) add(location, message string) {
	*f = append(*f, &huma.ErrorDetail{Location: location, Message: message})
}

// err returns the 422 problem for the collected errors, or nil.
func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	detail := "validation failed"
	if len(f) == 1 {
		detail = f[0].Location + ": " + f[0].Message
	}
	return newProblem(http.StatusUnprocessableEntity, detail, f...)
}

// problemFor turns any error a handler meets into the problem to send.
// Internal errors are logged with their cause and shown only as
// "internal error".
func (s *server) problemFor(ctx context.Context, err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var ve *tariff.ValidationError
	if errors.As(err, &ve) {
		var fe fieldErrors
		for _, pr := range ve.Problems {
			loc := "body"
			if pr.Path != "" {
				loc += "." + pr.Path
			}
			fe.add(loc, pr.Rule)
		}
		return fe.err().(*Problem)
	}
	code := evbill.ErrorCode(err)
	status := statusOf(code)
	if status == http.StatusInternalServerError {
		info := infoFrom(ctx)
		s.log.ErrorContext(ctx, "internal error", slog.String("method", info.method), slog.String("route", info.route),
			slog.String("tenant", info.key.TenantID), slog.Any("err", err))
		return newProblem(status, "internal error")
	}
	msg := err.Error()
	var e *evbill.Error
	if errors.As(err, &e) {
		msg = e.Message
	}
	return newProblem(status, msg)
}

// writeProblem writes a problem outside huma (authentication, routing,
// body limits, idempotency), in exactly the form huma writes it inside.
func writeProblem(w http.ResponseWriter, p *Problem) {
	body, err := json.Marshal(p)
	if err != nil {
		body = []byte(`{"type":"` + ProblemBase + `internal","title":"Internal Server Error","status":500}`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(body, '\n'))
}
