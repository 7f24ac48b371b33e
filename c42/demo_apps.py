"""The demo's OAuth apps (SPEC §3): `web` (confidential), `native` (public, loopback redirect),
`silent` (confidential, allowed to use silent OAuth); and one per flow of SPEC §11, each walked
through in docs/device-and-dpop.md: `device` (public, allowed the device grant: a TV or a
command line), `par` (confidential, authorization requests only pushed) and `dpop` (public,
loopback redirect, tokens only with a DPoP proof).

Their client ids and secrets are derived from the server key by `c42.demo.derive`, so every
run of `c42 demo` prints the same working values while only digests are stored. A rerun finds
each app by (service, name) and brings its secret digest and settings up to date.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from c42.auth.oauth import apps
from c42.models import Service

Derive = Callable[[str, int], str]

WEB_REDIRECTS = ["http://localhost:8080/code/", "http://127.0.0.1:8080/code/"]
NATIVE_REDIRECTS = ["http://127.0.0.1/callback", "http://[::1]/callback"]
SILENT_REDIRECTS = ["http://localhost:8080/silent/"]
DPOP_REDIRECTS = ["http://127.0.0.1/dpop-callback"]  # a mobile-style app with DPoP (RFC 9449)
NATIVE_ORIGINS = ["http://localhost:8080"]  # a JavaScript page served next to the web demo
DEVICE_REDIRECTS = ["http://127.0.0.1/device-callback"]  # unused by the grant; apps need one
PAR_REDIRECTS = ["http://localhost:8080/par/"]  # reached through a pushed request_uri


def seed_demo_apps(
    session: Session, service: Service, derive: Derive, server_key: str
) -> dict[str, Any]:
    specs = {
        "web": apps.AppSpec(service.id, "Demo web app", WEB_REDIRECTS),
        "native": apps.AppSpec(
            service.id,
            "Demo native app",
            NATIVE_REDIRECTS,
            public=True,
            cors_origins=NATIVE_ORIGINS,
        ),
        "silent": apps.AppSpec(service.id, "Demo silent app", SILENT_REDIRECTS, silent=True),
        "device": apps.AppSpec(  # RFC 8628
            service.id, "Demo device app", DEVICE_REDIRECTS, public=True, device=True
        ),
        "par": apps.AppSpec(
            service.id, "Demo PAR app", PAR_REDIRECTS, require_par=True
        ),  # RFC 9126
        "dpop": apps.AppSpec(
            service.id, "Demo DPoP app", DPOP_REDIRECTS, public=True, require_dpop=True
        ),
    }
    output: dict[str, Any] = {}
    for key, spec in specs.items():
        client_id = derive(f"app-{key}-client-id", 32)
        secret = None if spec.public else derive(f"app-{key}-client-secret", 64)
        app = apps.find_by_name(session, service.id, spec.name)
        if app is None:
            apps.create(session, server_key, spec, client_id=client_id, client_secret=secret)
        else:
            apps.check(spec)
            client_id = app.client_id
            app.redirect_uris = list(spec.redirect_uris)
            app.cors_origins = list(spec.cors_origins)
            app.is_public, app.allow_silent = spec.public, spec.silent
            app.allow_device, app.require_par = spec.device, spec.require_par
            app.require_dpop = spec.require_dpop
            if secret:
                apps.set_secret(app, server_key, secret)
        entry: dict[str, Any] = {"client_id": client_id, "redirect_uris": list(spec.redirect_uris)}
        if secret:
            entry["client_secret"] = secret
        output[key] = entry
    session.flush()
    return output
