"""OpenID Connect on top of the OAuth core (SPEC §10): keys, id_tokens, claims, prompts."""
