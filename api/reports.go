package api

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"acpgw/gateway"
)

// authReports admits finance callers (config reports:) to the fee report.
func (s *Server) authReports(c *gin.Context) {
	id, ok := s.svc.Runtime().AuthenticateReports(bearer(c))
	if !ok {
		unauthorized(c, errUnauthorized)
		return
	}
	c.Set(ctxCaller, "reports:"+id)
	c.Next()
}

// feeReport answers GET /v1/reports/fees?from=&to=&group_by=&merchant=
// in JSON, or in CSV with format=csv or Accept: text/csv.
func (s *Server) feeReport(c *gin.Context) {
	q, err := gateway.ParseReportQuery(c.Query("from"), c.Query("to"), c.Query("group_by"), s.now())
	if err != nil {
		fail(c, err)
		return
	}
	q.MerchantID = c.Query("merchant")
	rep, err := s.svc.FeeReport(c.Request.Context(), q)
	if err != nil {
		fail(c, err)
		return
	}
	if c.Query("format") == "csv" || strings.Contains(c.GetHeader("Accept"), "text/csv") {
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Header("Content-Disposition", `attachment; filename="acpgw-fees.csv"`)
		c.Status(http.StatusOK)
		if err := rep.WriteCSV(c.Writer); err != nil {
			logError(c, err)
		}
		return
	}
	c.JSON(http.StatusOK, rep)
}
