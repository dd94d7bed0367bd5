"""riskdesk-installment: the installment repayment (分期还款) check as a riskdesk tool."""
