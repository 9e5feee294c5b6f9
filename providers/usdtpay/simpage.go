package usdtpay

import (
	"html/template"
	"net/http"
)

type payPageData struct {
	TransactionID, CrmNo, OrderNo, Amount, Currency, CustomerID, ReturnURL, USDT, Rate string
}

var payPage = template.Must(template.New("pay").Parse(`<!DOCTYPE html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>UsdtPay 支付 / Payment</title></head>
<body>
<h1>UsdtPay</h1>
<dl id="order" data-transaction-id="{{.TransactionID}}" data-order-no="{{.OrderNo}}" data-amount="{{.Amount}}" data-currency="{{.Currency}}" data-usdt="{{.USDT}}" data-rate="{{.Rate}}">
<dt>流水号 / Serial number</dt><dd>{{.TransactionID}}</dd>
<dt>商户号 / Merchant</dt><dd>{{.CrmNo}}</dd>
<dt>订单号 / Order number</dt><dd>{{.OrderNo}}</dd>
<dt>客户账号 / Account</dt><dd>{{.CustomerID}}</dd>
<dt>订单金额 / Amount</dt><dd>{{.Amount}} {{.Currency}}</dd>
{{- if .USDT}}
<dt>应付USDT / USDT to pay</dt><dd>{{.USDT}} USDT</dd>
<dt>汇率 / Rate</dt><dd>1 USDT = {{.Rate}} {{.Currency}}</dd>
{{- end}}
</dl>
<p>请完成USDT支付，支付成功后将自动入金。/ Complete the USDT payment; your deposit is credited automatically.</p>
<p><a href="{{.ReturnURL}}">返回商户 / Back to the merchant</a></p>
</body>
</html>
`))

var errorTemplate = template.Must(template.New("error").Parse(`<!DOCTYPE html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>UsdtPay 错误 / Error</title></head>
<body>
<h1>UsdtPay</h1>
<p id="error" data-code="{{.Code}}">{{.Message}}</p>
</body>
</html>
`))

// writeErrorPage answers an HTML error page: never a pay page.
func writeErrorPage(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = errorTemplate.Execute(w, struct{ Code, Message string }{code, msg})
}
