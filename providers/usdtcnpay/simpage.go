package usdtcnpay

import (
	"html/template"
	"io"
	"net/http"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// handlePayPage serves the hosted deposit page: where to transfer the CNY and
// a form to upload the transfer screenshot.
func (s *Simulator) handlePayPage(w http.ResponseWriter, r *http.Request) {
	o, ok := s.pageOrder(w, r)
	if !ok {
		return
	}
	s.renderPage(w, o, "")
}

// handleUpload takes the payer's screenshot: the charge moves from 待提交 to
// 待确认 and waits for review (the control API's pay, fail or expire).
func (s *Simulator) handleUpload(w http.ResponseWriter, r *http.Request) {
	o, ok := s.pageOrder(w, r)
	if !ok {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxRequestBody))
	note := "截图已提交，等待确认。"
	if o.Status == providers.StatusPending {
		if p, err := s.eng.Process(o.ID); err == nil {
			o = p
		}
	} else {
		note = "该订单当前无法上传截图。"
	}
	s.renderPage(w, o, note)
}

func (s *Simulator) pageOrder(w http.ResponseWriter, r *http.Request) (*sim.Order, bool) {
	id := r.PathValue("chargeNo")
	o, err := s.eng.FindOrder("", id)
	if err != nil || o.ID != id || o.Kind != providers.KindDeposit {
		http.Error(w, "订单不存在", http.StatusNotFound)
		return nil, false
	}
	return o, true
}

func (s *Simulator) renderPage(w http.ResponseWriter, o *sim.Order, note string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = payPage.Execute(w, map[string]any{
		"ChargeNo": o.ID, "OrderNo": o.OrderNo, "Amount": o.Amount.String(), "ZT": ztFor(o.Kind, o.Status),
		"CanUpload": o.Status == providers.StatusPending, "Note": note,
	})
}

var payPage = template.Must(template.New("pay").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>USDTCNPAY 收银台</title></head>
<body>
<h1>USDTCNPAY 收银台</h1>
<p>订单号：<span id="orderNo">{{.OrderNo}}</span>　平台单号：<span id="chargeNo">{{.ChargeNo}}</span></p>
<p>充值金额：<strong id="amount">{{.Amount}}</strong> CNY</p>
<p>状态：<span id="zt">{{.ZT}}</span></p>
<p>请转账至：模拟银行　账号 6222 0000 0000 0000　户名 USDTCNPAY 模拟收款人（请按订单金额精确转账）</p>
{{if .Note}}<p id="note">{{.Note}}</p>{{end}}
{{if .CanUpload}}<form method="post" action="{{.ChargeNo}}/upload" enctype="multipart/form-data">
<label>上传转账截图 <input type="file" name="screenshot"></label>
<button type="submit">提交</button>
</form>{{end}}
</body></html>
`))
