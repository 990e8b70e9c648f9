# The app's deploy job: staging credentials, never production's.
path "aws/creds/app-*" {
  capabilities = ["read"]
}

path "aws/creds/app-prod" {
  capabilities = ["deny"]
}
