package ocpp

import (
	"errors"
	"fmt"
	"time"

	"github.com/govalues/decimal"
)

// The OCPP 1.6 messages this package types: the Core profile's messages
// from the charge point, and the commands the central system sends. Field
// names and JSON names follow the specification; optional fields are
// pointers where the zero value means something (connector 0 is the whole
// charge point) and omitempty strings otherwise. Timestamps are time.Time,
// read as RFC 3339 (offsets and fractional seconds allowed); write them in
// UTC. Meter readings stay strings, as OCPP sends them, and numbers with a
// fraction are decimal.Decimal: never float64, so no reading or limit is
// ever rounded on its way through.

// Actions of the messages typed here.
const (
	ActionAuthorize              = "Authorize"
	ActionBootNotification       = "BootNotification"
	ActionDataTransfer           = "DataTransfer"
	ActionHeartbeat              = "Heartbeat"
	ActionMeterValues            = "MeterValues"
	ActionStartTransaction       = "StartTransaction"
	ActionStatusNotification     = "StatusNotification"
	ActionStopTransaction        = "StopTransaction"
	ActionRemoteStartTransaction = "RemoteStartTransaction"
	ActionRemoteStopTransaction  = "RemoteStopTransaction"
	ActionChangeConfiguration    = "ChangeConfiguration"
	ActionGetConfiguration       = "GetConfiguration"
	ActionTriggerMessage         = "TriggerMessage"
	ActionReset                  = "Reset"
	ActionUnlockConnector        = "UnlockConnector"
)

// AuthorizationStatus says whether an idTag may charge.
type AuthorizationStatus string

// The AuthorizationStatus values.
const (
	AuthorizationAccepted     AuthorizationStatus = "Accepted"
	AuthorizationBlocked      AuthorizationStatus = "Blocked"
	AuthorizationExpired      AuthorizationStatus = "Expired"
	AuthorizationInvalid      AuthorizationStatus = "Invalid"
	AuthorizationConcurrentTx AuthorizationStatus = "ConcurrentTx"
)

// IdTagInfo is the central system's verdict on an idTag. ParentIdTag
// groups tags (a fleet's cards share one parent).
type IdTagInfo struct {
	ExpiryDate  *time.Time          `json:"expiryDate,omitempty"`
	ParentIdTag string              `json:"parentIdTag,omitempty"`
	Status      AuthorizationStatus `json:"status"`
}

// AuthorizeReq asks whether IdTag may start or stop charging.
type AuthorizeReq struct {
	IdTag string `json:"idTag"`
}

// AuthorizeConf answers an AuthorizeReq.
type AuthorizeConf struct {
	IdTagInfo IdTagInfo `json:"idTagInfo"`
}

// RegistrationStatus answers a BootNotification.
type RegistrationStatus string

// The RegistrationStatus values.
const (
	RegistrationAccepted RegistrationStatus = "Accepted"
	RegistrationPending  RegistrationStatus = "Pending"
	RegistrationRejected RegistrationStatus = "Rejected"
)

// BootNotificationReq is sent by a charge point when it starts, describing
// itself.
type BootNotificationReq struct {
	ChargePointVendor       string `json:"chargePointVendor"`
	ChargePointModel        string `json:"chargePointModel"`
	ChargePointSerialNumber string `json:"chargePointSerialNumber,omitempty"`
	ChargeBoxSerialNumber   string `json:"chargeBoxSerialNumber,omitempty"`
	FirmwareVersion         string `json:"firmwareVersion,omitempty"`
	Iccid                   string `json:"iccid,omitempty"`
	Imsi                    string `json:"imsi,omitempty"`
	MeterType               string `json:"meterType,omitempty"`
	MeterSerialNumber       string `json:"meterSerialNumber,omitempty"`
}

// BootNotificationConf answers a BootNotificationReq: whether the charge
// point is accepted, the central system's clock, and the heartbeat
// interval in seconds (or, when not accepted, the retry interval).
type BootNotificationConf struct {
	Status      RegistrationStatus `json:"status"`
	CurrentTime time.Time          `json:"currentTime"`
	Interval    int                `json:"interval"`
}

// DataTransferStatus answers a DataTransfer.
type DataTransferStatus string

// The DataTransferStatus values.
const (
	DataTransferAccepted         DataTransferStatus = "Accepted"
	DataTransferRejected         DataTransferStatus = "Rejected"
	DataTransferUnknownMessageId DataTransferStatus = "UnknownMessageId"
	DataTransferUnknownVendorId  DataTransferStatus = "UnknownVendorId"
)

// DataTransferReq carries vendor-specific data, in either direction.
type DataTransferReq struct {
	VendorId  string `json:"vendorId"`
	MessageId string `json:"messageId,omitempty"`
	Data      string `json:"data,omitempty"`
}

// DataTransferConf answers a DataTransferReq.
type DataTransferConf struct {
	Status DataTransferStatus `json:"status"`
	Data   string             `json:"data,omitempty"`
}

// HeartbeatReq tells the central system that the charge point is alive.
type HeartbeatReq struct{}

// HeartbeatConf answers a HeartbeatReq with the central system's clock,
// which chargers use to set their own.
type HeartbeatConf struct {
	CurrentTime time.Time `json:"currentTime"`
}

// ReadingContext says why a meter value was sampled.
type ReadingContext string

// The ReadingContext values.
const (
	ContextInterruptionBegin ReadingContext = "Interruption.Begin"
	ContextInterruptionEnd   ReadingContext = "Interruption.End"
	ContextSampleClock       ReadingContext = "Sample.Clock"
	ContextSamplePeriodic    ReadingContext = "Sample.Periodic"
	ContextTransactionBegin  ReadingContext = "Transaction.Begin"
	ContextTransactionEnd    ReadingContext = "Transaction.End"
	ContextTrigger           ReadingContext = "Trigger"
	ContextOther             ReadingContext = "Other"
)

// ValueFormat says whether a sampled value is a plain number or signed
// data (such as OCMF), which must be kept byte for byte.
type ValueFormat string

// The ValueFormat values.
const (
	FormatRaw        ValueFormat = "Raw"
	FormatSignedData ValueFormat = "SignedData"
)

// Measurand says what a sampled value measures.
type Measurand string

// The Measurand values.
const (
	MeasurandEnergyActiveExportRegister   Measurand = "Energy.Active.Export.Register"
	MeasurandEnergyActiveImportRegister   Measurand = "Energy.Active.Import.Register"
	MeasurandEnergyReactiveExportRegister Measurand = "Energy.Reactive.Export.Register"
	MeasurandEnergyReactiveImportRegister Measurand = "Energy.Reactive.Import.Register"
	MeasurandEnergyActiveExportInterval   Measurand = "Energy.Active.Export.Interval"
	MeasurandEnergyActiveImportInterval   Measurand = "Energy.Active.Import.Interval"
	MeasurandEnergyReactiveExportInterval Measurand = "Energy.Reactive.Export.Interval"
	MeasurandEnergyReactiveImportInterval Measurand = "Energy.Reactive.Import.Interval"
	MeasurandPowerActiveExport            Measurand = "Power.Active.Export"
	MeasurandPowerActiveImport            Measurand = "Power.Active.Import"
	MeasurandPowerOffered                 Measurand = "Power.Offered"
	MeasurandPowerReactiveExport          Measurand = "Power.Reactive.Export"
	MeasurandPowerReactiveImport          Measurand = "Power.Reactive.Import"
	MeasurandPowerFactor                  Measurand = "Power.Factor"
	MeasurandCurrentImport                Measurand = "Current.Import"
	MeasurandCurrentExport                Measurand = "Current.Export"
	MeasurandCurrentOffered               Measurand = "Current.Offered"
	MeasurandVoltage                      Measurand = "Voltage"
	MeasurandFrequency                    Measurand = "Frequency"
	MeasurandTemperature                  Measurand = "Temperature"
	MeasurandSoC                          Measurand = "SoC"
	MeasurandRPM                          Measurand = "RPM"
)

// Phase says on which phase (or between which phases) a value was
// measured.
type Phase string

// The Phase values.
const (
	PhaseL1   Phase = "L1"
	PhaseL2   Phase = "L2"
	PhaseL3   Phase = "L3"
	PhaseN    Phase = "N"
	PhaseL1N  Phase = "L1-N"
	PhaseL2N  Phase = "L2-N"
	PhaseL3N  Phase = "L3-N"
	PhaseL1L2 Phase = "L1-L2"
	PhaseL2L3 Phase = "L2-L3"
	PhaseL3L1 Phase = "L3-L1"
)

// Location says where a value was measured.
type Location string

// The Location values.
const (
	LocationCable  Location = "Cable"
	LocationEV     Location = "EV"
	LocationInlet  Location = "Inlet"
	LocationOutlet Location = "Outlet"
	LocationBody   Location = "Body"
)

// UnitOfMeasure is the unit of a sampled value. OCPP 1.6 lists both the
// misspelt "Celcius" and "Celsius"; both are accepted.
type UnitOfMeasure string

// The UnitOfMeasure values.
const (
	UnitWh         UnitOfMeasure = "Wh"
	UnitKWh        UnitOfMeasure = "kWh"
	UnitVarh       UnitOfMeasure = "varh"
	UnitKvarh      UnitOfMeasure = "kvarh"
	UnitW          UnitOfMeasure = "W"
	UnitKW         UnitOfMeasure = "kW"
	UnitVA         UnitOfMeasure = "VA"
	UnitKVA        UnitOfMeasure = "kVA"
	UnitVar        UnitOfMeasure = "var"
	UnitKvar       UnitOfMeasure = "kvar"
	UnitA          UnitOfMeasure = "A"
	UnitV          UnitOfMeasure = "V"
	UnitK          UnitOfMeasure = "K"
	UnitCelcius    UnitOfMeasure = "Celcius"
	UnitCelsius    UnitOfMeasure = "Celsius"
	UnitFahrenheit UnitOfMeasure = "Fahrenheit"
	UnitPercent    UnitOfMeasure = "Percent"
)

// SampledValue is one reading. Value is the string the charger sent, kept
// as it is: OCPP 1.6 types it as a string, chargers send "1234.50", and
// signed data is not a number at all. Empty optional fields take the
// defaults the specification gives (Sample.Periodic, Raw,
// Energy.Active.Import.Register, Outlet, Wh); see the methods.
type SampledValue struct {
	Value     string         `json:"value"`
	Context   ReadingContext `json:"context,omitempty"`
	Format    ValueFormat    `json:"format,omitempty"`
	Measurand Measurand      `json:"measurand,omitempty"`
	Phase     Phase          `json:"phase,omitempty"`
	Location  Location       `json:"location,omitempty"`
	Unit      UnitOfMeasure  `json:"unit,omitempty"`
}

// ErrSignedValue is returned by SampledValue.Decimal for signed data,
// whose value is an encoded document rather than a number.
var ErrSignedValue = errors.New("ocpp: sampled value is signed data, not a number")

// Decimal returns the value as an exact decimal.
func (v SampledValue) Decimal() (decimal.Decimal, error) {
	if v.Format == FormatSignedData {
		return decimal.Decimal{}, ErrSignedValue
	}
	return decimal.Parse(v.Value)
}

// MeasurandOrDefault returns Measurand, or Energy.Active.Import.Register
// when it is empty, as OCPP 1.6 specifies.
func (v SampledValue) MeasurandOrDefault() Measurand {
	if v.Measurand == "" {
		return MeasurandEnergyActiveImportRegister
	}
	return v.Measurand
}

// UnitOrDefault returns Unit, or Wh when it is empty, as OCPP 1.6
// specifies.
func (v SampledValue) UnitOrDefault() UnitOfMeasure {
	if v.Unit == "" {
		return UnitWh
	}
	return v.Unit
}

// ContextOrDefault returns Context, or Sample.Periodic when it is empty,
// as OCPP 1.6 specifies.
func (v SampledValue) ContextOrDefault() ReadingContext {
	if v.Context == "" {
		return ContextSamplePeriodic
	}
	return v.Context
}

// MeterValue is the set of readings taken at one instant.
type MeterValue struct {
	Timestamp    time.Time      `json:"timestamp"`
	SampledValue []SampledValue `json:"sampledValue"`
}

// MeterValuesReq reports readings of a connector (0: the main meter),
// during a transaction when TransactionId is set.
type MeterValuesReq struct {
	ConnectorId   int          `json:"connectorId"`
	TransactionId *int         `json:"transactionId,omitempty"`
	MeterValue    []MeterValue `json:"meterValue"`
}

// MeterValuesConf answers a MeterValuesReq; it carries nothing.
type MeterValuesConf struct{}

// StartTransactionReq reports that charging started on a connector;
// MeterStart is the energy register in Wh.
type StartTransactionReq struct {
	ConnectorId   int       `json:"connectorId"`
	IdTag         string    `json:"idTag"`
	MeterStart    int       `json:"meterStart"`
	ReservationId *int      `json:"reservationId,omitempty"`
	Timestamp     time.Time `json:"timestamp"`
}

// StartTransactionConf answers a StartTransactionReq with the transaction
// id the charger reports the transaction's later messages under.
type StartTransactionConf struct {
	IdTagInfo     IdTagInfo `json:"idTagInfo"`
	TransactionId int       `json:"transactionId"`
}

// ChargePointErrorCode is the error a StatusNotification reports.
type ChargePointErrorCode string

// The ChargePointErrorCode values.
const (
	ErrorConnectorLockFailure ChargePointErrorCode = "ConnectorLockFailure"
	ErrorEVCommunicationError ChargePointErrorCode = "EVCommunicationError"
	ErrorGroundFailure        ChargePointErrorCode = "GroundFailure"
	ErrorHighTemperature      ChargePointErrorCode = "HighTemperature"
	ErrorInternalError        ChargePointErrorCode = "InternalError"
	ErrorLocalListConflict    ChargePointErrorCode = "LocalListConflict"
	ErrorNoError              ChargePointErrorCode = "NoError"
	ErrorOtherError           ChargePointErrorCode = "OtherError"
	ErrorOverCurrentFailure   ChargePointErrorCode = "OverCurrentFailure"
	ErrorPowerMeterFailure    ChargePointErrorCode = "PowerMeterFailure"
	ErrorPowerSwitchFailure   ChargePointErrorCode = "PowerSwitchFailure"
	ErrorReaderFailure        ChargePointErrorCode = "ReaderFailure"
	ErrorResetFailure         ChargePointErrorCode = "ResetFailure"
	ErrorUnderVoltage         ChargePointErrorCode = "UnderVoltage"
	ErrorOverVoltage          ChargePointErrorCode = "OverVoltage"
	ErrorWeakSignal           ChargePointErrorCode = "WeakSignal"
)

// ChargePointStatus is the state of a connector (or, for connector 0, of
// the charge point).
type ChargePointStatus string

// The ChargePointStatus values.
const (
	StatusAvailable     ChargePointStatus = "Available"
	StatusPreparing     ChargePointStatus = "Preparing"
	StatusCharging      ChargePointStatus = "Charging"
	StatusSuspendedEVSE ChargePointStatus = "SuspendedEVSE"
	StatusSuspendedEV   ChargePointStatus = "SuspendedEV"
	StatusFinishing     ChargePointStatus = "Finishing"
	StatusReserved      ChargePointStatus = "Reserved"
	StatusUnavailable   ChargePointStatus = "Unavailable"
	StatusFaulted       ChargePointStatus = "Faulted"
)

// StatusNotificationReq reports a connector's status or error. Timestamp
// is optional: nil means the charger did not say when.
type StatusNotificationReq struct {
	ConnectorId     int                  `json:"connectorId"`
	ErrorCode       ChargePointErrorCode `json:"errorCode"`
	Info            string               `json:"info,omitempty"`
	Status          ChargePointStatus    `json:"status"`
	Timestamp       *time.Time           `json:"timestamp,omitempty"`
	VendorId        string               `json:"vendorId,omitempty"`
	VendorErrorCode string               `json:"vendorErrorCode,omitempty"`
}

// StatusNotificationConf answers a StatusNotificationReq; it carries
// nothing.
type StatusNotificationConf struct{}

// Reason says why a transaction stopped.
type Reason string

// The Reason values; an absent reason means Local.
const (
	ReasonEmergencyStop  Reason = "EmergencyStop"
	ReasonEVDisconnected Reason = "EVDisconnected"
	ReasonHardReset      Reason = "HardReset"
	ReasonLocal          Reason = "Local"
	ReasonOther          Reason = "Other"
	ReasonPowerLoss      Reason = "PowerLoss"
	ReasonReboot         Reason = "Reboot"
	ReasonRemote         Reason = "Remote"
	ReasonSoftReset      Reason = "SoftReset"
	ReasonUnlockCommand  Reason = "UnlockCommand"
	ReasonDeAuthorized   Reason = "DeAuthorized"
)

// StopTransactionReq reports that a transaction stopped; MeterStop is the
// energy register in Wh, and TransactionData may carry the transaction's
// readings the charger kept.
type StopTransactionReq struct {
	IdTag           string       `json:"idTag,omitempty"`
	MeterStop       int          `json:"meterStop"`
	Timestamp       time.Time    `json:"timestamp"`
	TransactionId   int          `json:"transactionId"`
	Reason          Reason       `json:"reason,omitempty"`
	TransactionData []MeterValue `json:"transactionData,omitempty"`
}

// StopTransactionConf answers a StopTransactionReq; IdTagInfo is set when
// the request carried an idTag.
type StopTransactionConf struct {
	IdTagInfo *IdTagInfo `json:"idTagInfo,omitempty"`
}

// ChargingProfilePurpose says what a charging profile limits.
type ChargingProfilePurpose string

// The ChargingProfilePurpose values.
const (
	PurposeChargePointMaxProfile ChargingProfilePurpose = "ChargePointMaxProfile"
	PurposeTxDefaultProfile      ChargingProfilePurpose = "TxDefaultProfile"
	PurposeTxProfile             ChargingProfilePurpose = "TxProfile"
)

// ChargingProfileKind says how a schedule's times are read.
type ChargingProfileKind string

// The ChargingProfileKind values.
const (
	KindAbsolute  ChargingProfileKind = "Absolute"
	KindRecurring ChargingProfileKind = "Recurring"
	KindRelative  ChargingProfileKind = "Relative"
)

// RecurrencyKind says how often a recurring schedule repeats.
type RecurrencyKind string

// The RecurrencyKind values.
const (
	RecurrencyDaily  RecurrencyKind = "Daily"
	RecurrencyWeekly RecurrencyKind = "Weekly"
)

// ChargingRateUnit is the unit of a schedule's limits: amperes or watts.
type ChargingRateUnit string

// The ChargingRateUnit values.
const (
	RateUnitA ChargingRateUnit = "A"
	RateUnitW ChargingRateUnit = "W"
)

// Decimal is an exact decimal written as a JSON number. The OCPP schemas
// type limits as numbers, and decimal.Decimal writes itself as a JSON
// string; this wrapper writes the digits bare, and reads numbers without
// passing through float64.
type Decimal struct{ decimal.Decimal }

// MarshalJSON writes the decimal as a JSON number.
func (d Decimal) MarshalJSON() ([]byte, error) { return []byte(d.Decimal.String()), nil }

// UnmarshalJSON reads a JSON number (a string is refused, as the schema
// refuses it).
func (d *Decimal) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return fmt.Errorf("ocpp: decimal: got a string, want a number")
	}
	v, err := decimal.Parse(string(b))
	if err != nil {
		return fmt.Errorf("ocpp: decimal: %w", err)
	}
	d.Decimal = v
	return nil
}

// ChargingSchedulePeriod is one step of a schedule, from StartPeriod
// seconds after the schedule's start. Limit has at most one decimal
// (OCPP: multipleOf 0.1).
type ChargingSchedulePeriod struct {
	StartPeriod  int     `json:"startPeriod"`
	Limit        Decimal `json:"limit"`
	NumberPhases *int    `json:"numberPhases,omitempty"`
}

// ChargingSchedule is a list of limits over time.
type ChargingSchedule struct {
	Duration               *int                     `json:"duration,omitempty"`
	StartSchedule          *time.Time               `json:"startSchedule,omitempty"`
	ChargingRateUnit       ChargingRateUnit         `json:"chargingRateUnit"`
	ChargingSchedulePeriod []ChargingSchedulePeriod `json:"chargingSchedulePeriod"`
	MinChargingRate        *Decimal                 `json:"minChargingRate,omitempty"`
}

// ChargingProfile limits the power a charger may draw.
type ChargingProfile struct {
	ChargingProfileId      int                    `json:"chargingProfileId"`
	TransactionId          *int                   `json:"transactionId,omitempty"`
	StackLevel             int                    `json:"stackLevel"`
	ChargingProfilePurpose ChargingProfilePurpose `json:"chargingProfilePurpose"`
	ChargingProfileKind    ChargingProfileKind    `json:"chargingProfileKind"`
	RecurrencyKind         RecurrencyKind         `json:"recurrencyKind,omitempty"`
	ValidFrom              *time.Time             `json:"validFrom,omitempty"`
	ValidTo                *time.Time             `json:"validTo,omitempty"`
	ChargingSchedule       ChargingSchedule       `json:"chargingSchedule"`
}

// RemoteStartStopStatus answers a RemoteStartTransaction or
// RemoteStopTransaction.
type RemoteStartStopStatus string

// The RemoteStartStopStatus values.
const (
	RemoteAccepted RemoteStartStopStatus = "Accepted"
	RemoteRejected RemoteStartStopStatus = "Rejected"
)

// RemoteStartTransactionReq asks a charger to start a transaction for
// IdTag, on ConnectorId if set.
type RemoteStartTransactionReq struct {
	ConnectorId     *int             `json:"connectorId,omitempty"`
	IdTag           string           `json:"idTag"`
	ChargingProfile *ChargingProfile `json:"chargingProfile,omitempty"`
}

// RemoteStartTransactionConf answers a RemoteStartTransactionReq.
type RemoteStartTransactionConf struct {
	Status RemoteStartStopStatus `json:"status"`
}

// RemoteStopTransactionReq asks a charger to stop a transaction.
type RemoteStopTransactionReq struct {
	TransactionId int `json:"transactionId"`
}

// RemoteStopTransactionConf answers a RemoteStopTransactionReq.
type RemoteStopTransactionConf struct {
	Status RemoteStartStopStatus `json:"status"`
}

// ConfigurationStatus answers a ChangeConfiguration.
type ConfigurationStatus string

// The ConfigurationStatus values.
const (
	ConfigurationAccepted       ConfigurationStatus = "Accepted"
	ConfigurationRejected       ConfigurationStatus = "Rejected"
	ConfigurationRebootRequired ConfigurationStatus = "RebootRequired"
	ConfigurationNotSupported   ConfigurationStatus = "NotSupported"
)

// ChangeConfigurationReq sets one configuration key of a charger, such as
// MeterValueSampleInterval.
type ChangeConfigurationReq struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ChangeConfigurationConf answers a ChangeConfigurationReq.
type ChangeConfigurationConf struct {
	Status ConfigurationStatus `json:"status"`
}

// GetConfigurationReq asks for the given keys, or all when Key is empty.
type GetConfigurationReq struct {
	Key []string `json:"key,omitempty"`
}

// KeyValue is one configuration key of a charger; Value is nil when the
// key is known but has no value set.
type KeyValue struct {
	Key      string  `json:"key"`
	Readonly bool    `json:"readonly"`
	Value    *string `json:"value,omitempty"`
}

// GetConfigurationConf answers a GetConfigurationReq.
type GetConfigurationConf struct {
	ConfigurationKey []KeyValue `json:"configurationKey,omitempty"`
	UnknownKey       []string   `json:"unknownKey,omitempty"`
}

// MessageTrigger is the message a TriggerMessage asks for.
type MessageTrigger string

// The MessageTrigger values.
const (
	TriggerBootNotification              MessageTrigger = "BootNotification"
	TriggerDiagnosticsStatusNotification MessageTrigger = "DiagnosticsStatusNotification"
	TriggerFirmwareStatusNotification    MessageTrigger = "FirmwareStatusNotification"
	TriggerHeartbeat                     MessageTrigger = "Heartbeat"
	TriggerMeterValues                   MessageTrigger = "MeterValues"
	TriggerStatusNotification            MessageTrigger = "StatusNotification"
)

// TriggerMessageStatus answers a TriggerMessage.
type TriggerMessageStatus string

// The TriggerMessageStatus values.
const (
	TriggerAccepted       TriggerMessageStatus = "Accepted"
	TriggerRejected       TriggerMessageStatus = "Rejected"
	TriggerNotImplemented TriggerMessageStatus = "NotImplemented"
)

// TriggerMessageReq asks a charger to send a message now, for ConnectorId
// if set.
type TriggerMessageReq struct {
	RequestedMessage MessageTrigger `json:"requestedMessage"`
	ConnectorId      *int           `json:"connectorId,omitempty"`
}

// TriggerMessageConf answers a TriggerMessageReq.
type TriggerMessageConf struct {
	Status TriggerMessageStatus `json:"status"`
}

// ResetType says how to reset: Soft ends transactions cleanly first.
type ResetType string

// The ResetType values.
const (
	ResetHard ResetType = "Hard"
	ResetSoft ResetType = "Soft"
)

// ResetStatus answers a Reset.
type ResetStatus string

// The ResetStatus values.
const (
	ResetAccepted ResetStatus = "Accepted"
	ResetRejected ResetStatus = "Rejected"
)

// ResetReq asks a charger to reboot.
type ResetReq struct {
	Type ResetType `json:"type"`
}

// ResetConf answers a ResetReq.
type ResetConf struct {
	Status ResetStatus `json:"status"`
}

// UnlockStatus answers an UnlockConnector.
type UnlockStatus string

// The UnlockStatus values.
const (
	UnlockUnlocked     UnlockStatus = "Unlocked"
	UnlockFailed       UnlockStatus = "UnlockFailed"
	UnlockNotSupported UnlockStatus = "NotSupported"
)

// UnlockConnectorReq asks a charger to unlock a connector's cable.
type UnlockConnectorReq struct {
	ConnectorId int `json:"connectorId"`
}

// UnlockConnectorConf answers an UnlockConnectorReq.
type UnlockConnectorConf struct {
	Status UnlockStatus `json:"status"`
}
