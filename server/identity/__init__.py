"""Single sign-on (OpenID Connect) and provisioning (SCIM 2.0) from the company's directory.

`modes` says which ways of signing in are open (it imports nothing from the services, so the
services may import it); `oidc` maps a provider's claims to an account, created just in time;
`scim` is the directory's provisioning API; `routes` is what the app mounts.
"""
