# The billing service reads invoices with a federation token (aws/sts/billing, or aws/creds/billing).
path "aws/+/billing" {
  capabilities = ["read", "update"]
}
