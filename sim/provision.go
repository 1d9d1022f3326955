package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Provision is what the simulator needs the operator API to hold before
// its chargers can connect: a site, a station per charger with connector 1
// of the simulated power and the fleet's password, and the tokens.
type Provision struct {
	// APIURL is the API's base URL, e.g. http://127.0.0.1:8080; the
	// /api/v1 paths are appended.
	APIURL string
	// APIKey is an operator or admin key, evb_….
	APIKey string
	// SiteID is the site the stations go to; empty finds or creates the
	// site named "Simulator" (NL, Europe/Amsterdam).
	SiteID string
	// Concurrency is the number of requests in flight; default 8.
	Concurrency int
	// Progress receives a line every few seconds; nil prints none.
	Progress io.Writer
	// Client is the HTTP client; nil uses one with a 60 s timeout.
	Client *http.Client
	// PayBy makes every token a driver's who pays: "card" (the sandbox
	// gateway's succeeding test card), "wallet" (topped up by that card
	// to WalletTopUp), "account" (postpaid), or "mixed" (the three in
	// turn, by token). Empty leaves the tokens without drivers, billed
	// some other way.
	PayBy string
	// Currency is the wallets' currency, the tariff's; default EUR.
	Currency string
	// WalletTopUp is what each wallet is topped up to, in minor units;
	// default 1,000,000 (10,000.00).
	WalletTopUp int64
	// CostDisplay flags every station for the charger display
	// (cost_display), so that the central system sends the simulated
	// chargers the driver's price and costs, which they count. Off, the
	// stations are left as they are: the messages add CALLs to a load
	// test.
	CostDisplay bool
}

// PayByModes are the values Provision.PayBy takes.
var PayByModes = []string{"", "card", "wallet", "account", "mixed"}

// payByOf is how the i-th token's driver pays under mode.
func payByOf(mode string, i int) string {
	if mode == "mixed" {
		return []string{"card", "wallet", "account"}[i%3]
	}
	return mode
}

// APIURLFor derives the API's URL from the OCPP URL: the same host and
// port, http for ws and https for wss.
func APIURLFor(ocppURL string) (string, error) {
	u, err := url.Parse(ocppURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("cannot derive the API URL from %q", ocppURL)
	}
	switch u.Scheme {
	case "ws":
		return "http://" + u.Host, nil
	case "wss":
		return "https://" + u.Host, nil
	}
	return "", fmt.Errorf("cannot derive the API URL from %q: not ws:// or wss://", ocppURL)
}

// Run makes sure the stations of cfg's fleet (same seed, prefix, DC share
// and password) and its tokens exist. Creating what exists is not an
// error: the API's 409 says so, and existing records are looked up instead,
// so provisioning can be repeated. The station password is always set,
// since the API cannot tell whether the stored one matches.
func (p Provision) Run(ctx context.Context, cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	if p.Concurrency <= 0 {
		p.Concurrency = 8
	}
	if p.Client == nil {
		p.Client = &http.Client{Timeout: 60 * time.Second}
	}
	a := &apiClient{base: strings.TrimSuffix(p.APIURL, "/") + "/api/v1", key: p.APIKey, hc: p.Client}
	if p.SiteID == "" {
		if p.SiteID, err = a.ensureSite(ctx); err != nil {
			return err
		}
	}
	existing, err := a.stations(ctx)
	if err != nil {
		return err
	}
	var done atomic.Int64
	stopProgress := p.progress("stations", &done, cfg.Chargers)
	err = parallel(ctx, p.Concurrency, cfg.Chargers, func(i int) error {
		defer done.Add(1)
		st := StationFor(cfg.Seed, i, cfg.Prefix, cfg.DCShare)
		return a.ensureStation(ctx, p.SiteID, st, existing[st.ChargePointID], cfg.Password, p.CostDisplay)
	})
	stopProgress()
	if err != nil {
		return err
	}
	err = parallel(ctx, p.Concurrency, len(cfg.Tokens), func(i int) error {
		_, err := a.do(ctx, http.MethodPost, "/tokens", map[string]any{"uid": cfg.Tokens[i], "type": "RFID"}, nil, http.StatusConflict)
		return err
	})
	if err != nil || p.PayBy == "" {
		return err
	}
	if !slices.Contains(PayByModes, p.PayBy) {
		return fmt.Errorf("pay-by %q is not card, wallet, account or mixed", p.PayBy)
	}
	if p.Currency == "" {
		p.Currency = "EUR"
	}
	if p.WalletTopUp <= 0 {
		p.WalletTopUp = 1_000_000
	}
	tokens, err := list[apiToken](ctx, a, "/tokens")
	if err != nil {
		return err
	}
	byUID := make(map[string]apiToken, len(tokens))
	for _, t := range tokens {
		byUID[t.UID] = t
	}
	return parallel(ctx, p.Concurrency, len(cfg.Tokens), func(i int) error {
		return p.ensurePayer(ctx, a, byUID[cfg.Tokens[i]], payByOf(p.PayBy, i))
	})
}

// apiToken is the part of the API's Token the simulator reads.
type apiToken struct {
	ID       string `json:"id"`
	UID      string `json:"uid"`
	DriverID string `json:"driver_id"`
}

// sandboxCard is the sandbox gateway's test card that is always held and
// captured.
const sandboxCard = "4242424242424242"

// ensurePayer gives the token a driver (created once) who pays by payBy,
// and tops a wallet up to WalletTopUp, waiting until the payment worker
// has credited it.
func (p Provision) ensurePayer(ctx context.Context, a *apiClient, t apiToken, payBy string) error {
	if t.ID == "" {
		return fmt.Errorf("token %q was not found after it was created", t.UID)
	}
	if t.DriverID == "" {
		var d struct {
			ID string `json:"id"`
		}
		if _, err := a.do(ctx, http.MethodPost, "/drivers", map[string]any{"name": "Simulated driver " + t.UID}, &d); err != nil {
			return err
		}
		if _, err := a.do(ctx, http.MethodPatch, "/tokens/"+t.ID, map[string]any{"driver_id": d.ID}, nil); err != nil {
			return err
		}
		t.DriverID = d.ID
	}
	method := map[string]any{"pay_by": payBy}
	if payBy == "card" {
		method["gateway"], method["card"] = "sandbox", sandboxCard
	}
	if _, err := a.do(ctx, http.MethodPut, "/drivers/"+t.DriverID+"/payment-method", method, nil); err != nil {
		return err
	}
	if payBy != "wallet" {
		return nil
	}
	var w struct {
		Balance int64 `json:"balance"`
	}
	path := "/drivers/" + t.DriverID + "/wallet?currency=" + p.Currency
	if _, err := a.do(ctx, http.MethodGet, path, nil, &w); err != nil {
		return err
	}
	if w.Balance >= p.WalletTopUp {
		return nil
	}
	want := p.WalletTopUp
	if _, err := a.do(ctx, http.MethodPost, "/drivers/"+t.DriverID+"/wallet/top-ups", map[string]any{
		"amount": want - w.Balance, "currency": p.Currency, "gateway": "sandbox", "card": sandboxCard}, nil); err != nil {
		return err
	}
	// The payment worker holds and captures the top-up within seconds.
	deadline := time.Now().Add(60 * time.Second)
	for w.Balance < want {
		if time.Now().After(deadline) {
			return fmt.Errorf("the wallet of driver %s holds %d after its top-up to %d: is the payment worker running?", t.DriverID, w.Balance, want)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if _, err := a.do(ctx, http.MethodGet, path, nil, &w); err != nil {
			return err
		}
	}
	return nil
}

// progress prints how far a step got every two seconds until stopped.
func (p Provision) progress(what string, done *atomic.Int64, total int) (stop func()) {
	if p.Progress == nil {
		return func() {}
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-quit:
				fmt.Fprintf(p.Progress, "provisioning: %d/%d %s\n", done.Load(), total, what)
				return
			case <-t.C:
				fmt.Fprintf(p.Progress, "provisioning: %d/%d %s\n", done.Load(), total, what)
			}
		}
	})
	return func() { close(quit); wg.Wait() }
}

// parallel runs f(0…n-1) with at most k at a time and returns the first
// error, after which no new call starts.
func parallel(ctx context.Context, k, n int, f func(i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range min(k, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// apiClient speaks to the operator API.
type apiClient struct {
	base, key string
	hc        *http.Client
}

// apiStation is the part of the API's Station the simulator reads.
type apiStation struct {
	ID            string `json:"id"`
	ChargePointID string `json:"charge_point_id"`
}

// apiConnector is the part of the API's Connector the simulator reads.
// MaxPowerKW stays the JSON number's text: it is compared, not computed.
type apiConnector struct {
	ID              string      `json:"id"`
	ConnectorNumber int         `json:"connector_number"`
	Standard        string      `json:"standard"`
	PowerType       string      `json:"power_type"`
	MaxPowerKW      json.Number `json:"max_power_kw"`
}

type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// problem is an RFC 9457 problem document.
type problem struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Errors []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"errors"`
}

// do sends a request and decodes the answer into out (if not nil). A status
// in ok besides 2xx is returned without error.
func (a *apiClient) do(ctx context.Context, method, path string, body, out any, ok ...int) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 == 2 {
		if out != nil && len(data) > 0 {
			if err := json.Unmarshal(data, out); err != nil {
				return resp.StatusCode, fmt.Errorf("%s %s: %v", method, path, err)
			}
		}
		return resp.StatusCode, nil
	}
	for _, s := range ok {
		if resp.StatusCode == s {
			return resp.StatusCode, nil
		}
	}
	var pr problem
	msg := strings.TrimSpace(string(data))
	if json.Unmarshal(data, &pr) == nil && pr.Title != "" {
		msg = pr.Title
		if pr.Detail != "" {
			msg += ": " + pr.Detail
		}
		for _, e := range pr.Errors {
			msg += fmt.Sprintf("; %s: %s", e.Location, e.Message)
		}
	}
	return resp.StatusCode, fmt.Errorf("%s %s: HTTP %d: %s", method, a.base+path, resp.StatusCode, msg)
}

// list fetches every page of a list.
func list[T any](ctx context.Context, a *apiClient, path string) ([]T, error) {
	var all []T
	cursor := ""
	for {
		q := url.Values{"limit": {"500"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var p page[T]
		if _, err := a.do(ctx, http.MethodGet, path+"?"+q.Encode(), nil, &p); err != nil {
			return nil, err
		}
		all = append(all, p.Items...)
		if p.NextCursor == "" || len(p.Items) == 0 {
			return all, nil
		}
		cursor = p.NextCursor
	}
}

// ensureSite finds the site named Simulator, or creates it.
func (a *apiClient) ensureSite(ctx context.Context) (string, error) {
	type site struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	sites, err := list[site](ctx, a, "/sites")
	if err != nil {
		return "", err
	}
	for _, s := range sites {
		if s.Name == "Simulator" {
			return s.ID, nil
		}
	}
	var s site
	_, err = a.do(ctx, http.MethodPost, "/sites", map[string]any{"name": "Simulator", "country": "NL",
		"time_zone": "Europe/Amsterdam", "city": "Amsterdam"}, &s)
	return s.ID, err
}

// stations returns the tenant's stations by charge point id.
func (a *apiClient) stations(ctx context.Context) (map[string]string, error) {
	all, err := list[apiStation](ctx, a, "/stations")
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(all))
	for _, s := range all {
		m[s.ChargePointID] = s.ID
	}
	return m, nil
}

// ensureStation creates the station (if id is empty) and its connector,
// corrects a connector whose power differs from the simulation's, sets the
// password, and flags the station for the charger display when display is
// set.
func (a *apiClient) ensureStation(ctx context.Context, siteID string, st Station, id, password string, display bool) error {
	fresh := id == ""
	if fresh {
		var out apiStation
		body := map[string]any{"site_id": siteID, "charge_point_id": st.ChargePointID, "vendor": "evbill-sim", "model": st.Model}
		if display {
			body["cost_display"] = true
		}
		status, err := a.do(ctx, http.MethodPost, "/stations", body, &out, http.StatusConflict)
		if err != nil {
			return err
		}
		if status == http.StatusConflict {
			// Created meanwhile by someone else: look it up.
			m, err := a.stations(ctx)
			if err != nil {
				return err
			}
			if id = m[st.ChargePointID]; id == "" {
				return fmt.Errorf("station %s: the API says it exists but does not list it", st.ChargePointID)
			}
			fresh = false
		} else {
			id = out.ID
		}
	}
	if !fresh && display {
		if _, err := a.do(ctx, http.MethodPatch, "/stations/"+url.PathEscape(id), map[string]any{"cost_display": true}, nil); err != nil {
			return err
		}
	}
	want := map[string]any{"connector_number": 1, "standard": st.Standard(), "power_type": st.PowerType(),
		"max_power_kw": json.Number(st.MaxPowerKW())}
	var have *apiConnector
	if !fresh {
		conns, err := list[apiConnector](ctx, a, "/stations/"+url.PathEscape(id)+"/connectors")
		if err != nil {
			return err
		}
		for i := range conns {
			if conns[i].ConnectorNumber == 1 {
				have = &conns[i]
			}
		}
	}
	switch {
	case have == nil:
		if _, err := a.do(ctx, http.MethodPost, "/stations/"+url.PathEscape(id)+"/connectors", want, nil, http.StatusConflict); err != nil {
			return err
		}
	case !sameDecimal(string(have.MaxPowerKW), st.MaxPowerKW()) || have.PowerType != st.PowerType() || have.Standard != st.Standard():
		// Another seed or DC share made this station: the central system
		// must bound its energy by the power simulated now.
		delete(want, "connector_number")
		if _, err := a.do(ctx, http.MethodPatch, "/connectors/"+url.PathEscape(have.ID), want, nil); err != nil {
			return err
		}
	}
	_, err := a.do(ctx, http.MethodPut, "/stations/"+url.PathEscape(id)+"/password", map[string]string{"password": password}, nil)
	return err
}

// sameDecimal compares two decimal numbers' texts, ignoring trailing
// fractional zeros (22 and 22.0 are equal).
func sameDecimal(a, b string) bool {
	trim := func(s string) string {
		if strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		return s
	}
	return trim(a) == trim(b)
}
