package gateway

import (
	"strings"

	"acpgw/payment"
)

// checkMaxAmount refuses an amount above the largest its currency takes
// (amounts.max, else payment.DefaultMaxAmount) with 400 invalid_request at
// param, the request's field that holds it: the request is well formed, but
// asks for more than the processors take and than the metrics count
// exactly. The error is payment.ErrAboveMaximum for errors.Is.
func checkMaxAmount(rt *Runtime, m payment.Money, param string) error {
	limits := rt.Config.Amounts.Max
	err := limits.Check(m)
	if err == nil {
		return nil
	}
	max := payment.Money{Amount: limits.Of(m.Currency), Currency: m.Currency}
	f, _ := formOf(err)
	e := f.errorf(err, "%s %d is above %d, the largest amount in minor units accepted in %s (%s)",
		strings.TrimPrefix(param, "$."), m.Amount, max.Amount, m.Currency, max)
	e.Param = param
	return e
}
