"""What the browser is told to enforce, and which proxy Relay believes: security headers on every
response, ProxyFix for ``RELAY_PROXY_FIX`` trusted hops, and CORS for the API (automation/web/cors.py).

Pages get a Content-Security-Policy that allows only Relay's own scripts, styles, fonts and connections
(no inline script, style or handler anywhere in the templates: they live in web/static), images from Relay
or ``data:`` URLs, and no framing; plus X-Frame-Options for browsers without ``frame-ancestors``, nosniff
and a same-origin Referrer-Policy so run and approval links never leak to other sites. API and webhook
answers are JSON for programs: nosniff is all they need.
"""

from __future__ import annotations

from flask import Flask, Response
from werkzeug.middleware.proxy_fix import ProxyFix

from automation.web.cors import init_cors
from automation.web.errors import is_api_request

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def init_security(app: Flask) -> None:
    hops = int(app.config["RELAY_PROXY_FIX"])
    if hops:
        # Only the last `hops` entries of each X-Forwarded-* header are believed; a client can prepend
        # anything it likes, but not get past the proxies that append.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    app.after_request(security_headers)
    init_cors(app)


def security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if not is_api_request():
        for name, value in PAGE_HEADERS.items():
            response.headers.setdefault(name, value)
    return response
