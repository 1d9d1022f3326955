// Package ledger is evbill's chart of accounts and its posting rules: for
// each money event (a card capture, a wallet top-up or debit, a postpaid
// charge, a refund, a chargeback) the balanced evbill.LedgerEntry that
// records it. It does no I/O; the stores post what it builds.
//
// Amounts are integer minor units. A charge is split into net and VAT
// once, by one rule: the net is the CDR's total excluding VAT rounded half
// away from zero to the currency's minor unit, and the VAT is the charged
// total minus that net, so the parts always add up to what was charged. A
// partial refund takes VAT in the same proportion as the charge, rounded
// half away from zero, and the rest is net.
//
// Signs follow the ledger's convention: debits positive, credits negative.
package ledger

import (
	"fmt"
	"math/big"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/money"
)

// Accounts of the chart. Codes with a suffix are one account per gateway,
// driver, postpaid account or site.
const (
	// VATPayable is the VAT collected and owed to the tax authority.
	VATPayable = "vat_payable"
	// Chargebacks is money taken back by card disputes.
	Chargebacks = "chargebacks"
)

// GatewayClearing is money a gateway captured for the tenant and has not
// yet paid out (an asset).
func GatewayClearing(gateway string) string { return "gateway_clearing:" + gateway }

// DriverWallet is a driver's prepaid balance, owed to the driver (a
// liability).
func DriverWallet(driverID string) string { return "driver_wallet:" + driverID }

// Receivable is what a postpaid account owes until its invoice is paid (an
// asset).
func Receivable(accountID string) string { return "receivable:" + accountID }

// ChargingRevenue is a site's charging revenue, excluding VAT.
func ChargingRevenue(siteID string) string { return "charging_revenue:" + siteID }

// Refunds is what a site's revenue gave back, excluding VAT (a contra
// revenue, kept as an expense so revenue stays as charged).
func Refunds(siteID string) string { return "refunds:" + siteID }

// GatewayFees is what a gateway kept as fees (an expense).
func GatewayFees(gateway string) string { return "gateway_fees:" + gateway }

// Charge is an amount charged for a session, split into net and VAT.
type Charge struct {
	Currency string
	Total    int64 // charged, VAT included
	Net      int64 // excluding VAT
}

// VAT returns the VAT part of the charge.
func (c Charge) VAT() int64 { return c.Total - c.Net }

// ChargeOfCDR splits the amount a CDR charges by the package's rule.
func ChargeOfCDR(c evbill.CDR) (Charge, error) {
	cur, err := money.ParseCurrency(c.Currency)
	if err != nil {
		return Charge{}, evbill.Errorf(evbill.EINVALID, "CDR %s: %v", c.ID, err)
	}
	excl, err := money.ParseDecimal(c.TotalExclVAT)
	if err != nil {
		return Charge{}, evbill.Errorf(evbill.EINVALID, "CDR %s: total excluding VAT: %v", c.ID, err)
	}
	net, err := money.AmountFromDecimal(money.Round(excl, cur.Exponent()), cur)
	if err != nil {
		return Charge{}, evbill.Errorf(evbill.EINVALID, "CDR %s: total excluding VAT: %v", c.ID, err)
	}
	ch := Charge{Currency: cur.Code(), Total: c.AmountMinor, Net: net.Minor}
	if ch.Total < 0 || ch.Net < 0 || ch.Net > ch.Total {
		return Charge{}, evbill.Errorf(evbill.EINVALID, "CDR %s: charges %d with %d excluding VAT: not a charge", c.ID, ch.Total, ch.Net)
	}
	return ch, nil
}

// Part returns amount of the charge split into net and VAT, when before
// of it was already given back in earlier parts (0 < amount ≤ Total −
// before). The VAT of a part is the charge's VAT in proportion to what has
// been given back with it, minus what earlier parts took: rounded once per
// cumulative total, so parts that add up to the charge add up to its VAT
// exactly, however it is split.
func (c Charge) Part(before, amount int64) (Charge, error) {
	if before < 0 || amount <= 0 || amount > c.Total-before {
		return Charge{}, evbill.Errorf(evbill.EINVALID, "%d %s after %d is not a part of a charge of %d", amount, c.Currency, before, c.Total)
	}
	vat := c.vatUpTo(before+amount) - c.vatUpTo(before)
	return Charge{Currency: c.Currency, Total: amount, Net: amount - vat}, nil
}

// vatUpTo is the VAT in the first upTo of the charge.
func (c Charge) vatUpTo(upTo int64) int64 {
	if upTo == c.Total {
		return c.VAT()
	}
	return roundDiv(new(big.Int).Mul(big.NewInt(upTo), big.NewInt(c.VAT())), c.Total)
}

// roundDiv returns num/den rounded half away from zero; num ≥ 0, den > 0.
func roundDiv(num *big.Int, den int64) int64 {
	d := big.NewInt(den)
	q, r := new(big.Int).QuoRem(num, d, new(big.Int))
	if r.Lsh(r, 1).Cmp(d) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	return q.Int64()
}

// entry assembles an entry from postings, dropping zero lines (a 0 % VAT
// charge has no VAT line).
func entry(tenantID, key, kind, ref, desc string, ps ...evbill.Posting) evbill.LedgerEntry {
	e := evbill.LedgerEntry{TenantID: tenantID, Key: key, Kind: kind, Reference: ref, Description: desc}
	for _, p := range ps {
		if p.Amount != 0 {
			e.Postings = append(e.Postings, p)
		}
	}
	return e
}

func post(account, typ, currency string, amount int64) evbill.Posting {
	return evbill.Posting{Account: account, AccountType: typ, Currency: currency, Amount: amount}
}

// Entry kinds.
const (
	KindCardCaptured    = "card.captured"
	KindWalletDebited   = "wallet.debited"
	KindAccountCharged  = "account.charged"
	KindWalletTopUp     = "wallet.topped_up"
	KindRefund          = "cdr.refunded"
	KindDisputeOpened   = "dispute.opened"
	KindDisputeReversed = "dispute.won"
	KindGatewayFee      = "gateway.fee"
)

// sale records a charge for a session at siteID paid from the account
// debit (of type debitType): the debit takes the total; revenue and VAT
// take net and VAT.
func sale(tenantID, key, kind, ref, siteID, debit, debitType string, ch Charge) (evbill.LedgerEntry, error) {
	if ch.Total <= 0 {
		return evbill.LedgerEntry{}, evbill.Errorf(evbill.EINVALID, "ledger: %s %s: nothing to post for a charge of %d", kind, ref, ch.Total)
	}
	e := entry(tenantID, key, kind, ref, "",
		post(debit, debitType, ch.Currency, ch.Total),
		post(ChargingRevenue(siteID), evbill.AccountRevenue, ch.Currency, -ch.Net),
		post(VATPayable, evbill.AccountLiability, ch.Currency, -ch.VAT()),
	)
	return e, e.Check()
}

// CardCaptured records the capture of a session's charge through gateway
// (payment paymentID).
func CardCaptured(tenantID, paymentID, gateway, siteID string, ch Charge) (evbill.LedgerEntry, error) {
	return sale(tenantID, "capture:"+paymentID, KindCardCaptured, paymentID, siteID, GatewayClearing(gateway), evbill.AccountAsset, ch)
}

// WalletDebited records a session's charge (payment paymentID) taken from
// a driver's wallet.
func WalletDebited(tenantID, paymentID, driverID, siteID string, ch Charge) (evbill.LedgerEntry, error) {
	return sale(tenantID, "wallet_debit:"+paymentID, KindWalletDebited, paymentID, siteID, DriverWallet(driverID), evbill.AccountLiability, ch)
}

// AccountCharged records a session's charge (payment paymentID) posted to
// a postpaid account's receivable, for its invoice.
func AccountCharged(tenantID, paymentID, accountID, siteID string, ch Charge) (evbill.LedgerEntry, error) {
	return sale(tenantID, "account_charge:"+paymentID, KindAccountCharged, paymentID, siteID, Receivable(accountID), evbill.AccountAsset, ch)
}

// WalletToppedUp records a top-up (topUpID) of a driver's wallet paid
// through gateway.
func WalletToppedUp(tenantID, topUpID, gateway, driverID, currency string, amount int64) (evbill.LedgerEntry, error) {
	if amount <= 0 {
		return evbill.LedgerEntry{}, evbill.Errorf(evbill.EINVALID, "ledger: top-up %s of %d: a top-up is positive", topUpID, amount)
	}
	e := entry(tenantID, "topup:"+topUpID, KindWalletTopUp, topUpID, "",
		post(GatewayClearing(gateway), evbill.AccountAsset, currency, amount),
		post(DriverWallet(driverID), evbill.AccountLiability, currency, -amount))
	return e, e.Check()
}

// Refunded records refund refundID of amount of a session's charge ch at
// siteID, of which earlier refunds gave back before, paid back to the
// account credit (of type creditType): the gateway's clearing account for
// a card, the wallet for a wallet, the receivable for a postpaid account.
// Net and VAT go back in the charge's proportion (see Charge.Part).
func Refunded(tenantID, refundID, siteID, credit, creditType string, ch Charge, before, amount int64) (evbill.LedgerEntry, error) {
	part, err := ch.Part(before, amount)
	if err != nil {
		return evbill.LedgerEntry{}, fmt.Errorf("ledger: refund %s: %w", refundID, err)
	}
	e := entry(tenantID, "refund:"+refundID, KindRefund, refundID, "",
		post(Refunds(siteID), evbill.AccountExpense, ch.Currency, part.Net),
		post(VATPayable, evbill.AccountLiability, ch.Currency, part.VAT()),
		post(credit, creditType, ch.Currency, -part.Total))
	return e, e.Check()
}

// DisputeOpened records a chargeback (dispute disputeID) taking amount back
// through gateway.
func DisputeOpened(tenantID, disputeID, gateway, currency string, amount int64) (evbill.LedgerEntry, error) {
	e := entry(tenantID, "dispute:"+disputeID, KindDisputeOpened, disputeID, "",
		post(Chargebacks, evbill.AccountExpense, currency, amount),
		post(GatewayClearing(gateway), evbill.AccountAsset, currency, -amount))
	return e, e.Check()
}

// DisputeWon records the money of a won dispute coming back.
func DisputeWon(tenantID, disputeID, gateway, currency string, amount int64) (evbill.LedgerEntry, error) {
	e := entry(tenantID, "dispute_won:"+disputeID, KindDisputeReversed, disputeID, "",
		post(GatewayClearing(gateway), evbill.AccountAsset, currency, amount),
		post(Chargebacks, evbill.AccountExpense, currency, -amount))
	return e, e.Check()
}

// GatewayFee records a fee (feeID) a gateway kept.
func GatewayFee(tenantID, feeID, gateway, currency string, amount int64) (evbill.LedgerEntry, error) {
	e := entry(tenantID, "fee:"+feeID, KindGatewayFee, feeID, "",
		post(GatewayFees(gateway), evbill.AccountExpense, currency, amount),
		post(GatewayClearing(gateway), evbill.AccountAsset, currency, -amount))
	return e, e.Check()
}
