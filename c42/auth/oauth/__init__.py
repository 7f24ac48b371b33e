"""The OAuth 2.0 provider's protocol core (SPEC §5.3), framework-free.

One module per concern, mirroring the specifications: `server` (RFC 6749 + RFC 8414 metadata +
RFC 9207 `iss`), `grants` (RFC 6749 §4.1 / §6 with RFC 7636 PKCE), `endpoints` (RFC 7009
revocation, RFC 7662 introspection), `flow` (the authorization endpoint's decision: error page,
login, consent or redirect), one repository per artefact (`apps`, `codes`, `tokens`,
`consents`), `redirect_uris` (registration and matching, RFC 8252 §7.3) and `bearer` (access
token -> caller, for `c42.auth.authenticate`). Nothing here imports a web framework; the one
Starlette <-> Authlib adapter is `c42.web.oauth_adapter`.

Importing this package does not import Authlib: `bearer` is on the API's hot path.
"""
