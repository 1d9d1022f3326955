package api

import (
	"context"
	"github.com/govalues/decimal"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/money"
)

// Connector is one plug of a station; ConnectorNumber is its OCPP
// connectorId. MaxPowerKW is exact: it is kept as the decimal sent.
type Connector struct {
	ID              string    `json:"id"`
	StationID       string    `json:"station_id"`
	ConnectorNumber int       `json:"connector_number" doc:"The OCPP connectorId, 1 and up, unique in the station."`
	Standard        string    `json:"standard" doc:"OCPI ConnectorType."`
	PowerType       string    `json:"power_type" doc:"OCPI PowerType."`
	MaxPowerKW      Decimal   `json:"max_power_kw" doc:"Maximum power in kW, exact."`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// connectorStandards is OCPI 2.2.1's ConnectorType enum.
const connectorStandards = "CHADEMO,CHAOJI,DOMESTIC_A,DOMESTIC_B,DOMESTIC_C,DOMESTIC_D,DOMESTIC_E,DOMESTIC_F,DOMESTIC_G,DOMESTIC_H," +
	"DOMESTIC_I,DOMESTIC_J,DOMESTIC_K,DOMESTIC_L,DOMESTIC_M,DOMESTIC_N,DOMESTIC_O,GBT_AC,GBT_DC," +
	"IEC_60309_2_single_16,IEC_60309_2_three_16,IEC_60309_2_three_32,IEC_60309_2_three_64," +
	"IEC_62196_T1,IEC_62196_T1_COMBO,IEC_62196_T2,IEC_62196_T2_COMBO,IEC_62196_T3A,IEC_62196_T3C," +
	"NEMA_5_20,NEMA_6_30,NEMA_6_50,NEMA_10_30,NEMA_10_50,NEMA_14_30,NEMA_14_50," +
	"PANTOGRAPH_BOTTOM_UP,PANTOGRAPH_TOP_DOWN,TESLA_R,TESLA_S"

// The struct tags below must repeat connectorStandards: Go tags are
// literals. TestConnectorStandardsTag keeps them equal.
type connectorCreate struct {
	ConnectorNumber int     `json:"connector_number" minimum:"1" maximum:"1000"`
	Standard        string  `json:"standard" enum:"CHADEMO,CHAOJI,DOMESTIC_A,DOMESTIC_B,DOMESTIC_C,DOMESTIC_D,DOMESTIC_E,DOMESTIC_F,DOMESTIC_G,DOMESTIC_H,DOMESTIC_I,DOMESTIC_J,DOMESTIC_K,DOMESTIC_L,DOMESTIC_M,DOMESTIC_N,DOMESTIC_O,GBT_AC,GBT_DC,IEC_60309_2_single_16,IEC_60309_2_three_16,IEC_60309_2_three_32,IEC_60309_2_three_64,IEC_62196_T1,IEC_62196_T1_COMBO,IEC_62196_T2,IEC_62196_T2_COMBO,IEC_62196_T3A,IEC_62196_T3C,NEMA_5_20,NEMA_6_30,NEMA_6_50,NEMA_10_30,NEMA_10_50,NEMA_14_30,NEMA_14_50,PANTOGRAPH_BOTTOM_UP,PANTOGRAPH_TOP_DOWN,TESLA_R,TESLA_S"`
	PowerType       string  `json:"power_type" enum:"AC_1_PHASE,AC_2_PHASE,AC_3_PHASE,DC"`
	MaxPowerKW      Decimal `json:"max_power_kw" exclusiveMinimum:"0" maximum:"10000" doc:"Maximum power in kW, a JSON number kept exactly."`
}

type connectorPatch struct {
	ConnectorNumber *int     `json:"connector_number,omitempty" minimum:"1" maximum:"1000"`
	Standard        *string  `json:"standard,omitempty" enum:"CHADEMO,CHAOJI,DOMESTIC_A,DOMESTIC_B,DOMESTIC_C,DOMESTIC_D,DOMESTIC_E,DOMESTIC_F,DOMESTIC_G,DOMESTIC_H,DOMESTIC_I,DOMESTIC_J,DOMESTIC_K,DOMESTIC_L,DOMESTIC_M,DOMESTIC_N,DOMESTIC_O,GBT_AC,GBT_DC,IEC_60309_2_single_16,IEC_60309_2_three_16,IEC_60309_2_three_32,IEC_60309_2_three_64,IEC_62196_T1,IEC_62196_T1_COMBO,IEC_62196_T2,IEC_62196_T2_COMBO,IEC_62196_T3A,IEC_62196_T3C,NEMA_5_20,NEMA_6_30,NEMA_6_50,NEMA_10_30,NEMA_10_50,NEMA_14_30,NEMA_14_50,PANTOGRAPH_BOTTOM_UP,PANTOGRAPH_TOP_DOWN,TESLA_R,TESLA_S"`
	PowerType       *string  `json:"power_type,omitempty" enum:"AC_1_PHASE,AC_2_PHASE,AC_3_PHASE,DC"`
	MaxPowerKW      *Decimal `json:"max_power_kw,omitempty" exclusiveMinimum:"0" maximum:"10000"`
}

func connectorOut(c evbill.Connector) Connector {
	// The store keeps what checkPower accepted, so this parses; a value
	// written by something else that does not is shown as 0 rather than
	// failing the whole list.
	p, _ := money.ParseDecimal(c.MaxPowerKW)
	return Connector{ID: c.ID, StationID: c.StationID, ConnectorNumber: c.ConnectorNumber, Standard: c.Standard,
		PowerType: c.PowerType, MaxPowerKW: Decimal{Decimal: p}, CreatedAt: utc(c.CreatedAt), UpdatedAt: utc(c.UpdatedAt)}
}

// checkPower repeats the schema's bounds on the exact value: the schema is
// checked on a float64 reading of the number, which rounds.
func checkPower(fe *fieldErrors, d Decimal) {
	switch {
	case !d.IsPos():
		fe.add("body.max_power_kw", "expected number > 0")
	case d.Cmp(maxPowerKW) > 0:
		fe.add("body.max_power_kw", "expected number <= 10000")
	}
}

// maxPowerKW is the largest connector power accepted, 10 MW: above any
// charger built.
var maxPowerKW = decimal.MustNew(10000, 0)

func (s *server) registerConnectors() {
	register(s, huma.Operation{OperationID: "create-connector", Method: http.MethodPost, Path: Prefix + "/stations/{id}/connectors",
		Summary: "Add a connector to a station", DefaultStatus: http.StatusCreated, Tags: []string{"Connectors"},
		Errors: []int{http.StatusNotFound, http.StatusConflict}}, auth.Write,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64" doc:"The record's ID."`
			Body connectorCreate
		}) (*out[Connector], error) {
			b, ten := in.Body, tenantOf(ctx)
			if _, err := s.store.Station(ctx, ten, in.ID); err != nil {
				return nil, err
			}
			var fe fieldErrors
			checkPower(&fe, b.MaxPowerKW)
			if err := fe.err(); err != nil {
				return nil, err
			}
			rec := evbill.Connector{TenantID: ten, StationID: in.ID, ConnectorNumber: b.ConnectorNumber, Standard: b.Standard,
				PowerType: b.PowerType, MaxPowerKW: b.MaxPowerKW.String()}
			if err := s.store.CreateConnector(ctx, &rec); err != nil {
				return nil, err
			}
			s.resolver.Invalidate(ten)
			return &out[Connector]{connectorOut(rec)}, nil
		})

	register(s, huma.Operation{OperationID: "list-connectors", Method: http.MethodGet, Path: Prefix + "/stations/{id}/connectors",
		Summary: "List a station's connectors", Tags: []string{"Connectors"}, Errors: []int{http.StatusNotFound}}, auth.Read,
		func(ctx context.Context, in *struct {
			ID     string `path:"id" maxLength:"64" doc:"The station's ID."`
			Cursor string `query:"cursor" maxLength:"200" doc:"The next_cursor of the previous page; empty for the first page."`
			Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"50" doc:"The largest number of items to return."`
		}) (*out[ListBody[Connector]], error) {
			ten := tenantOf(ctx)
			// The store lists nothing for a missing station; the API says
			// 404, as for every other path naming a missing record.
			if _, err := s.store.Station(ctx, ten, in.ID); err != nil {
				return nil, err
			}
			return page(listParams{Cursor: in.Cursor, Limit: in.Limit}, func(p evbill.Page) ([]evbill.Connector, error) { return s.store.ListConnectors(ctx, ten, in.ID, p) },
				func(r evbill.Connector) string { return r.ID }, connectorOut)
		})

	register(s, huma.Operation{OperationID: "get-connector", Method: http.MethodGet, Path: Prefix + "/connectors/{id}", Summary: "Get a connector",
		Tags: []string{"Connectors"}, Errors: []int{http.StatusNotFound}}, auth.Read,
		func(ctx context.Context, in *idParam) (*out[Connector], error) {
			defer s.records.lock(tenantOf(ctx) + "\x00" + in.ID)()
			rec, err := s.store.Connector(ctx, tenantOf(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &out[Connector]{connectorOut(rec)}, nil
		})

	register(s, huma.Operation{OperationID: "update-connector", Method: http.MethodPatch, Path: Prefix + "/connectors/{id}", Summary: "Change a connector",
		Description: "Changes the fields present in the body; absent fields keep their value.",
		Tags:        []string{"Connectors"}, Errors: []int{http.StatusNotFound, http.StatusConflict}}, auth.Write,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64" doc:"The record's ID."`
			Body connectorPatch
		}) (*out[Connector], error) {
			b, ten := in.Body, tenantOf(ctx)
			var fe fieldErrors
			if b.MaxPowerKW != nil {
				checkPower(&fe, *b.MaxPowerKW)
			}
			if err := fe.err(); err != nil {
				return nil, err
			}
			rec, err := s.store.Connector(ctx, ten, in.ID)
			if err != nil {
				return nil, err
			}
			set(&rec.ConnectorNumber, b.ConnectorNumber)
			set(&rec.Standard, b.Standard)
			set(&rec.PowerType, b.PowerType)
			if b.MaxPowerKW != nil {
				rec.MaxPowerKW = b.MaxPowerKW.String()
			}
			if err := s.store.UpdateConnector(ctx, &rec); err != nil {
				return nil, err
			}
			s.resolver.Invalidate(ten)
			return &out[Connector]{connectorOut(rec)}, nil
		})
}
